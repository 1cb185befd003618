"""The local target survives what happens to processes and files: a router restarted keeps its address,
and `local down` works whatever the state file holds."""

from __future__ import annotations

import os
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from cd.errors import TargetError
from cd.rollout.local import processes
from cd.rollout.local.statefile import StateFile
from cd.rollout.local.target import LocalEndpoints
from cd.rollout.target import VariantSpec
from tests.helpers import run_modelcd

EP = "modelcd-test-churn"
V1 = VariantSpec(model_version=1, image="fake:ok")


def kill_router(state_dir: Path) -> int:
    router = StateFile(state_dir).read().router
    assert router is not None
    os.kill(router.process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes.is_alive(router.process) and time.monotonic() < deadline:
        time.sleep(0.05)
    return router.port


def bind_when_free(sock: socket.socket, port: int) -> None:
    """Bind `port` once the killed router's last connections on it have closed (a few seconds at most)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            sock.bind(("127.0.0.1", port))
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def invoke(port: int) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/endpoints/{EP}/invocations", data=b"[{}]")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.status)


def test_a_restarted_router_keeps_its_port(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(EP, [V1], {"v1": 100.0})
    port = kill_router(state_dir)
    target.set_weights(EP, {"v1": 100.0})  # any change brings the router back
    router = StateFile(state_dir).read().router
    assert router is not None and router.port == port
    assert invoke(port) == 200  # clients keep the address they had


def test_a_router_port_taken_meanwhile_is_a_clear_error(
    target: LocalEndpoints, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cd.rollout.local import runtime

    monkeypatch.setattr(runtime, "PORT_RELEASE_SECONDS", 0.5)
    target.apply_variants(EP, [V1], {"v1": 100.0})
    port = kill_router(state_dir)
    with socket.socket() as squatter:
        squatter.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # past the dead router's closing sockets
        bind_when_free(squatter, port)
        squatter.listen()
        with pytest.raises(TargetError, match=f"router's port {port} .* is taken by another process"):
            target.set_weights(EP, {"v1": 100.0})


def test_down_stops_everything_when_the_state_file_is_truncated(
    target: LocalEndpoints, state_dir: Path, tmp_path: Path
) -> None:
    target.apply_variants(EP, [V1, VariantSpec(2, "fake:ok")], {"v1": 50.0, "v2": 50.0})
    refs = [p.process for p in StateFile(state_dir).read().processes.values()]
    assert len(refs) == 3
    state = StateFile(state_dir).path
    state.write_text(state.read_text()[:40])  # a crash, a full disk, a bad edit
    status = run_modelcd("local", "status", "--state-dir", str(state_dir), cwd=tmp_path)
    assert status.returncode == 1 and "unreadable local target state" in status.stderr
    down = run_modelcd("local", "down", "--state-dir", str(state_dir), cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert down.stdout.startswith(f"{state_dir}: stopped 3 processes")
    assert [processes.is_alive(r) for r in refs] == [False, False, False]
    assert [processes.group_members(r.pid) for r in refs] == [[], [], []]
    assert [p.name for p in state_dir.glob("state.json.unreadable-*")]  # kept for a look
    assert StateFile(state_dir).read().processes == {}


def test_down_stops_processes_whose_state_file_was_deleted(target: LocalEndpoints, state_dir: Path) -> None:
    from cd.rollout.local.runtime import down

    target.apply_variants(EP, [V1], {"v1": 100.0})
    refs = [p.process for p in StateFile(state_dir).read().processes.values()]
    StateFile(state_dir).path.unlink()
    assert len(down(state_dir)) == 2
    assert [processes.is_alive(r) for r in refs] == [False, False]
