"""MLflow model-registry adapter.

Git is the source of truth for what should run where; MLflow holds the model artifacts and, after a
successful rollout, mirrors git through aliases named after environments. mlflow is imported lazily:
importing this module is cheap.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from cd.errors import RegistryError
from cd.files import directory_sha256

SQLITE_FILENAME = "mlflow.db"
ARTIFACTS_DIRNAME = "mlartifacts"


def default_tracking_uri(repo_root: Path) -> str:
    """`$MLFLOW_TRACKING_URI`, else the embedded default: a sqlite store in the repository root."""
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    return f"sqlite:///{(repo_root / SQLITE_FILENAME).resolve()}"


def artifact_root_for(tracking_uri: str) -> str | None:
    """Where a sqlite store keeps artifacts (beside the database); None for servers (they decide)."""
    if tracking_uri.startswith("sqlite:///"):
        db_path = Path(tracking_uri.removeprefix("sqlite:///"))
        return (db_path.parent / ARTIFACTS_DIRNAME).resolve().as_uri()
    return None


# Files MLflow itself writes into a version's artifact folder when the version is loaded through a
# `models:/` URI: not the model's own bytes, so never part of its content hash.
MLFLOW_BOOKKEEPING = frozenset({"registered_model_meta"})


def model_sha256(root: Path) -> str:
    """Content hash of an MLflow model directory: its own files, whatever MLflow added on loading it."""
    return directory_sha256(root, ignore=MLFLOW_BOOKKEEPING)


@dataclass(frozen=True)
class ModelVersionRef:
    """One registered model version, with what a report needs to pin exactly what was judged."""

    name: str
    version: int
    run_id: str | None
    source: str
    sha256: str
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    tags: Mapping[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class FluentState:
    """MLflow's process-wide tracking and registry URIs: module globals plus their environment mirrors."""

    tracking_uri: str | None
    registry_uri: str | None
    environ: Mapping[str, str | None]

    ENV_NAMES: ClassVar[tuple[str, ...]] = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")

    @classmethod
    def capture(cls) -> FluentState:
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        return cls(
            tracking_utils._tracking_uri,
            registry_utils._registry_uri,
            {name: os.environ.get(name) for name in cls.ENV_NAMES},
        )

    def restore(self) -> None:
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        tracking_utils.set_tracking_uri(self.tracking_uri)  # type: ignore[arg-type]  # None = unset
        registry_utils._registry_uri = self.registry_uri  # type: ignore[assignment]  # no public unset
        for name, value in self.environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Registry:
    """A thin, typed face over `mlflow.MlflowClient` with errors a user can act on."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self._client: Any = None

    # ------------------------------------------------------------------ connection

    @property
    def client(self) -> Any:
        if self._client is None:
            self._check_reachable()
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def _check_reachable(self) -> None:
        if not self.tracking_uri.startswith(("http://", "https://")):
            return
        import requests

        url = self.tracking_uri.rstrip("/") + "/health"
        try:
            response = requests.get(url, timeout=5)
        except requests.RequestException as exc:
            raise RegistryError(
                f"MLflow server {self.tracking_uri} is unreachable ({type(exc).__name__}); "
                "check MLFLOW_TRACKING_URI and that the server is running"
            ) from exc
        if response.status_code >= 500:
            raise RegistryError(
                f"MLflow server {self.tracking_uri} answered {response.status_code} on /health"
            )

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            code = getattr(exc, "error_code", "")
            if code == "RESOURCE_DOES_NOT_EXIST":
                raise RegistryError(
                    f"{what}: not found in the MLflow registry at {self.tracking_uri}"
                ) from exc
            raise RegistryError(f"{what}: MLflow error {code}: {exc.message}") from exc

    # ------------------------------------------------------------------ reading

    def resolve(self, name: str, version: int) -> ModelVersionRef:
        """Look a version up and hash its artifacts. RegistryError if the model or version is missing."""
        what = f"model {name!r} version {version}"
        self._call(f"registered model {name!r}", self.client.get_registered_model, name)
        mv = self._call(what, self.client.get_model_version, name, str(version))
        params: Mapping[str, str] = {}
        metrics: Mapping[str, float] = {}
        if mv.run_id:
            run = self._call(f"run {mv.run_id} of {what}", self.client.get_run, mv.run_id)
            params, metrics = dict(run.data.params), dict(run.data.metrics)
        with tempfile.TemporaryDirectory(prefix="modelcd-resolve-") as tmp:
            local = self._download_uri(self._version_uri(name, version, what), Path(tmp), what)
            sha = model_sha256(local)
        return ModelVersionRef(
            name=name,
            version=int(mv.version),
            run_id=mv.run_id,
            source=str(mv.source),
            sha256=sha,
            params=params,
            metrics=metrics,
            tags=dict(mv.tags or {}),
        )

    def download(self, name: str, version: int, dst: Path, expected_sha256: str | None = None) -> Path:
        """Copy the model's MLflow directory to `dst` (replaced atomically), verifying its sha256."""
        what = f"model {name!r} version {version}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="modelcd-download-", dir=dst.parent) as tmp:
            local = self._download_uri(self._version_uri(name, version, what), Path(tmp), what)
            if expected_sha256 is not None:
                actual = model_sha256(local)
                if actual != expected_sha256:
                    raise RegistryError(
                        f"{what}: artifacts changed since they were judged (sha256 {actual[:12]}…, "
                        f"expected {expected_sha256[:12]}…); refusing to use them"
                    )
            if dst.exists():
                shutil.rmtree(dst)
            os.replace(local, dst)
        return dst

    def _version_uri(self, name: str, version: int, what: str) -> str:
        """Where the version's files are stored. Not `models:/name/N`: MLflow resolves those through the
        process-wide registry URI, ignoring `download_artifacts(registry_uri=...)`."""
        return str(self._call(what, self.client.get_model_version_download_uri, name, str(version)))

    def _download_uri(self, uri: str, into: Path, what: str) -> Path:
        import mlflow.artifacts

        self.client  # noqa: B018 - checks reachability first
        out = self._call(
            what,
            mlflow.artifacts.download_artifacts,
            artifact_uri=uri,
            dst_path=str(into),
            tracking_uri=self.tracking_uri,
        )
        return Path(out)

    def load_pyfunc(self, name: str, version: int) -> Any:
        import mlflow.pyfunc

        with self.fluent():
            return self._call(
                f"model {name!r} version {version}", mlflow.pyfunc.load_model, f"models:/{name}/{version}"
            )

    @contextmanager
    def fluent(self) -> Iterator[None]:
        """Point MLflow's process-wide ("fluent") API at this store for a block, then restore it.

        `mlflow.start_run`, `log_model(registered_model_name=...)` and `models:/` URIs read process
        globals for both the tracking and the registry URI, which MLflow also mirrors into
        `MLFLOW_TRACKING_URI`/`MLFLOW_REGISTRY_URI`. Setting only one, or leaving either behind,
        silently sends a later registration to another store."""
        self.client  # noqa: B018 - checks reachability first
        saved = FluentState.capture()
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        try:
            yield
        finally:
            saved.restore()

    # ------------------------------------------------------------------ aliases (mirror of git)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self._call(
            f"set alias {alias!r} on model {name!r} version {version}",
            self.client.set_registered_model_alias,
            name,
            alias,
            str(version),
        )

    def get_alias(self, name: str, alias: str) -> int | None:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise RegistryError(f"alias {alias!r} of model {name!r}: {exc.message}") from exc
        return int(mv.version)

    # ------------------------------------------------------------------ writing (examples, tests, demo)

    def ensure_experiment(self, name: str) -> str:
        """Experiment id for `name`, created with artifacts beside a sqlite store (never in the CWD)."""
        existing = self.client.get_experiment_by_name(name)
        if existing is not None:
            return str(existing.experiment_id)
        return str(
            self.client.create_experiment(name, artifact_location=artifact_root_for(self.tracking_uri))
        )
