"""GitHub: the REST API adapter (`cd.github.api`), its settings and rate-limit handling; the Actions
runtime (`cd.github.actions`: event, outputs, annotations, summary); and the PR experience built on
them (sticky comment, statuses, approvals, overrides). Nothing here imports github3 at module level."""
