"""The local target's state file: round trip, atomic replacement, serialised updates."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cd.errors import TargetError
from cd.rollout.local.statefile import (
    EndpointState,
    LocalState,
    ManagedProcess,
    ProcessRef,
    RouterState,
    StateFile,
    VariantState,
)
from tests.helpers import PROJECT_ROOT

SAMPLE = LocalState(
    router=RouterState(port=4100, process=ProcessRef(10, 555), log="logs/router.log"),
    endpoints={
        "ep": EndpointState(
            name="ep",
            config_name="local-0123",
            variants={
                "v1": VariantState("v1", 4101, ProcessRef(11, 556), 90.0, 1, "churn:abc", "local", 1, "l1"),
                "v2": VariantState("v2", 4102, ProcessRef(12, None), 10.0, 2, "churn:def", "local", 1, "l2"),
            },
            tags={"modelcd:desired": "2"},
        )
    },
    processes={"11": ManagedProcess("variant", 4101, ProcessRef(11, 556), "ep", "v1", "l1", ("serve", "x"))},
)


def test_state_round_trips_through_the_file(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path)
    state_file.update(lambda _: SAMPLE)
    assert state_file.read() == SAMPLE


def test_a_missing_state_file_reads_as_nothing_running(tmp_path: Path) -> None:
    assert StateFile(tmp_path / "absent").read() == LocalState()


def test_an_unreadable_state_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(TargetError) as caught:
        StateFile(tmp_path).read()
    assert str(caught.value).startswith(f"{tmp_path / 'state.json'}: unreadable local target state (")
    assert "modelcd local down" in str(caught.value)


def test_a_failed_update_leaves_the_previous_file_and_no_temp_file(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path)
    state_file.update(lambda _: SAMPLE)
    before = state_file.path.read_bytes()

    def broken(state: LocalState) -> LocalState:
        raise RuntimeError("change failed half-way")

    with pytest.raises(RuntimeError):
        state_file.update(broken)
    assert state_file.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.lock"]


def test_the_file_is_replaced_atomically_never_seen_half_written(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path)
    big = {f"key{i}": "x" * 200 for i in range(200)}  # ~50 kB per write: partial writes would show
    seen_bad: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                text = state_file.path.read_text()
            except FileNotFoundError:
                continue
            try:
                json.loads(text)
            except ValueError:
                seen_bad.append(text[-40:])

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(100):
        tags = {**big, "round": str(i)}

        def with_tags(s: LocalState, tags: dict[str, str] = tags) -> LocalState:
            return s.with_endpoint(EndpointState(name="ep", tags=tags))

        state_file.update(with_tags)
    done.set()
    thread.join()
    assert seen_bad == []
    assert state_file.read().endpoints["ep"].tags["round"] == "99"


INCREMENT = """
import sys
from dataclasses import replace
from pathlib import Path
from cd.rollout.local.statefile import EndpointState, StateFile
state_file = StateFile(Path(sys.argv[1]))
def bump(state):
    ep = state.endpoint("ep") or EndpointState(name="ep", tags={"n": "0"})
    return state.with_endpoint(replace(ep, tags={"n": str(int(ep.tags["n"]) + 1)}))
for _ in range(int(sys.argv[2])):
    state_file.update(bump)
"""


def test_concurrent_updates_from_several_processes_are_serialised_by_the_lock(tmp_path: Path) -> None:
    workers = [
        subprocess.Popen([sys.executable, "-c", INCREMENT, str(tmp_path), "50"], cwd=PROJECT_ROOT)
        for _ in range(4)
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    assert StateFile(tmp_path).read().endpoints["ep"].tags == {"n": "200"}
