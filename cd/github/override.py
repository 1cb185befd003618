"""`/modelcd override <reason>`: parse the comment and decide whether its author may override. Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

COMMAND = "/modelcd override"
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})
_COMMAND_RE = re.compile(r"^\s*/modelcd\s+override(?:\s+(?P<reason>.*))?$", re.DOTALL)
_STATUS_RE = re.compile(r"^overridden by @(?P<user>[A-Za-z0-9-]+(?:\[bot\])?): (?P<reason>.*)$", re.DOTALL)


@dataclass(frozen=True)
class OverrideRequest:
    reason: str


@dataclass(frozen=True)
class OverrideDecision:
    allowed: bool
    why: str  # for a refusal: the reply; for an approval: who authorized it through what


def parse_override_comment(body: str) -> OverrideRequest | None:
    """The request in a comment whose first line is `/modelcd override <reason>`; None if it is not one.

    The reason is the rest of the comment, whitespace-collapsed; an empty reason is still a request
    (refused by `decide_override`, so the commenter learns why).
    """
    match = _COMMAND_RE.match(body.strip())
    if match is None:
        return None
    reason = " ".join((match.group("reason") or "").split())
    return OverrideRequest(reason=reason)


GRANT_MARKER = "<!-- modelcd:override-granted "


def grant_record(by: str, reason: str, at: str, url: str) -> str:
    """The hidden line modelcd's reply carries when it grants an override: the reason as it was then.
    The requester can edit their comment later; this reply is the bot's, so the reason stays frozen."""
    data = json.dumps({"by": by, "reason": reason, "at": at, "url": url}, sort_keys=True)
    escaped = data.replace("--", "\\u002d\\u002d")  # JSON still, and never a comment's end
    return f"{GRANT_MARKER}{escaped} -->"


def parse_grant_record(body: str) -> dict[str, str] | None:
    """The grant `grant_record` wrote into a reply, or None."""
    start = body.find(GRANT_MARKER)
    if start < 0:
        return None
    end = body.find(" -->", start)
    try:
        data = json.loads(body[start + len(GRANT_MARKER) : end])
    except ValueError:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("by", "reason", "url")):
        return None
    return {k: str(v) for k, v in data.items()}


def override_status_description(user: str, reason: str) -> str:
    """The description an overridden gate status carries (GitHub keeps its first 140 characters)."""
    return f"overridden by @{user}: {reason}"


def parse_override_status(description: str | None) -> tuple[str, str] | None:
    """(user, reason) from an overridden gate status's description; None for any other description."""
    match = _STATUS_RE.match(description or "")
    return (match.group("user"), match.group("reason")) if match else None


def decide_override(
    request: OverrideRequest,
    *,
    commenter: str,
    pr_author: str,
    permission: str,
    required_teams: Iterable[str],
    team_members: Mapping[str, frozenset[str]],
) -> OverrideDecision:
    """May `commenter` override the failed gates of this PR?

    They must not be the PR's author, must have write access to the repository, and when the affected
    environments' approval policies name teams, must belong to one of them. A reason is required.
    """
    teams = tuple(dict.fromkeys(required_teams))
    if not request.reason:
        return OverrideDecision(False, f"an override needs a reason: `{COMMAND} <reason>`")
    if commenter.lower() == pr_author.lower():
        return OverrideDecision(
            False, f"@{commenter} opened this PR; the author cannot override its own gates"
        )
    if permission not in WRITE_PERMISSIONS:
        return OverrideDecision(
            False,
            f"@{commenter} has {permission or 'no'} access to this repository; overriding needs write access",
        )
    if teams:
        member_of = [t for t in teams if commenter.lower() in team_members.get(t, frozenset())]
        if not member_of:
            return OverrideDecision(
                False,
                f"@{commenter} is not a member of {' or '.join(teams)}, the approvers of the affected environments",
            )
        return OverrideDecision(True, f"@{commenter} ({member_of[0]})")
    return OverrideDecision(True, f"@{commenter} ({permission} access)")
