"""A Bento's own Python environment: what its image would run, so the local target fails where
SageMaker would.

The environment is built from the Bento's frozen requirements (`env/python/requirements.txt`) with the
Python version its image uses, in a virtual environment named by the hash of both, under a cache
directory; a second Bento with the same requirements reuses it. Nothing of modelcd is installed there:
a model that imports modelcd (or anything its requirements do not name) fails to start, as it would in
its container. Built in a temporary directory and renamed into place, so a crash never leaves a
half-made environment that looks complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from cd.errors import PackageError

ENVIRONMENTS_DIR = "bento-envs"


def bento_dir(bentoml_home: Path, bento_tag: str) -> Path:
    name, _, version = bento_tag.partition(":")
    path = bentoml_home / "bentos" / name / version
    if not (path / "bento.yaml").is_file():
        raise PackageError(f"{bento_tag}: not in the BentoML store {bentoml_home / 'bentos'}")
    return path


def python_and_requirements(bento: Path) -> tuple[str, str]:
    """The Python version (`3.11`) and the frozen requirements of an unpacked or stored Bento."""
    requirements = bento / "env" / "python" / "requirements.txt"
    if not requirements.is_file():
        raise PackageError(f"{bento}: no env/python/requirements.txt; the Bento pins no packages")
    manifest = yaml.safe_load((bento / "bento.yaml").read_text()) or {}
    version = str((manifest.get("docker") or {}).get("python_version") or "")
    if not version:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return version, requirements.read_text()


def environment_key(python_version: str, requirements: str) -> str:
    lines = sorted(line.strip() for line in requirements.splitlines() if line.strip())
    return hashlib.sha256(("python " + python_version + "\n" + "\n".join(lines)).encode()).hexdigest()[:16]


def _interpreter(python_version: str) -> str:
    """This interpreter when its version is the Bento's, else what uv finds for that version."""
    if python_version == f"{sys.version_info.major}.{sys.version_info.minor}":
        return sys.executable
    return python_version


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_environment(bento: Path, cache: Path) -> Path:
    """The Python executable of the Bento's own environment, built on first use."""
    from cd.package.bento import uv_directory

    python_version, requirements = python_and_requirements(bento)
    target = cache / environment_key(python_version, requirements)
    python = target / "bin" / "python"
    if python.is_file():
        return python
    with _locked(cache):
        if python.is_file():  # another process built it meanwhile
            return python
        uv = str(Path(uv_directory()) / "uv")
        with tempfile.TemporaryDirectory(prefix=".building-", dir=cache) as tmp:
            venv = Path(tmp) / "venv"
            (Path(tmp) / "requirements.txt").write_text(requirements)
            for argv in (
                [uv, "venv", "--quiet", "--relocatable", "--python", _interpreter(python_version), str(venv)],
                [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                 "-r", str(Path(tmp) / "requirements.txt")],
            ):  # fmt: skip
                done = subprocess.run(argv, capture_output=True, text=True, check=False, env=_uv_env())
                if done.returncode != 0:
                    detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                    raise PackageError(
                        f"{bento.name}: cannot build the Bento's own environment from its requirements "
                        f"(`{' '.join(argv[1:3])}` failed): " + " / ".join(detail)
                    )
            shutil.move(str(venv), str(target))
    return python


def _uv_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT"))
    }
    env.setdefault("UV_NO_PROGRESS", "1")
    return env
