"""The rollout record round-trips through SageMaker-tag-sized strings."""

from __future__ import annotations

import re

import pytest

from cd.errors import RolloutError
from cd.rollout.record import PREFIX, REVISION, RolloutState, decode, encode, for_write, tag_safe, tag_text
from tests.rollout.conftest import image

STATE = RolloutState(
    model="churn",
    version=7,
    image=image(7),
    stable_version=6,
    phase="progressing",
    step_index=3,
    steps_hash="0123456789abcdef",
    started_at=1_700_000_000.5,
    step_started_at=1_700_000_100.25,
    window_start=1_700_000_050.0,
    git_sha="a" * 40,
    lease_owner="gh-123456789",
    lease_expires_at=1_700_003_600.0,
    inconclusive=2,
    reason="step 3/9: analysis Successful",
)


def test_encode_decode_round_trips() -> None:
    assert decode(encode(STATE)) == STATE


def test_a_write_expects_the_observed_revision_and_bumps_it() -> None:
    tags, expect = for_write(STATE, {**encode(STATE), REVISION: "41"})
    assert (expect, tags[REVISION]) == ("41", "42")


def test_a_record_written_before_revisions_reads_as_revision_0() -> None:
    old = {k: v for k, v in encode(STATE).items() if k != REVISION}
    assert decode(old).revision == 0  # type: ignore[union-attr]
    assert for_write(STATE, old)[1] == "0"


def test_first_deploy_has_no_stable_version() -> None:
    from dataclasses import replace

    state = replace(STATE, stable_version=None)
    assert decode(encode(state)) == state


def test_every_tag_fits_sagemaker_limits() -> None:
    for key, value in encode(STATE).items():
        assert key.startswith(PREFIX) and len(key) <= 128 and len(value) <= 256


def test_reasons_survive_the_tag_round_trip_with_their_punctuation() -> None:
    reason = "error rate 5.0% > 1.0% (n=40); p99 latency ≤ 2×"
    encoded = tag_safe(reason)
    assert re.fullmatch(r"[A-Za-z0-9 _.:/=+\-@]*", encoded)
    assert tag_text(encoded) == reason


def test_a_long_reason_is_cut_at_the_tag_limit_without_splitting_a_character() -> None:
    assert len(tag_safe("x" * 1000)) == 256
    encoded = tag_safe("%" * 100)
    assert len(encoded) <= 256
    assert tag_text(encoded) == "%" * (len(encoded) // 3)


def test_a_record_without_phase_is_no_record() -> None:
    assert decode({"Name": "x"}) is None


def test_unknown_phase_is_an_error_naming_the_tag() -> None:
    record = encode(STATE) | {"modelcd:phase": "dancing"}
    with pytest.raises(RolloutError, match="modelcd:phase has unknown value 'dancing'"):
        decode(record)


def test_missing_tag_is_an_error_naming_it() -> None:
    record = encode(STATE)
    del record["modelcd:step"]
    with pytest.raises(RolloutError, match="missing tag 'modelcd:step'"):
        decode(record)


def test_image_that_cannot_be_a_tag_is_refused() -> None:
    from dataclasses import replace

    with pytest.raises(RolloutError, match="field 'image'"):
        encode(replace(STATE, image="repo:tag,with,commas"))


def test_the_rollout_record_charts_the_candidates_share_over_time() -> None:
    from cd.rollout.controller import Decision, RolloutReport

    report = RolloutReport("ep", "churn", 2, "succeeded", "done")
    report.decisions = [
        Decision(100.0, "RecordState", "start"),
        Decision(110.0, "ShiftTraffic", "10%", 0, {"v1": 90.0, "v2": 10.0}),
        Decision(400.0, "ShiftTraffic", "50%", 3, {"v1": 50.0, "v2": 50.0}),
        Decision(700.0, "Finalize", "alone", None, {"v2": 100.0}),
    ]
    md = report.to_markdown()
    assert (
        '    x-axis ["10s", "300s", "600s"]\n    y-axis "percent" 0 --> 100\n    line [10, 50, 100]\n```'
        in md
    )
    assert RolloutReport("ep", "churn", 2).timeline() == []


def test_an_experiments_challengers_and_the_version_a_challenger_outvoted_round_trip() -> None:
    from dataclasses import replace

    state = replace(STATE, challengers=(8, 9), outvoted=5)
    tags = encode(state)
    assert (tags[PREFIX + "challengers"], tags[PREFIX + "outvoted"]) == ("8 9", "5")
    assert decode(tags) == state


def test_a_record_written_before_challengers_existed_has_none() -> None:
    old = {k: v for k, v in encode(STATE).items() if k not in (PREFIX + "challengers", PREFIX + "outvoted")}
    assert (decode(old).challengers, decode(old).outvoted) == ((), None)  # type: ignore[union-attr]


def test_a_challengers_tag_that_is_not_versions_is_refused() -> None:
    with pytest.raises(RolloutError, match=r"tag modelcd:challengers is not a list of versions: 'v8'"):
        decode({**encode(STATE), PREFIX + "challengers": "v8"})
