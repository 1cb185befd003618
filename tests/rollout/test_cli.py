"""The real `modelcd deploy/status/abort` processes against a moto server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from moto.sagemaker.models import sagemaker_backends
from moto.server import ThreadedMotoServer

from tests.helpers import GitRepo, run_modelcd
from tests.rollout.conftest import ACCOUNT, REGION, image
from tests.rollout.moto_sagemaker_ext import EndpointBehaviour, install

ENDPOINT = "modelcd-staging-churn"


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    behaviour: EndpointBehaviour = install(monkeypatch)
    behaviour.transitional_describes = 0  # the CLI runs on the real clock: no polling waits
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10)
    yield url
    server.stop()


def cli(repo: GitRepo, url: str, *args: str) -> tuple[int, str, str]:
    env = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MLFLOW_TRACKING_URI": "",
    }
    result = run_modelcd(*args, cwd=repo.path, env=env)
    return result.returncode, result.stdout, result.stderr


def test_first_deploy_then_status_then_noop(template_repo: GitRepo, moto_url: str) -> None:
    code, out, err = cli(
        template_repo, moto_url, "deploy", "--env", "staging", "--model", "churn", "--image", image(1)
    )
    assert code == 0, err
    assert out.strip() == f"{ENDPOINT}: v1 succeeded: v1 serves 100% alone: rollout complete"
    assert (template_repo.path / ".modelcd/rollouts/staging-churn-v1.json").is_file()
    code, out, _ = cli(template_repo, moto_url, "status", "--env", "staging")
    assert code == 0
    assert out.splitlines()[0] == f"{ENDPOINT}: InService [v1 100] (git wants v1)"
    assert "rollout v1 (first deploy): succeeded" in out
    code, out, _ = cli(
        template_repo, moto_url, "deploy", "--env", "staging", "--model", "churn", "--image", image(1)
    )
    assert (code, out.strip()) == (0, f"{ENDPOINT}: v1 noop: {ENDPOINT} already serves v1 alone")


def test_failed_endpoint_freezes_with_a_clear_error_and_exit_1(template_repo: GitRepo, moto_url: str) -> None:
    assert (
        cli(template_repo, moto_url, "deploy", "--env", "staging", "--image", image(1), "--model", "churn")[0]
        == 0
    )
    endpoint: Any = sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT]
    endpoint.endpoint_status, endpoint.failure_reason = "Failed", "health check failed"
    template_repo.write(
        "environments/staging.yaml",
        template_repo.read("environments/staging.yaml").replace("version: 1", "version: 2"),
    )
    code, _out, err = cli(
        template_repo, moto_url, "deploy", "--env", "staging", "--model", "churn", "--image", image(2)
    )
    assert code == 1
    assert f"v2 frozen: freeze: endpoint {ENDPOINT} is Failed: health check failed" in err
    assert [v["VariantName"] for v in endpoint.production_variants] == ["v1"]


def test_abort_without_a_rollout_says_so(template_repo: GitRepo, moto_url: str) -> None:
    assert (
        cli(template_repo, moto_url, "deploy", "--env", "staging", "--image", image(1), "--model", "churn")[0]
        == 0
    )
    code, _, err = cli(template_repo, moto_url, "abort", "--env", "staging", "--model", "churn")
    assert code == 1
    assert err.strip() == f"error: nothing to abort on {ENDPOINT}: the rollout of v1 is succeeded"


def test_deploy_without_an_image_is_a_usage_error(template_repo: GitRepo, moto_url: str) -> None:
    code, _, err = cli(template_repo, moto_url, "deploy", "--env", "staging")
    assert code == 2
    assert "--image <repo>@sha256:<digest> or --build-record FILE" in err
