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


def port_is_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:`port` now (as the router does, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def port_frees(port: int, *, within: float) -> bool:
    """Whether `port` is free, or becomes free within `within` seconds (a stopped server's socket)."""
    deadline = time.monotonic() + within
    while not port_is_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def stable_port(key: str, *, span: int = 10_000) -> int:
    """A free port for a long-lived address (the router's), below the kernel's ephemeral range, picked
    from `key` (a state directory): the same key gets the same port while it is free. A port inside
    the ephemeral range would be handed out as the source port of some outgoing connection as soon as
    its server stops, and a restart could not bind it again."""
    import hashlib

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    first = max(1024, low - span)
    if low - first < 100:
        return free_port()
    start = int(hashlib.sha256(key.encode()).hexdigest(), 16) % (low - first)
    for i in range(low - first):
        port = first + (start + i) % (low - first)
        if port_is_free(port):
            return port
    return free_port()


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


# Every process the local target starts carries its state directory in this variable, and so do the
# workers it forks: `local down` finds them by it even when the state file is lost or unreadable.
MARKER = "MODELCD_LOCAL_STATE"


def start_detached(
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    marker: Path | None = None,
) -> ProcessRef:
    """Start `argv` in a new session with output appended to `log_path`; return at once. `marker`: the
    state directory the process belongs to (see `MARKER`)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    if marker is not None:
        full_env[MARKER] = str(marker.resolve())
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


def marked(state_dir: Path) -> tuple[ProcessRef, ...]:
    """The running processes (leaders and workers) whose environment names `state_dir` (`MARKER`),
    read from /proc; never this process."""
    wanted = f"{MARKER}={state_dir.resolve()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if wanted in environ.split(b"\0"):
            pid = int(entry.name)
            found.append(ProcessRef(pid, process_start_time(pid)))
    return tuple(sorted(found, key=lambda p: p.pid))


def stop(proc: ProcessRef, *, grace_seconds: float = 10.0) -> None:
    """SIGTERM the process group, wait up to `grace_seconds`, then SIGKILL it. Idempotent.

    Never signals our own process group (a router run in-process by a test is registered too).
    """
    if is_ourselves(proc.pid):
        return
    if not is_alive(proc):
        if not pid_exists(proc.pid):
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


def pid_exists(pid: int) -> bool:
    """Whether a process with this pid runs (as any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_of(pid: int) -> int | None:
    """The process group of `pid`; None once it is gone."""
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


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
