"""The rollout record files are only ever appended to: a later run never erases an earlier one's evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cd.errors import RolloutError
from cd.rollout.controller import Decision, RolloutReport
from cd.rollout.deploy import write_record_files


def report(outcome: str, *actions: str) -> RolloutReport:
    r = RolloutReport("ep", "churn", 4, outcome=outcome, message=f"{outcome} message")  # type: ignore[arg-type]
    r.decisions = [Decision(1_700_000_000.0 + i, a, f"{a} #{i}") for i, a in enumerate(actions)]
    return r


def test_a_refused_rerun_keeps_the_rollbacks_decisions(tmp_path: Path) -> None:
    write_record_files(
        tmp_path, "staging", report("rolled_back", "RecordState", "ShiftTraffic", "RestoreStable")
    )
    json_path, md_path = write_record_files(tmp_path, "staging", report("refused", "Refuse"))
    data = json.loads(json_path.read_text())
    assert [d["action"] for d in data["decisions"]] == [
        "RecordState",
        "ShiftTraffic",
        "RestoreStable",
        "Refuse",
    ]
    assert data["runs"] == [
        {"outcome": "rolled_back", "message": "rolled_back message", "decisions": 3},
        {"outcome": "refused", "message": "refused message", "decisions": 1},
    ]
    assert data["outcome"] == "refused"
    assert md_path.read_text().count("### Rollout of `churn` v4") == 2


def test_a_record_written_before_appending_counts_as_one_run(tmp_path: Path) -> None:
    old = report("rolled_back", "RestoreStable")
    (tmp_path / "staging-churn-v4.json").write_text(old.to_json())
    json_path, _ = write_record_files(tmp_path, "staging", report("refused", "Refuse"))
    assert [r["outcome"] for r in json.loads(json_path.read_text())["runs"]] == ["rolled_back", "refused"]


def test_an_unreadable_earlier_record_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "staging-churn-v4.json"
    path.write_text("{ half a rec")
    with pytest.raises(RolloutError, match=r"staging-churn-v4\.json: the earlier rollout record is not JSON"):
        write_record_files(tmp_path, "staging", report("refused", "Refuse"))
    assert path.read_text() == "{ half a rec"
