"""Fixtures: the GitHub API double, a moto server standing in for SageMaker, and helpers that run the
real CLI as a process with a simulated Actions runner pointed at both."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.github_double import GitHubDouble
from tests.helpers import GitRepo, run_modelcd
from tests.workflows.events import REPO, Runner

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/modelcd-sagemaker-execution"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd@sha256:" + "0" * 64


@dataclass
class Sagemaker:
    """A moto server on loopback; `serve` puts an endpoint in the state a test needs."""

    url: str
    client: Any

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def serve(
        self, endpoint: str, weights: dict[int, float], instance_type: str = "ml.m5.large", count: int = 1
    ) -> None:
        """Endpoint `endpoint` serving versions (variant `v<N>`) at `weights`; replaces any existing one."""
        config = f"{endpoint}-" + "-".join(f"v{v}w{int(w * 100)}" for v, w in sorted(weights.items()))
        config += f"-{instance_type.replace('.', '')}-{count}"
        variants = []
        for version, weight in sorted(weights.items()):
            model = f"{endpoint}-v{version}"
            with contextlib.suppress(self.client.exceptions.ClientError):  # already created
                self.client.create_model(
                    ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
                )
            variants.append(
                {
                    "VariantName": f"v{version}",
                    "ModelName": model,
                    "InitialInstanceCount": count,
                    "InstanceType": instance_type,
                    "InitialVariantWeight": weight,
                }
            )
        self.client.create_endpoint_config(EndpointConfigName=config, ProductionVariants=variants)
        with contextlib.suppress(self.client.exceptions.ClientError):
            self.client.delete_endpoint(EndpointName=endpoint)
        self.client.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)


@pytest.fixture(scope="module")
def sagemaker_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def sagemaker(sagemaker_server: str) -> Iterator[Sagemaker]:
    import boto3

    client = boto3.client(
        "sagemaker",
        region_name=REGION,
        endpoint_url=sagemaker_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    yield Sagemaker(sagemaker_server, client)
    for endpoint in client.list_endpoints()["Endpoints"]:
        client.delete_endpoint(EndpointName=endpoint["EndpointName"])


@dataclass
class Cli:
    """Runs `modelcd` as a process inside a simulated Actions step."""

    double: GitHubDouble
    runner: Runner
    cwd: Path
    extra_env: dict[str, str]

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Any:
        full = {**self.runner.env(), **self.double.env(REPO), **self.extra_env, **(env or {})}
        return run_modelcd(*args, cwd=self.cwd, env=full)


ORG_TOKEN = "ghp_orgmembersreader"


def make_cli(
    double: GitHubDouble,
    tmp_path: Path,
    event_name: str,
    payload: dict[str, Any],
    cwd: Path,
    extra_env: dict[str, str] | None = None,
) -> Cli:
    double.add_token(ORG_TOKEN, "org-reader")  # MODELCD_ORG_TOKEN: sees the organisation's teams
    env = {"MODELCD_ORG_TOKEN": ORG_TOKEN, **(extra_env or {})}
    return Cli(double, Runner(tmp_path / "runner", event_name, payload), cwd, env)


def write_verdict(
    directory: Path, env: str, model: str, verdict: str, summary: str, report: str = ""
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{env}-{model}.json"
    path.write_text(
        json.dumps(
            {
                "environment": env,
                "model": model,
                "verdict": verdict,
                "summary": summary,
                "candidate": {"name": model, "version": 2, "sha256": "a" * 64},
                "incumbent": {"name": model, "version": 1, "sha256": "b" * 64},
            }
        )
    )
    if report:
        path.with_suffix(".md").write_text(report)
    return path


def write_plan(path: Path, *rows: tuple[str, str, str, int | None, int | None]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"include": [{"env": e, "model": m, "change": c, "from": f, "to": t} for e, m, c, f, t in rows]}
        )
    )
    return path


def commit_version(repo: GitRepo, env: str, version: int) -> str:
    text = repo.read(f"environments/{env}.yaml").replace("    version: 1\n", f"    version: {version}\n")
    repo.write(f"environments/{env}.yaml", text)
    return repo.commit(f"{env}: churn v{version}")
