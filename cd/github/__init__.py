"""GitHub: the Actions runtime (event, outputs, annotations, summary) and API calls (comments, statuses,
reviews, pull requests, deployments, issues)."""
