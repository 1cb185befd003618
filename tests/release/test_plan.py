"""Pure release decisions: asset actions, deployment history, the state block in the notes."""

from __future__ import annotations

from pathlib import Path

from cd.release.model import ExistingAsset, HistoryEntry, WantedAsset
from cd.release.plan import (
    decide_asset_actions,
    digest_hex,
    merge_history,
    parse_state,
    sha256sums,
    state_block,
)

WANTED = WantedAsset("churn-v2.bento", Path("churn-v2.bento"), 10, "f" * 64, "application/octet-stream")


def existing(size: int = 10, state: str = "uploaded", sha256: str | None = "f" * 64) -> ExistingAsset:
    return ExistingAsset("1", "churn-v2.bento", size, state, sha256)


def test_missing_asset_is_uploaded() -> None:
    [action] = decide_asset_actions([], [WANTED], {})

    assert (action.kind, action.reason) == ("upload", "missing")


def test_complete_asset_with_same_checksum_is_skipped() -> None:
    [action] = decide_asset_actions([existing()], [WANTED], {})

    assert (action.kind, action.reason) == ("skip", "present with the same checksum")


def test_partial_upload_is_replaced() -> None:
    [action] = decide_asset_actions([existing(size=4, state="open", sha256=None)], [WANTED], {})

    assert (action.kind, action.reason) == ("replace", "partial upload (state open)")


def test_size_mismatch_is_replaced() -> None:
    [action] = decide_asset_actions([existing(size=9)], [WANTED], {})

    assert (action.kind, action.reason) == ("replace", "size 9 != 10")


def test_checksum_mismatch_is_replaced() -> None:
    [action] = decide_asset_actions([existing(sha256="0" * 64)], [WANTED], {})

    assert (action.kind, action.reason) == ("replace", "checksum differs")


def test_without_a_digest_the_recorded_checksum_decides() -> None:
    same = decide_asset_actions([existing(sha256=None)], [WANTED], {"churn-v2.bento": "f" * 64})
    unknown = decide_asset_actions([existing(sha256=None)], [WANTED], {})

    assert [a.kind for a in same] == ["skip"]
    assert [(a.kind, a.reason) for a in unknown] == [("replace", "checksum unknown")]


def test_history_gains_one_entry_per_environment_and_commit() -> None:
    staging = HistoryEntry("staging", "2025-01-01T00:00:00Z", "a" * 40)
    again = HistoryEntry("staging", "2025-01-02T00:00:00Z", "a" * 40)
    production = HistoryEntry("production", "2025-01-03T00:00:00Z", "a" * 40)

    history = merge_history(merge_history(merge_history((), staging), again), production)

    assert history == (staging, production)


def test_state_block_round_trips_through_a_release_body() -> None:
    history = (HistoryEntry("staging", "2025-01-01T00:00:00Z", "a" * 40, "https://run"),)
    body = f"# notes\n\ntext\n\n{state_block(history, {'b.json': '1' * 64})}\n"

    assert parse_state(body) == (history, {"b.json": "1" * 64})


def test_a_body_without_state_has_no_history() -> None:
    assert parse_state("edited by hand") == ((), {})
    assert parse_state("<!-- modelcd:release {not json} -->") == ((), {})


def test_sha256sums_is_in_sha256sum_format_sorted_by_name() -> None:
    assert sha256sums({"b": "2" * 64, "a": "1" * 64}) == f"{'1' * 64}  a\n{'2' * 64}  b\n"


def test_digest_hex_only_understands_sha256() -> None:
    assert (digest_hex("sha256:abc"), digest_hex("sha512:abc"), digest_hex(None)) == ("abc", None, None)
