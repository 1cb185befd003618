"""Fixtures for the local target: real variant server processes behind the real router."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cd.rollout.local import runtime
from cd.rollout.local.target import LocalEndpoints

VARIANT_SERVER = Path(__file__).with_name("variant_server.py")


def fake_serve_command(image: str, port: int) -> list[str]:
    """Serve an image named `fake:OPTS` with tests/local/variant_server.py.

    OPTS is comma-separated: `ok`, `errors=R` (500 for a fraction R), `client-error`, `stall`, `delay=MS`.
    """
    kind, _, opts = image.partition(":")
    assert kind == "fake", f"test images are fake:OPTS, not {image!r}"
    argv = [sys.executable, str(VARIANT_SERVER), "--port", str(port), "--name", image]
    for opt in filter(None, opts.split(",")):
        key, _, value = opt.partition("=")
        if key == "errors":
            argv += ["--error-rate", value]
        elif key == "delay":
            argv += ["--delay-ms", value]
        elif key in ("client-error", "stall"):
            argv.append(f"--{key}")
        elif key != "ok":
            raise AssertionError(f"unknown fake image option {opt!r}")
    return argv


def make_target(state_dir: Path, **options: Any) -> LocalEndpoints:
    defaults: dict[str, Any] = {
        "serve_command": fake_serve_command,
        "ready_timeout": 20.0,
        "upstream_timeout": 1.0,
        "router_seed": 7,
    }
    return LocalEndpoints(state_dir, **{**defaults, **options})


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """A local target state directory; everything started in it is stopped afterwards."""
    path = tmp_path / "local-state"
    yield path
    runtime.down(path)


@pytest.fixture
def target(state_dir: Path) -> LocalEndpoints:
    return make_target(state_dir)
