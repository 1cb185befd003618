"""The `modelcd` process leaves without finalizing the interpreter, yet nothing observable is skipped:
its output, its exit code, the exit handlers, and threads still running."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import PROJECT_ROOT


def run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        check=False,
    )


def test_the_output_is_complete_and_exit_handlers_run() -> None:
    done = run(
        """
        import atexit, sys
        from cd.cli import entry
        atexit.register(lambda: print("handler ran"))
        print("x" * 100_000, end="")  # buffered, not yet written
        sys.argv = ["modelcd", "--version"]
        entry()
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("x" * 100_000) and "modelcd" in done.stdout
    assert done.stdout.rstrip().endswith("handler ran")


def test_a_failing_command_keeps_its_exit_code_and_message() -> None:
    done = run(
        """
        import os, sys, tempfile
        from cd.cli import entry
        os.chdir(tempfile.mkdtemp())
        sys.argv = ["modelcd", "validate"]
        entry()
        """
    )
    assert done.returncode == 1 and done.stderr.startswith("error: "), done.stderr


def test_a_usage_error_exits_2() -> None:
    done = run("import sys\nfrom cd.cli import entry\nsys.argv = ['modelcd', 'no-such-command']\nentry()")
    assert done.returncode == 2 and "No such command" in done.stderr


def test_a_thread_still_running_is_waited_for() -> None:
    done = run(
        """
        import sys, threading, time
        from cd.cli import entry
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread done", flush=True))).start()
        sys.argv = ["modelcd", "--version"]
        entry()
        """
    )
    assert done.returncode == 0 and done.stdout.rstrip().endswith("thread done"), done.stdout


def test_under_a_profiler_the_profile_is_still_written(tmp_path: Path) -> None:
    out = tmp_path / "modelcd.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "cd", "--version"],
        capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0
