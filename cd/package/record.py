"""The build record: `DIR/<model>-v<N>.build.json`, what a release and a deployment need to know."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from cd.errors import PackageError
from cd.files import write_atomic

RECORD_FORMAT = 1


@dataclass(frozen=True)
class BuildRecord:
    model: str  # directory name under models/
    registered_model: str  # name in the MLflow registry
    version: int
    bento_tag: str  # <model>:v<N>-<model sha256[:12]>
    bento_archive: str  # file name of the exported Bento, beside the record
    bento_sha256: str  # sha256 of that archive
    model_sha256: str  # content hash of the MLflow model directory, from the registry
    model_source: str  # MLflow artifact source of the version
    run_id: str | None
    requirements: tuple[str, ...]  # the Bento's Python requirements, as BentoML froze them
    python_version: str  # of the Bento's image
    bentoml_version: str
    mlflow_version: str
    locked: bool  # whether requirements were locked against a package index
    image_tag: str | None  # planned `<image_repository>:<model>-v<N>-<sha12>`; None without a repository
    created_at: str  # ISO 8601, UTC
    image_digest: str | None = None  # `<image_repository>@sha256:...` once pushed
    bento_content_sha256: str = ""  # the Bento (and its models) as the BentoML store holds them
    base_image: str | None = None  # what the image was built FROM, by digest (`python@sha256:...`)
    format: int = RECORD_FORMAT

    def with_image(self, image_tag: str | None, image_digest: str | None, base_image: str) -> BuildRecord:
        return replace(self, image_tag=image_tag, image_digest=image_digest, base_image=base_image)

    def to_json(self) -> str:
        data = asdict(self)
        data["requirements"] = list(self.requirements)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "build record") -> BuildRecord:
        try:
            data: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PackageError(f"{where}: not JSON ({exc.msg} at line {exc.lineno})") from None
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise PackageError(f"{where}: unknown field(s) {', '.join(unknown)}")
        data["requirements"] = tuple(data.get("requirements", ()))
        try:
            return cls(**data)
        except TypeError as exc:
            raise PackageError(f"{where}: {exc}") from None


def write_record(record: BuildRecord, path: Path) -> Path:
    """Write the record atomically (temp file, then rename)."""
    return write_atomic(path, record.to_json())


def read_record(path: Path) -> BuildRecord:
    try:
        text = path.read_text()
    except OSError as exc:
        raise PackageError(f"{path}: cannot read the build record ({exc.strerror})") from None
    return BuildRecord.from_json(text, str(path))
