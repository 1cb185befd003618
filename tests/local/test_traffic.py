"""The traffic generator replays rows through boto3 sagemaker-runtime against the local router."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from cd.errors import UsageError
from cd.rollout.local.statefile import StateFile
from cd.rollout.local.target import LocalEndpoints
from cd.rollout.local.traffic import BackgroundTraffic, replay, rows_from
from cd.rollout.target import VariantSpec

EP = "modelcd-test-churn"
FRAME = pd.DataFrame({"tenure": [1, 2, 3], "plan": ["basic", "pro", "basic"], "churned": [0, 1, 0]})


def router_url(state_dir: Path) -> str:
    router = StateFile(state_dir).read().router
    assert router is not None
    return router.url


def test_rows_from_a_dataframe_or_csv_keep_the_named_columns(tmp_path: Path) -> None:
    FRAME.to_csv(tmp_path / "rows.csv", index=False)
    expected = [{"tenure": 1, "plan": "basic"}, {"tenure": 2, "plan": "pro"}, {"tenure": 3, "plan": "basic"}]
    assert rows_from(FRAME, ["tenure", "plan"]) == expected
    assert rows_from(tmp_path / "rows.csv", ["tenure", "plan"]) == expected
    with pytest.raises(UsageError, match="traffic rows lack the model's input columns: region"):
        rows_from(FRAME, ["tenure", "region"])


def test_replay_sends_the_bounded_count_cycling_rows_and_tallies_by_variant(
    target: LocalEndpoints, state_dir: Path
) -> None:
    target.apply_variants(
        EP, [VariantSpec(1, "fake:ok"), VariantSpec(2, "fake:errors=0.5")], {"v1": 50.0, "v2": 50.0}
    )
    start = datetime.now(UTC)
    report = replay(
        router_url(state_dir), EP, rows_from(FRAME, ["tenure", "plan"]), max_requests=40, max_seconds=60
    )
    end = datetime.fromtimestamp(time.time() + 1, UTC)
    assert (report.sent, report.other_errors) == (40, 0)
    assert report.succeeded + report.model_errors == 40
    assert sum(t.succeeded + t.model_errors for t in report.by_variant.values()) == 40
    assert report.by_variant["v1"].model_errors == 0
    assert report.model_errors == report.by_variant["v2"].model_errors == report.errors["ModelError"]
    for name in ("v1", "v2"):  # what the router recorded is what the generator saw
        seen = target.read_metrics(EP, name, start, end, "p50")
        tally = report.by_variant[name]
        assert (seen.invocations, seen.errors_5xx) == (
            tally.succeeded + tally.model_errors,
            tally.model_errors,
        )


def test_replay_sends_rows_as_a_json_array_of_records(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(EP, [VariantSpec(1, "fake:ok")], {"v1": 100.0})
    import boto3

    rows = rows_from(FRAME, ["tenure", "plan"])
    report = replay(router_url(state_dir), EP, rows, max_requests=1, max_seconds=30, rows_per_request=2)
    assert report.succeeded == 1
    client = boto3.session.Session().client(
        "sagemaker-runtime",
        endpoint_url=router_url(state_dir),
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    from cd.rollout.local.traffic import json_records

    echoed = json.loads(client.invoke_endpoint(EndpointName=EP, Body=json_records(rows[:2]))["Body"].read())[
        "echo"
    ]
    assert json.loads(echoed) == [{"tenure": 1, "plan": "basic"}, {"tenure": 2, "plan": "pro"}]


def test_replay_stops_at_its_time_budget(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(EP, [VariantSpec(1, "fake:ok")], {"v1": 100.0})
    report = replay(
        router_url(state_dir), EP, [{"x": 1}], max_requests=10**9, max_seconds=0.5, rate_per_second=20
    )
    assert 0 < report.sent < 10**9


def test_background_traffic_runs_until_stopped(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(EP, [VariantSpec(1, "fake:ok")], {"v1": 100.0})
    traffic = BackgroundTraffic(
        router_url(state_dir), EP, [{"x": 1}], max_requests=10**6, max_seconds=60
    ).start()
    deadline = time.monotonic() + 30
    while (
        target.read_metrics(EP, "v1", datetime.fromtimestamp(0, UTC), datetime.now(UTC), "p99").invocations
        < 5
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    report = traffic.stop()
    assert report.sent >= 5 and report.succeeded == report.sent


def test_the_generator_refuses_non_loopback_addresses() -> None:
    with pytest.raises(UsageError, match=r"only sends to loopback addresses, not 'http://10\.0\.0\.1:8080'"):
        replay("http://10.0.0.1:8080", EP, [{"x": 1}], max_requests=1, max_seconds=1)
