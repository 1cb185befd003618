"""Releases: one GitHub release per model version (tag `<model>-v<N>`), notes from jinja2 templates,
assets with checksums; a local directory publisher as the embedded default. See docs/releases.md."""
