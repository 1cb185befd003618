"""Interrupting `modelcd demo` mid-deploy leaves no serving process behind (its own file, so that it runs
beside the demo story on the other test worker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.demo.test_demo import alive_processes
from tests.helpers import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_interrupting_the_demo_leaves_no_stray_processes(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cd", "demo", "--workspace", str(workspace)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # as under a CI runner or a pytest-xdist worker: SIGINT ignored by the parent, which a child
        # inherits; the demo must still stop on it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deploying = threading.Event()

    def drain() -> None:  # read everything, always: a full pipe would block the demo
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "$ modelcd deploy" in line:
                deploying.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    deploying.wait(timeout=400)
    deadline = time.monotonic() + 120
    while not alive_processes(workspace) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)  # interrupted mid-deploy, as soon as the first deploy serves something
    assert alive_processes(workspace), "the first deploy should have started serving processes:\n" + "".join(
        lines[-30:]
    )
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # the demo dumps every thread's stack (faulthandler)
        time.sleep(3)
        proc.kill()
        reader.join(timeout=10)
        raise AssertionError("the demo did not stop after SIGINT:\n" + "".join(lines[-80:])) from None
    reader.join(timeout=10)
    output = "".join(lines)
    assert proc.returncode != 0 and "Done in" not in output, "the demo ran to its end instead of stopping"
    assert alive_processes(workspace) == []
