"""`modelcd build`'s smoke test: the Bento must start in its own environment and answer.

Served as its image would serve it (`cd.package.environment`), on a free loopback port: `GET /ping`
must answer 200 within the start-up budget, then one `POST /invocations` with the model's own input
example (MLflow's `serving_input_example.json`, when the model was logged with one) must answer 200. A
Bento that fails either is not recorded: it would not start on SageMaker either.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cd.errors import PackageError

START_SECONDS = 180.0
# BentoML's supervisor keeps running when its worker fails to start: this line in the log is the failure.
STARTUP_FAILED = b"Application startup failed"


@dataclass(frozen=True)
class SmokeResult:
    environment_seconds: float  # building (or finding) the Bento's environment
    start_seconds: float  # process start to the first 200 on /ping
    invoked: bool  # an input example was sent and answered


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smoke_test(bentoml_home: Path, bento_tag: str, example: bytes | None, environments: Path) -> SmokeResult:
    """Start `bento_tag` in its own environment, ping it, send `example`; PackageError with the
    server's last log lines when it does not start or does not answer."""
    import requests

    from cd.package.bento import serve_command
    from cd.package.environment import bento_dir, ensure_environment

    started = time.monotonic()
    python = ensure_environment(bento_dir(bentoml_home, bento_tag), environments)
    environment_seconds = time.monotonic() - started
    command = serve_command(bento_tag, _free_port(), bentoml_home=bentoml_home, python=python)
    url = f"http://127.0.0.1:{command.port}"
    with tempfile.TemporaryFile() as log:
        process = command.popen(stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            start = _wait_for_ping(url, process, log, bento_tag)
            invoked = False
            if example is not None:
                answer = requests.post(
                    f"{url}/invocations",
                    data=example,
                    headers={"Content-Type": "application/json"},
                    timeout=60,
                )
                if answer.status_code != 200:
                    raise PackageError(
                        f"{bento_tag}: started, but answered its own input example with {answer.status_code}: "
                        f"{answer.text[:500]}"
                    )
                invoked = True
        finally:
            _stop(process)
    return SmokeResult(environment_seconds, start, invoked)


def _wait_for_ping(url: str, process: subprocess.Popen[bytes], log: IO[bytes], tag: str) -> float:
    import requests

    started = time.monotonic()
    while time.monotonic() - started < START_SECONDS:
        if process.poll() is not None:
            raise PackageError(f"{tag}: exited {process.returncode} before answering /ping:\n{_tail(log)}")
        log.seek(0)
        if STARTUP_FAILED in log.read():
            raise PackageError(f"{tag}: failed to start in its own environment:\n{_error_lines(log)}")
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise PackageError(f"{tag}: no answer on /ping within {START_SECONDS:.0f} s:\n{_tail(log)}")


def _error_lines(log: IO[bytes]) -> str:
    """The exception lines of the log (what a person needs), else its tail."""
    log.seek(0)
    lines = log.read().decode(errors="replace").splitlines()
    errors = [line.strip() for line in lines if "Error:" in line and not line.lstrip().startswith("File ")]
    return "\n".join(dict.fromkeys(errors)) if errors else _tail(log)


def _tail(log: IO[bytes], lines: int = 15) -> str:
    log.seek(0)
    text = log.read().decode(errors="replace")
    return "\n".join(text.strip().splitlines()[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
