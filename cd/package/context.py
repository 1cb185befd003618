"""The Bento build context: what goes into it is decided here (pure), then written in one place.

A build context holds `service.py` (SageMaker's contract, `cd/package/bento_src/service.py`),
`modelcd_payload.py` (request parsing, `cd/package/payload.py`), `modelcd_service.json` (model tag,
input schema, task, body limit), `requirements.txt` (the model's own requirements, pinned) and
`bentofile.yaml`.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cd.config.model import Column, ModelSpec
from cd.errors import PackageError
from cd.signature import MLFLOW_TYPES as _MLFLOW_TYPES

SERVICE_FILE = "service.py"
PAYLOAD_MODULE_FILE = "modelcd_payload.py"
SERVICE_CONFIG_FILE = "modelcd_service.json"
REQUIREMENTS_FILE = "requirements.txt"
BENTOFILE = "bentofile.yaml"
SERVICE_IMPORT = "service:SageMakerService"
DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024  # the same default as cd.package.payload (SageMaker's 6 MB)
LOCK_ENV = "MODELCD_LOCK_PACKAGES"

_PACKAGE_DIR = Path(__file__).resolve().parent
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class BentoNames:
    """Names of one build: the BentoML model and Bento share `<model>:v<N>-<sha12>`."""

    model: str
    version: int
    model_sha256: str

    @property
    def name(self) -> str:
        return bento_name(self.model)

    @property
    def bento_version(self) -> str:
        return f"v{self.version}-{self.model_sha256[:12]}"

    @property
    def tag(self) -> str:
        return f"{self.name}:{self.bento_version}"

    @property
    def archive_name(self) -> str:
        return f"{self.model}-v{self.version}.bento"

    @property
    def record_name(self) -> str:
        return f"{self.model}-v{self.version}.build.json"

    def image_tag(self, image_repository: str) -> str:
        """The planned image reference `<repository>:<model>-v<N>-<sha12>` (deployments use its digest)."""
        return f"{image_repository}:{self.model}-v{self.version}-{self.model_sha256[:12]}"


def bento_name(model: str) -> str:
    """BentoML tag names are lower-case letters, digits, `-`, `_` and `.`."""
    name = re.sub(r"[^a-z0-9._-]+", "-", model.lower()).strip("-._")
    if not name:
        raise PackageError(f"model name {model!r} gives no usable Bento name (letters or digits needed)")
    return name


# ----------------------------------------------------------------------------- decisions (pure)


def lock_packages_default(env: Mapping[str, str]) -> bool:
    """Lock (resolve against the index) only where an index is reachable: CI, or when asked.

    `MODELCD_LOCK_PACKAGES=1|true|yes` or `0|false|no` decides; otherwise lock inside GitHub Actions
    (`GITHUB_ACTIONS=true`) or any CI (`CI=true`), and not elsewhere (offline builds).
    """
    value = env.get(LOCK_ENV, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    if value:
        raise PackageError(f"{LOCK_ENV}={env[LOCK_ENV]!r}: expected true or false")
    return env.get("GITHUB_ACTIONS") == "true" or env.get("CI", "").lower() in ("true", "1")


def requirement_name(line: str) -> str | None:
    """The distribution name a requirement line installs, lower-cased and normalised; None for options."""
    text = line.split("#", 1)[0].strip()
    if not text or text.startswith("-"):
        return None
    match = _NAME.match(text)
    return re.sub(r"[-_.]+", "-", match.group(0)).lower() if match else None


def pin_requirements(lines: Sequence[str], installed: Mapping[str, str]) -> tuple[str, ...]:
    """The model's requirements with every bare name pinned to the installed version (`name==X`).

    Comments and blank lines go; lines with a specifier, marker or URL stay as written; `bentoml` goes
    (BentoML pins its own version); `mlflow` is added, pinned at the installed MLflow's version (of
    `mlflow` or `mlflow-skinny`), if the model does not list it (the service loads it through `bentoml.mlflow`).
    """
    pinned: list[str] = []
    names: set[str] = set()
    for raw in lines:
        stripped = raw.strip()
        text = stripped if stripped.startswith("-") else stripped.split("#", 1)[0].strip()
        name = requirement_name(text)
        if not text or name == "bentoml":
            continue
        if name is not None:
            names.add(name)
            if _NAME.fullmatch(text) and name in installed:
                text = f"{text}=={installed[name]}"
        pinned.append(text)
    if not names & {"mlflow", "mlflow-skinny"}:
        # the full package (its flavours' loaders need skops and the like), at the installed client's
        # version: mlflow and mlflow-skinny are released together
        version = installed.get("mlflow") or installed.get("mlflow-skinny")
        if version is not None:
            pinned.append(f"mlflow=={version}")
    return tuple(pinned)


def columns_from_signature(inputs: Sequence[Mapping[str, Any]], where: str) -> tuple[Column, ...]:
    """Input columns from an MLflow signature's column specs (`[{"name", "type"}, ...]`)."""
    columns = []
    for spec in inputs:
        name, kind = spec.get("name"), str(spec.get("type"))
        if not name or kind not in _MLFLOW_TYPES:
            raise PackageError(
                f"{where}: signature input {spec!r} cannot be served; name it and use one of "
                f"{', '.join(sorted(_MLFLOW_TYPES))}, or list the inputs in models/<name>/model.yaml"
            )
        columns.append(Column(name=str(name), type=_MLFLOW_TYPES[kind]))  # type: ignore[arg-type]
    return tuple(columns)


def service_config(
    spec: ModelSpec, names: BentoNames, columns: Sequence[Column], max_body_bytes: int
) -> dict[str, Any]:
    """`modelcd_service.json`: everything the service reads at start-up."""
    if not columns:
        raise PackageError(
            f"{spec.path or spec.name}: no input schema; list `inputs:` in models/{spec.name}/model.yaml "
            "or log the model with an MLflow signature"
        )
    return {
        "service_name": names.name,
        "model": spec.name,
        "registered_model": spec.registered_model,
        "version": names.version,
        "bento_model_tag": names.tag,
        "model_sha256": names.model_sha256,
        "task": spec.task,
        "inputs": [{"name": c.name, "type": c.type} for c in columns],
        "max_body_bytes": max_body_bytes,
    }


def bentofile(
    spec: ModelSpec, names: BentoNames, python_version: str, lock_packages: bool, labels: Mapping[str, str]
) -> dict[str, Any]:
    """`bentofile.yaml`: the service, the files it needs, pinned requirements, locking set explicitly."""
    return {
        "service": SERVICE_IMPORT,
        "name": names.name,
        "description": spec.description or f"{spec.registered_model} version {names.version}",
        "labels": dict(labels),
        "include": [SERVICE_FILE, PAYLOAD_MODULE_FILE, SERVICE_CONFIG_FILE],
        "python": {"requirements_txt": REQUIREMENTS_FILE, "lock_packages": lock_packages},
        "docker": {"python_version": python_version},
    }


# ----------------------------------------------------------------------------- the one writer


def write_context(
    directory: Path, config: Mapping[str, Any], requirements: Sequence[str], build_file: Mapping[str, Any]
) -> Path:
    """Write a fresh build context into `directory` (emptied first)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    shutil.copyfile(_PACKAGE_DIR / "bento_src" / "service.py", directory / SERVICE_FILE)
    shutil.copyfile(_PACKAGE_DIR / "payload.py", directory / PAYLOAD_MODULE_FILE)
    (directory / SERVICE_CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    (directory / REQUIREMENTS_FILE).write_text("".join(f"{line}\n" for line in requirements))
    (directory / BENTOFILE).write_text(yaml.safe_dump(dict(build_file), sort_keys=False))
    return directory
