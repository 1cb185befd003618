"""Start a Bento server as a real process on a free loopback port, wait for /ping, stop it."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from cd.package import ServeCommand

READY_TIMEOUT_SECONDS = 180.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunningServer:
    url: str
    ready_seconds: float  # from process start to the first 200 on /ping
    log: Path


def wait_for_ping(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = READY_TIMEOUT_SECONDS
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode} before /ping answered:\n{log.read_text()[-4000:]}"
            )
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no 200 on {url}/ping within {timeout}s:\n{log.read_text()[-4000:]}")


@contextmanager
def running(command: ServeCommand, log: Path) -> Iterator[RunningServer]:
    """Run `command` (listening on 127.0.0.1:command.port) until the block ends."""
    url = f"http://127.0.0.1:{command.port}"
    with log.open("wb") as sink:
        process = command.popen(stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            ready = wait_for_ping(url, process, log)
            yield RunningServer(url=url, ready_seconds=ready, log=log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
