"""Package-area fixtures: ONE registered model and ONE Bento build per test session (per xdist worker)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cd.config.model import ModelSpec
from cd.package import BuildRecord, build_bento
from tests.package.churn_model import churn_spec, register_in_subprocess, tracking_uri_in

IMAGE_REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd"


@dataclass(frozen=True)
class RegisteredChurn:
    repo_root: Path
    tracking_uri: str
    spec: ModelSpec
    version: int


@dataclass(frozen=True)
class BuiltChurn:
    registered: RegisteredChurn
    out_dir: Path
    bentoml_home: Path
    record: BuildRecord
    build_seconds: float

    @property
    def archive(self) -> Path:
        return self.out_dir / self.record.bento_archive


@pytest.fixture(scope="session")
def registered_churn(tmp_path_factory: pytest.TempPathFactory) -> RegisteredChurn:
    """A real scikit-learn classifier registered as `churn` in a real MLflow sqlite store."""
    repo_root = tmp_path_factory.mktemp("package-repo")
    tracking_uri = tracking_uri_in(repo_root)
    return RegisteredChurn(repo_root, tracking_uri, churn_spec(), register_in_subprocess(tracking_uri))


@pytest.fixture(scope="session")
def built_churn(registered_churn: RegisteredChurn, tmp_path_factory: pytest.TempPathFactory) -> BuiltChurn:
    """`build_bento` of the registered model, offline (no locking), BentoML home inside the repo."""
    out_dir = tmp_path_factory.mktemp("package-dist")
    started = time.monotonic()
    record = build_bento(
        registered_churn.repo_root,
        registered_churn.spec,
        registered_churn.version,
        tracking_uri=registered_churn.tracking_uri,
        out_dir=out_dir,
        image_repository=IMAGE_REPOSITORY,
        environ={},  # not in CI: locking is off, as it must be offline
    )
    seconds = time.monotonic() - started
    return BuiltChurn(
        registered_churn, out_dir, registered_churn.repo_root / ".modelcd" / "bentoml", record, seconds
    )


@pytest.fixture(scope="session")
def reference_model(registered_churn: RegisteredChurn) -> Any:
    """The registered model loaded through MLflow pyfunc: the answers the server must give."""
    from cd.registry import Registry

    return Registry(registered_churn.tracking_uri).load_pyfunc(
        registered_churn.spec.registered_model, registered_churn.version
    )
