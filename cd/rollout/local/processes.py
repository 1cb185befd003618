"""Detached server processes on loopback: start, wait until ready, check, stop.

Each process runs in its own session (so its own process group), with stdout/stderr in a log file, and
outlives the command that started it. A process is identified by its pid *and* the kernel's start time
for that pid, so a recycled pid is never mistaken for our server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from cd.errors import TargetError
from cd.rollout.local.statefile import ProcessRef

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None
    # "pid (comm) state ppid ..." where comm may contain spaces and parentheses
    return [raw[: raw.index(" ")], *raw[raw.rindex(")") + 2 :].split()]


def process_start_time(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return int(stat[20]) if stat is not None and len(stat) > 20 else None


def _reap_if_child(pid: int) -> None:
    """If `pid` is our own exited child, collect it so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(proc: ProcessRef) -> bool:
    """True when the process exists, is not a zombie, and is the one we started (same start time)."""
    _reap_if_child(proc.pid)
    try:
        os.kill(proc.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process now holds that pid
    stat = _proc_stat(proc.pid)
    if stat is None:
        return True  # no /proc: trust kill(0)
    if stat[1] in ("Z", "X"):
        return False
    return proc.start_time is None or int(stat[20]) == proc.start_time


def start_detached(
    argv: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> ProcessRef:
    """Start `argv` in a new session with output appended to `log_path`; return at once."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(log_path, "ab") as log:
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise TargetError(f"could not start {argv[0]!r}: {exc}") from exc
    pid = popen.pid
    # The Popen object is dropped on purpose: the process must outlive us. `is_alive` reaps it if it
    # exits while we still run.
    return ProcessRef(pid=pid, start_time=process_start_time(pid))


def stop(proc: ProcessRef, *, grace_seconds: float = 10.0) -> None:
    """SIGTERM the process group, wait up to `grace_seconds`, then SIGKILL it. Idempotent.

    Never signals our own process group (a router run in-process by a test is registered too).
    """
    if is_ourselves(proc.pid):
        return
    if not is_alive(proc):
        if not _pid_exists(proc.pid):
            # The leader is gone and its pid is not reused (the kernel does not hand out a pid that
            # still names a process group), so anything left in the group is ours: its workers.
            _kill_group(proc.pid, signal.SIGKILL)
        return
    _kill_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not is_alive(proc):
            break
        time.sleep(0.05)
    _kill_group(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while is_alive(proc) and time.monotonic() < deadline:
        time.sleep(0.05)
    if is_alive(proc):
        raise TargetError(f"process {proc.pid} did not stop after SIGKILL")


def is_ourselves(pid: int) -> bool:
    """`pid` is this process or in this process's group."""
    if pid == os.getpid():
        return True
    try:
        return os.getpgid(pid) == os.getpgrp()
    except (ProcessLookupError, PermissionError):
        return False


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids whose process group is `pgid` (Linux /proc; empty elsewhere)."""
    members = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(int(entry.name))
        if stat is not None and len(stat) > 4 and stat[1] not in ("Z", "X") and int(stat[3]) == pgid:
            members.append(int(entry.name))
    return members


def ping(url: str, *, timeout: float = 2.0) -> bool:
    """True when `GET {url}/ping` answers 200."""
    import urllib3

    try:
        response = urllib3.request("GET", f"{url}/ping", timeout=timeout, retries=False)
    except urllib3.exceptions.HTTPError:
        return False
    return response.status == 200


def wait_ready(
    proc: ProcessRef, url: str, *, timeout: float, log_path: Path | None = None, interval: float = 0.1
) -> None:
    """Poll `GET {url}/ping` until 200; fail early if the process dies, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if ping(url, timeout=min(2.0, max(0.1, deadline - time.monotonic()))):
            return
        if not is_alive(proc):
            raise TargetError(f"server process {proc.pid} exited before it was ready{_log_tail(log_path)}")
        if time.monotonic() >= deadline:
            raise TargetError(
                f"server process {proc.pid} at {url} did not answer GET /ping with 200 "
                f"within {timeout:g}s{_log_tail(log_path)}"
            )
        time.sleep(interval)


def _log_tail(log_path: Path | None, lines: int = 20) -> str:
    if log_path is None:
        return ""
    try:
        tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"; last lines of {log_path}:\n" + "\n".join(tail) if tail else f"; {log_path} is empty"
