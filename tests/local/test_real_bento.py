"""The local target with a real built Bento: `bentoml serve` processes behind the router, boto3 in front."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from cd.package import build_bento, default_bentoml_home
from cd.package.environment import ENVIRONMENTS_DIR
from cd.rollout.local import processes, runtime
from cd.rollout.local.statefile import StateFile
from cd.rollout.local.target import BentoServe, LocalEndpoints
from cd.rollout.local.traffic import replay, rows_from
from cd.rollout.target import VariantSpec
from tests.package.churn_model import churn_frame, churn_spec, register_in_subprocess, tracking_uri_in

pytestmark = pytest.mark.slow

EP = "modelcd-staging-churn"


@dataclass(frozen=True)
class Built:
    repo_root: Path
    bento_tag: str
    model: Any  # the registered pyfunc: the answers the Bento must give


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One real churn model registered in MLflow (sqlite) and built into a Bento in the repo's home."""
    from cd.registry import Registry

    repo_root = tmp_path_factory.mktemp("local-bento-repo")
    uri = tracking_uri_in(repo_root)
    version = register_in_subprocess(uri)
    record = build_bento(  # not smoke-tested: serving it in its own environment is what this file tests
        repo_root,
        churn_spec(),
        version,
        tracking_uri=uri,
        out_dir=repo_root / "dist",
        environ={},
        smoke_test=False,
    )
    return Built(repo_root, record.bento_tag, Registry(uri).load_pyfunc("churn", version))


@pytest.fixture(scope="module")
def serving(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalEndpoints, Path]]:
    state_dir = tmp_path_factory.mktemp("local-bento-state")
    home = default_bentoml_home(built.repo_root)
    target = LocalEndpoints(state_dir, serve_command=BentoServe(home, home.parent / ENVIRONMENTS_DIR))
    # the same Bento in shadow too: what the client gets is unchanged, and the copies can be compared
    shadow = VariantSpec(2, built.bento_tag)
    target.apply_variants(EP, [VariantSpec(1, built.bento_tag)], {"v1": 100.0}, shadow=shadow)
    yield target, state_dir
    runtime.down(state_dir)


def test_a_built_bento_served_by_the_local_target_answers_boto3_with_the_models_predictions(
    built: Built, serving: tuple[LocalEndpoints, Path]
) -> None:
    _, state_dir = serving
    router = StateFile(state_dir).read().router
    assert router is not None
    client = boto3.session.Session().client(
        "sagemaker-runtime",
        endpoint_url=router.url,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    frame = churn_frame(5, seed=3)
    body = json.dumps(rows_from(frame), default=lambda v: v.item())
    response = client.invoke_endpoint(EndpointName=EP, Body=body, ContentType="application/json")
    assert response["InvokedProductionVariant"] == "v1"
    assert json.loads(response["Body"].read())["predictions"] == built.model.predict(frame).tolist()


def test_the_servers_bytecode_stays_in_the_environment_and_the_bento_is_untouched(
    built: Built, serving: tuple[LocalEndpoints, Path]
) -> None:
    home = default_bentoml_home(built.repo_root)
    (environment,) = [p for p in (home.parent / ENVIRONMENTS_DIR).iterdir() if p.is_dir()]
    assert any((environment / "bytecode").rglob("*.pyc"))
    name, version = built.bento_tag.split(":")
    bento = home / "bentos" / name / version
    assert (bento / "src" / "service.py").is_file() and not list(bento.rglob("__pycache__"))


def test_the_bentos_input_errors_are_model_errors_counted_as_4xx(
    serving: tuple[LocalEndpoints, Path],
) -> None:
    target, state_dir = serving
    router = StateFile(state_dir).read().router
    assert router is not None
    start = datetime.now(UTC)
    report = replay(router.url, EP, [{"tenure_months": "many"}], max_requests=3, max_seconds=60)
    assert (report.sent, report.model_errors, report.errors) == (3, 3, {"ModelError": 3})
    metrics = target.read_metrics(EP, "v1", start, datetime.now(UTC), "p99")
    assert (metrics.invocations, metrics.errors_4xx, metrics.errors_5xx) == (3.0, 3.0, 0.0)


def test_down_stops_bentoml_and_all_its_workers(built: Built, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    home = default_bentoml_home(built.repo_root)
    target = LocalEndpoints(state_dir, serve_command=BentoServe(home, home.parent / ENVIRONMENTS_DIR))
    target.apply_variants(EP, [VariantSpec(1, built.bento_tag)], {"v1": 100.0})
    variant = StateFile(state_dir).read().endpoints[EP].variants["v1"]
    assert len(processes.group_members(variant.process.pid)) >= 1
    runtime.down(state_dir)
    assert not processes.is_alive(variant.process)
    assert processes.group_members(variant.process.pid) == []


def test_a_bento_in_shadow_is_compared_with_stable_on_the_same_requests(
    serving: tuple[LocalEndpoints, Path],
) -> None:
    """The mirroring router with real Bentos: each copied request's prediction is compared with the one
    the client got (the same model in both: no disagreement), and the analysis judges it."""
    import time

    from cd.config.model import AnalysisPolicy
    from cd.rollout.analysis import analyse

    target, state_dir = serving
    router = StateFile(state_dir).read().router
    assert router is not None
    start = datetime.now(UTC)
    report = replay(router.url, EP, rows_from(churn_frame(40, seed=5)), max_requests=40, max_seconds=60)
    assert report.sent == 40 and report.errors == {}
    time.sleep(2.0)  # the last copies are answered
    end = datetime.now(UTC)
    shadow = target.read_metrics(EP, "v2", start, end, "p99")
    stable = target.read_metrics(EP, "v1", start, end, "p99")
    dropped = runtime.RouterClient(router.url).metrics(EP, "v1", start.timestamp(), end.timestamp())[
        "shadow_dropped"
    ]
    assert stable.invocations == 40.0 and shadow.invocations + dropped >= 40
    assert shadow.comparisons is not None and len(shadow.comparisons) == shadow.invocations >= 5
    assert all(not differ and diff == 0.0 for differ, diff in shadow.comparisons)
    result = analyse(
        shadow,
        stable,
        (),
        AnalysisPolicy(max_disagreement=0.05),
        step_index=0,
        window_start=start.timestamp(),
        window_end=end.timestamp(),
    )
    check = result.check("prediction_disagreement")
    assert check is not None and check.outcome == "pass" and check.value == 0.0
    assert f"0/{len(shadow.comparisons)} shadow predictions differ" in check.detail
