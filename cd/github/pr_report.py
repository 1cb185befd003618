"""Publishing the PR report: the one sticky comment (found again by its hidden marker) and the statuses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from cd.errors import GitHubError
from cd.github.api import CommentInfo, GitHubClient
from cd.github.comment import STICKY_MARKER, CommitStatus

ACTIONS_BOT = "github-actions[bot]"
UpsertResult = Literal["created", "updated", "unchanged"]


def token_login(client: GitHubClient) -> str:
    """Who our comments are from: the token's user, or the Actions bot for an installation token
    (GITHUB_TOKEN cannot read /user)."""
    try:
        return client.authenticated_user()
    except GitHubError:
        return ACTIONS_BOT


def find_sticky(comments: Sequence[CommentInfo], author: str) -> CommentInfo | None:
    """The oldest comment by `author` carrying the marker (someone else quoting the marker is ignored)."""
    for comment in comments:
        if STICKY_MARKER in comment.body and comment.user.lower() == author.lower():
            return comment
    return None


def upsert_sticky_comment(
    client: GitHubClient, pr_number: int, body: str
) -> tuple[UpsertResult, CommentInfo]:
    """Create the sticky comment, or update it in place; never a second one."""
    if STICKY_MARKER not in body:
        raise ValueError("a sticky comment body must carry the marker")
    existing = find_sticky(client.issue_comments(pr_number), token_login(client))
    if existing is None:
        return "created", client.create_comment(pr_number, body)
    if existing.body.strip() == body.strip():
        return "unchanged", existing
    return "updated", client.edit_comment(existing.id, body)


def publish_statuses(client: GitHubClient, sha: str, statuses: Sequence[CommitStatus]) -> None:
    for status in statuses:
        client.create_status(sha, status.state, status.context, status.description, status.target_url)
