"""`modelcd local status` and `modelcd local down`, run as the real CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from cd.rollout.local import processes
from cd.rollout.local.statefile import LocalState, StateFile
from cd.rollout.local.target import LocalEndpoints
from cd.rollout.record import encode
from cd.rollout.target import VariantSpec
from tests.helpers import run_modelcd
from tests.rollout.test_record import STATE

EP = "modelcd-test-churn"


def started_pids(state_dir: Path) -> list[int]:
    state = StateFile(state_dir).read()
    return sorted(p.process.pid for p in state.processes.values())


def test_status_lists_router_variants_weights_and_record(
    target: LocalEndpoints, state_dir: Path, tmp_path: Path
) -> None:
    target.apply_variants(
        EP, [VariantSpec(1, "fake:ok"), VariantSpec(2, "fake:ok")], {"v1": 90.0, "v2": 10.0}
    )
    target.write_record(EP, {"modelcd:step": "2"})
    state = StateFile(state_dir).read()
    assert state.router is not None
    v1, v2 = state.endpoints[EP].variants["v1"], state.endpoints[EP].variants["v2"]
    result = run_modelcd("local", "status", "--state-dir", str(state_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"state: {state_dir}",
        f"  router: http://127.0.0.1:{state.router.port} (up)",
        f"  {EP} v1: weight 90, port {v1.port}, pid {v1.process.pid} running, fake:ok",
        f"  {EP} v2: weight 10, port {v2.port}, pid {v2.process.pid} running, fake:ok",
        f"  {EP} record: modelcd:step=2",
    ]


def test_status_shows_a_rollout_record_with_readable_times(
    target: LocalEndpoints, state_dir: Path, tmp_path: Path
) -> None:
    target.apply_variants(EP, [VariantSpec(1, "fake:ok")], {"v1": 100.0})
    state = replace(
        STATE,
        version=2,
        stable_version=1,
        step_index=1,
        lease_owner="ci-run-7",
        lease_expires_at=1_764_000_600.0,
        reason="step 2/9: error rate 0.5% (n=40)",
    )
    target.write_record(EP, encode(state))
    result = run_modelcd("local", "status", "--state-dir", str(state_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = result.stdout.splitlines()[-1]
    assert line.startswith(
        f"  {EP} rollout v2 (stable v1): progressing, steps done: 1, lease ci-run-7 until 2025-11-24T16:10:00Z ("
    )
    assert line.endswith("; step 2/9: error rate 0.5% (n=40)")
    assert "1764000600" not in result.stdout


def test_status_as_json(target: LocalEndpoints, state_dir: Path, tmp_path: Path) -> None:
    target.apply_variants(EP, [VariantSpec(1, "fake:ok")], {"v1": 100.0})
    result = run_modelcd("local", "status", "--state-dir", str(state_dir), "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [report] = json.loads(result.stdout)
    assert report["router"]["up"] is True
    assert [(p["role"], p["variant"], p["alive"], p["weight"]) for p in report["processes"]] == [
        ("router", "", True, None),
        ("variant", "v1", True, 100.0),
    ]


def test_status_when_nothing_runs(tmp_path: Path) -> None:
    result = run_modelcd("local", "status", "--state-dir", str(tmp_path / "none"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"state: {tmp_path / 'none'}", "  nothing running"]


def test_down_stops_every_process_and_leaves_none_behind(
    target: LocalEndpoints, state_dir: Path, tmp_path: Path
) -> None:
    target.apply_variants(
        EP, [VariantSpec(1, "fake:ok"), VariantSpec(2, "fake:stall")], {"v1": 50.0, "v2": 50.0}
    )
    refs = [p.process for p in StateFile(state_dir).read().processes.values()]
    assert len(refs) == 3 and all(processes.is_alive(r) for r in refs)
    result = run_modelcd("local", "down", "--state-dir", str(state_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{state_dir}: stopped 3 processes (")
    assert [processes.is_alive(r) for r in refs] == [False, False, False]
    assert [processes.group_members(r.pid) for r in refs] == [[], [], []]  # no worker left in any group
    assert StateFile(state_dir).read() == LocalState()
    again = run_modelcd("local", "down", "--state-dir", str(state_dir), cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == f"{state_dir}: stopped 0 processes\n"


def test_down_in_a_broken_checkout_uses_the_default_state_dir(
    target: LocalEndpoints, state_dir: Path, tmp_path: Path
) -> None:
    target.apply_variants(EP, [VariantSpec(1, "fake:ok")], {"v1": 100.0})
    repo = tmp_path / "broken-repo"
    (repo / "environments").mkdir(parents=True)
    (repo / "environments" / "staging.yaml").write_text("target: [unclosed\n")
    (repo / ".modelcd").mkdir(parents=True)
    (repo / ".modelcd" / "local").symlink_to(state_dir)
    result = run_modelcd("local", "down", cwd=repo / "environments")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{repo / '.modelcd' / 'local'}: stopped 2 processes (")
    assert started_pids(state_dir) == []


def test_down_outside_a_repository_says_what_it_looked_for(tmp_path: Path) -> None:
    result = run_modelcd("local", "down", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: not inside a modelcd repository: looked for an environments/ directory in {tmp_path}"
    )
    assert "--state-dir" not in result.stdout
