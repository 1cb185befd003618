"""GitHub: the REST API adapter (`cd.github.api`), its settings and rate-limit handling; the Actions
runtime lives alongside. Nothing here imports github3 at module level."""
