"""The gate against a real `mlflow server` process on 127.0.0.1 (started and stopped here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cd.examples import churn
from cd.gates.evaluate import evaluate_promotion
from cd.registry import Registry
from tests.gates.conftest import open_pr
from tests.helpers import GitRepo

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            (root / "artifacts").as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_TRACKING_URI": ""},
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"mlflow server did not start:\n{(root / 'server.log').read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_gate_resolves_and_downloads_versions_through_an_mlflow_server(
    mlflow_server: str, churn_repo: GitRepo, churn_data: churn.Datasets, churn_models: dict[str, Any]
) -> None:
    versions = churn.register_versions(
        mlflow_server, churn_models, churn_data.test, roles=("baseline", "better")
    )
    open_pr(churn_repo, versions["baseline"], versions["better"])
    verdict = evaluate_promotion(churn_repo.path, "staging", "churn", "main", "pr", Registry(mlflow_server))
    assert verdict.verdict == "pass"
    assert (verdict.candidate.version, verdict.incumbent and verdict.incumbent.version) == (2, 1)
    assert verdict.candidate.source.startswith("models:/") or "mlflow-artifacts" in verdict.candidate.source
    assert len(verdict.candidate.sha256) == 64


def test_a_missing_version_on_the_server_is_a_clear_error(mlflow_server: str, tmp_path: Path) -> None:
    from cd.errors import RegistryError

    with pytest.raises(
        RegistryError,
        match=rf"^registered model 'nosuch': not found in the MLflow registry at {mlflow_server}$",
    ):
        Registry(mlflow_server).resolve("nosuch", 1)
