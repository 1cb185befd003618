"""Files copied verbatim into every Bento's build context (see `cd.package.context`)."""
