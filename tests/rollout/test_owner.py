"""Lease owners: one per run, and when a holder is known to have ended."""

from __future__ import annotations

import pytest

from cd.rollout.owner import default_owner, holder_is_gone

GH = {"GITHUB_RUN_ID": "77", "GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ATTEMPT": "2"}


def test_the_actions_owner_names_the_run_and_its_attempt() -> None:
    assert default_owner(GH) == "gh:acme/models:77:2"


def test_two_attempts_of_one_run_are_two_owners() -> None:
    assert default_owner(GH) != default_owner({**GH, "GITHUB_RUN_ATTEMPT": "3"})


def test_outside_actions_the_owner_is_this_process() -> None:
    import os

    assert default_owner({}).endswith(f":{os.getpid()}")


def never(_pid: int) -> bool:
    return False


def always(_pid: int) -> bool:
    return True


@pytest.mark.parametrize(
    ("holder", "me", "running", "gone"),
    [
        ("gh:acme/models:77:1", "gh:acme/models:77:2", always, True),  # an earlier attempt has ended
        ("gh:acme/models:77:2", "gh:acme/models:77:2", never, False),  # myself
        ("gh:acme/models:77:3", "gh:acme/models:77:2", never, False),  # a later attempt
        ("gh:acme/models:76:1", "gh:acme/models:77:1", never, False),  # another run: wait for its lease
        ("gh:acme/other:77:1", "gh:acme/models:77:2", never, False),  # another repository
        ("ann@box:100", "ann@box:200", never, True),  # a dead process on this host
        ("ann@box:100", "ann@box:200", always, False),  # a live one
        ("ann@box:100", "bob@box:200", never, False),  # another user's process: cannot tell
        ("ann@elsewhere:100", "ann@box:200", never, False),  # another host: cannot tell
        ("oncall", "ann@box:200", never, False),  # a name modelcd did not make
        ("ann@box:100", "gh:acme/models:77:1", never, False),
    ],
)
def test_holder_is_gone(holder: str, me: str, running: object, gone: bool) -> None:
    assert holder_is_gone(holder, me, running) is gone  # type: ignore[arg-type]
