"""BentoML adapter: every BentoML action runs in a child process with an explicit environment.

BentoML reads `$BENTOML_HOME` once per process and needs a `uv` binary on `PATH` to freeze a Bento's
Python requirements; it also reports usage unless told not to. `bentoml_env` sets all three, so a
build never touches `~/bentoml` and never phones home.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cd.errors import PackageError

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the directory holding the `cd` package
BUILD_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class ServeCommand:
    """How to start a Bento server: run `argv` in `cwd` with `env` added to the environment."""

    argv: list[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    port: int = 8080

    def full_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) overlaid with `env`."""
        return {**(os.environ if base is None else base), **self.env}

    def popen(self, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start the server (the caller stops it)."""
        return subprocess.Popen(self.argv, env=self.full_env(), cwd=self.cwd, **kwargs)


def scratch_bentoml_home() -> Path:
    """A BentoML home for serving a Bento directory (whose models travel inside it): BentoML creates
    its store directories at start-up, and they must not land in the shared ~/bentoml."""
    return Path(tempfile.gettempdir()) / f"modelcd-bentoml-scratch-{os.getuid()}"


def uv_directory() -> str:
    """The directory of the `uv` binary BentoML will run (the `uv` PyPI package ships one)."""
    try:
        from uv import find_uv_bin

        return str(Path(find_uv_bin()).parent)
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return str(Path(found).parent)
    raise PackageError(
        "BentoML needs a `uv` binary to build a Bento: `pip install uv` (a modelcd dependency)"
    )


def bentoml_env(bentoml_home: Path, *, with_uv: bool = True) -> dict[str, str]:
    """Environment additions for any BentoML child process."""
    env = {
        "BENTOML_HOME": str(bentoml_home),
        "BENTOML_DO_NOT_TRACK": "true",
        "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p),
    }
    if with_uv:
        env["PATH"] = os.pathsep.join((uv_directory(), os.environ.get("PATH", os.defpath)))
    return env


def run_build(request: Mapping[str, Any], bentoml_home: Path, work_dir: Path) -> dict[str, Any]:
    """Import the model, build and export the Bento in a BentoML child process; its JSON result."""
    request_path = work_dir / "worker-request.json"
    result_path = work_dir / "worker-result.json"
    request_path.write_text(json.dumps(dict(request)))
    result_path.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "cd.package.bentoml_worker", str(request_path), str(result_path)]
    try:
        done = subprocess.run(
            argv,
            env={**os.environ, **bentoml_env(bentoml_home)},
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PackageError(
            f"bentoml build of {request['model_tag']} took over {BUILD_TIMEOUT_SECONDS}s"
        ) from exc
    result: dict[str, Any] = json.loads(result_path.read_text()) if result_path.exists() else {}
    if done.returncode != 0 or "error" in result or not result:
        detail = result.get("error") or _tail(done.stderr)
        raise PackageError(f"bentoml build of {request['model_tag']} failed: {detail}\n{_tail(done.stderr)}")
    return result


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ----------------------------------------------------------------------------- serving


def serve_command(
    bento: str | Path,
    port: int,
    *,
    bentoml_home: Path | None = None,
    host: str = "127.0.0.1",
    max_body_bytes: int | None = None,
    python: Path | None = None,
) -> ServeCommand:
    """`bentoml serve` of a Bento (a tag in `bentoml_home`'s store, or a Bento directory) on host:port,
    with `python` (the Bento's own environment, `cd.package.environment`; default: this interpreter)."""
    if isinstance(bento, Path) and bento.suffix == ".bento":
        raise PackageError(f"{bento}: an exported archive; unpack it first with cd.package.unpack_bento")
    if bentoml_home is None and not Path(bento).is_dir():
        raise PackageError(
            f"{bento}: serving a Bento tag needs the BentoML home that holds it (bentoml_home)"
        )
    env = {"BENTOML_DO_NOT_TRACK": "true", "BENTOML_HOME": str(bentoml_home or scratch_bentoml_home())}
    if max_body_bytes is not None:
        env["MODELCD_MAX_BODY_BYTES"] = str(max_body_bytes)
    argv = [
        str(python or sys.executable),
        "-m",
        "bentoml",
        "serve",
        str(bento),
        "--host",
        host,
        "--port",
        str(port),
    ]
    if python is None:
        return ServeCommand(argv=argv, env=env, port=port)
    # In the Bento's own environment, nothing may lend it a package its image would not have: no
    # PYTHONPATH, and BentoML's workers (which put their working directory on sys.path) start in a
    # directory of their own, not in the repository.
    env["PYTHONPATH"] = ""
    # The environment is modelcd's cache: its first server compiles what it imports and keeps the
    # bytecode there (not beside the Bento's sources), so later servers start in about half the time
    # (18 s -> 9 s for the churn Bento), even where PYTHONDONTWRITEBYTECODE is set.
    env["PYTHONDONTWRITEBYTECODE"] = ""
    env["PYTHONPYCACHEPREFIX"] = str(python.parent.parent / "bytecode")
    workdir = Path(tempfile.gettempdir()) / f"modelcd-bento-cwd-{os.getuid()}"
    workdir.mkdir(exist_ok=True)
    return ServeCommand(argv=argv, env=env, cwd=workdir, port=port)


def entrypoint_command(
    bento_dir: Path, *, port: int | None = None, host: str | None = None, bentoml_home: Path | None = None
) -> ServeCommand:
    """Run an unpacked Bento exactly as its container does: `env/docker/entrypoint.sh serve`.

    The image's `ENTRYPOINT` is that script, its working directory and `$BENTO_PATH` the Bento; the
    argument `serve` becomes `bentoml serve $BENTO_PATH`, which listens on the service's port: 8080,
    or `$SAGEMAKER_BIND_TO_PORT` (set here when `port` is given). `host` (`$BENTOML_HOST`) defaults to
    BentoML's 0.0.0.0, as a container needs; pass 127.0.0.1 to stay on loopback.
    """
    entrypoint = bento_dir / "env" / "docker" / "entrypoint.sh"
    if not entrypoint.is_file():
        raise PackageError(f"{bento_dir}: not a Bento directory (no env/docker/entrypoint.sh)")
    env = {
        "BENTO_PATH": str(bento_dir),
        "BENTOML_DO_NOT_TRACK": "true",
        "BENTOML_CONTAINERIZED": "true",
        # the image puts its virtualenv first on PATH; here that is this interpreter's
        "PATH": os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath))),
    }
    env["BENTOML_HOME"] = str(bentoml_home or scratch_bentoml_home())
    if port is not None:
        env["SAGEMAKER_BIND_TO_PORT"] = str(port)
    if host is not None:
        env["BENTOML_HOST"] = host
    return ServeCommand(argv=["bash", str(entrypoint), "serve"], env=env, cwd=bento_dir, port=port or 8080)


def unpack_bento(archive: Path, destination: Path) -> Path:
    """Extract an exported `.bento` archive into `destination` (replaced); the Bento directory."""
    if not archive.is_file():
        raise PackageError(f"{archive}: no such Bento archive")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unpack-", dir=destination.parent) as tmp:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise PackageError(f"{archive}: not a readable Bento archive ({exc})") from exc
        if not (Path(tmp) / "bento.yaml").is_file():
            raise PackageError(f"{archive}: not a Bento archive (no bento.yaml inside)")
        if destination.exists():
            shutil.rmtree(destination)
        os.replace(tmp, destination)
        Path(tmp).mkdir()  # let TemporaryDirectory clean up what it created
    return destination


def stored_bento_sha256(bentoml_home: Path, bento_tag: str) -> str:
    """Content hash of a Bento as the BentoML store at `bentoml_home` holds it: the Bento's directory and
    the directory of every model it references. What `bentoml serve` would run; an edit to either
    changes it."""
    from cd.files import directory_sha256

    def folder(kind: str, tag: str) -> Path:
        name, _, version = tag.partition(":")
        path = bentoml_home / kind / name / version
        if not path.is_dir():
            raise PackageError(f"{tag}: not in the BentoML store {bentoml_home / kind}")
        return path

    bento_dir = folder("bentos", bento_tag)
    manifest = yaml.safe_load((bento_dir / "bento.yaml").read_text()) or {}
    model_tags = sorted(
        {str(m["tag"]) for s in manifest.get("services") or () for m in s.get("models") or ()}
        | {str(m["tag"]) for m in manifest.get("models") or ()}
    )
    outer = hashlib.sha256(f"bento {directory_sha256(bento_dir)}\n".encode())
    for tag in model_tags:
        outer.update(f"model {tag} {directory_sha256(folder('models', tag))}\n".encode())
    return outer.hexdigest()


# What a reproducible archive carries for every time stamp: $SOURCE_DATE_EPOCH when set (the
# reproducible-builds convention), else the epoch.
_CREATION_TIME = re.compile(r"^(\s*creation_time: ).*$", re.MULTILINE)


def source_date_epoch(environ: Mapping[str, str] = os.environ) -> int:
    value = environ.get("SOURCE_DATE_EPOCH", "0")
    if not value.isdigit():
        raise PackageError(f"SOURCE_DATE_EPOCH must be whole seconds since the epoch, not {value!r}")
    return int(value)


def make_reproducible(archive: Path, epoch: int = 0) -> Path:
    """Rewrite an exported Bento so that the same inputs give the same bytes: BentoML's creation times
    (in bento.yaml and each model.yaml) set to `epoch`, entries sorted, every mtime `epoch`, owner
    root, modes 0644/0755, xz at a fixed preset. Replaced atomically."""
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(epoch, UTC).isoformat()
    with tempfile.TemporaryDirectory(prefix=".reproducible-", dir=archive.parent) as tmp:
        root = Path(tmp) / "bento"
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(root, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise PackageError(f"{archive}: not a readable Bento archive ({exc})") from exc
        for meta in [root / "bento.yaml", *root.glob("models/*/*/model.yaml")]:
            if meta.is_file():
                meta.write_text(_CREATION_TIME.sub(lambda m: f"{m.group(1)}'{stamp}'", meta.read_text()))
        rebuilt = Path(tmp) / archive.name
        with tarfile.open(rebuilt, "w:xz", format=tarfile.GNU_FORMAT, preset=6) as out:
            for path in [root, *sorted(root.rglob("*"))]:
                info = out.gettarinfo(
                    str(path), arcname="./" + path.relative_to(root).as_posix() if path != root else "./"
                )
                info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "root", "root"
                info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
                if info.isfile():
                    with path.open("rb") as fh:
                        out.addfile(info, fh)
                else:
                    out.addfile(info)
        os.replace(rebuilt, archive)
    return archive
