"""LocalEndpoints implements the rollout controller's Target contract with real processes on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cd.errors import TargetError
from cd.rollout.local import processes
from cd.rollout.local.statefile import ManagedProcess, StateFile
from cd.rollout.local.target import LocalEndpoints, config_name
from cd.rollout.target import ObservedVariant, RecordConflictError, Target, VariantSpec

from .conftest import VARIANT_SERVER

EP = "modelcd-test-churn"
V1 = VariantSpec(model_version=1, image="fake:ok")
V2 = VariantSpec(model_version=2, image="fake:errors=0.1")


def pid_of(state_dir: Path, variant: str) -> int:
    return StateFile(state_dir).read().endpoints[EP].variants[variant].process.pid


def test_local_target_satisfies_the_target_protocol(target: LocalEndpoints) -> None:
    assert isinstance(target, Target)


def test_an_endpoint_that_was_never_created_is_not_observed(target: LocalEndpoints) -> None:
    assert target.observe(EP) is None


def test_first_deploy_is_in_service_with_the_returned_config_and_weights(target: LocalEndpoints) -> None:
    name = target.apply_variants(EP, [V1], {"v1": 100.0})
    observed = target.observe(EP)
    assert observed is not None
    assert (observed.status, observed.config_name, observed.failure_reason) == ("InService", name, "")
    assert observed.variants == (ObservedVariant("v1", 1, "fake:ok", 100.0, 100.0, "ml.m5.large", 1),)
    assert observed.weights == {"v1": 100.0}


def test_applying_the_same_variant_set_again_returns_the_same_config_and_keeps_processes(
    target: LocalEndpoints, state_dir: Path
) -> None:
    first = target.apply_variants(EP, [V1, V2], {"v1": 100.0, "v2": 0.0})
    pids = (pid_of(state_dir, "v1"), pid_of(state_dir, "v2"))
    again = target.apply_variants(EP, [V1, V2], {"v1": 100.0, "v2": 0.0})
    assert again == first == config_name([V1, V2], {"v1": 100.0, "v2": 0.0})
    assert (pid_of(state_dir, "v1"), pid_of(state_dir, "v2")) == pids


def test_config_name_changes_with_the_variant_set_or_initial_weights() -> None:
    assert config_name([V1], {"v1": 100.0}) != config_name([V1, V2], {"v1": 100.0, "v2": 0.0})
    assert config_name([V1, V2], {"v1": 100.0, "v2": 0.0}) != config_name([V1, V2], {"v1": 0.0, "v2": 100.0})
    assert config_name([V2, V1], {"v1": 1.0, "v2": 0.0}) == config_name([V1, V2], {"v2": 0.0, "v1": 1.0})


def test_adding_a_candidate_keeps_the_stable_process_serving(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(EP, [V1], {"v1": 100.0})
    stable_pid = pid_of(state_dir, "v1")
    target.apply_variants(EP, [V1, V2], {"v1": 100.0, "v2": 0.0})
    assert pid_of(state_dir, "v1") == stable_pid
    observed = target.observe(EP)
    assert observed is not None
    assert [(v.name, v.current_weight) for v in observed.variants] == [("v1", 100.0), ("v2", 0.0)]


def test_set_weights_changes_only_the_named_variants_and_reads_back(target: LocalEndpoints) -> None:
    name = target.apply_variants(EP, [V1, V2], {"v1": 100.0, "v2": 0.0})
    target.set_weights(EP, {"v1": 75.0, "v2": 25.0})
    target.set_weights(EP, {"v2": 50.0})
    observed = target.observe(EP)
    assert observed is not None
    assert observed.config_name == name  # like UpdateEndpointWeightsAndCapacities: same config
    assert {v.name: (v.desired_weight, v.current_weight) for v in observed.variants} == {
        "v1": (75.0, 75.0),
        "v2": (50.0, 50.0),
    }


def test_set_weights_of_an_unknown_variant_or_negative_weight_is_refused(target: LocalEndpoints) -> None:
    target.apply_variants(EP, [V1], {"v1": 100.0})
    with pytest.raises(TargetError, match=f"local endpoint '{EP}' has no variant v7"):
        target.set_weights(EP, {"v7": 10.0})
    with pytest.raises(TargetError, match="negative weight for v1"):
        target.set_weights(EP, {"v1": -1.0})
    with pytest.raises(TargetError, match="local endpoint 'other' does not exist"):
        target.set_weights("other", {"v1": 1.0})


def test_removing_a_variant_stops_its_process(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(EP, [V1, V2], {"v1": 0.0, "v2": 100.0})
    old = StateFile(state_dir).read().endpoints[EP].variants["v1"].process
    target.apply_variants(EP, [V2], {"v2": 100.0})
    assert not processes.is_alive(old)
    state = StateFile(state_dir).read()
    assert sorted(state.endpoints[EP].variants) == ["v2"]
    assert str(old.pid) not in state.processes


def test_applying_again_restarts_a_crashed_variant(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(EP, [V1], {"v1": 100.0})
    crashed = StateFile(state_dir).read().endpoints[EP].variants["v1"].process
    processes.stop(crashed)
    target.apply_variants(EP, [V1], {"v1": 100.0})
    restarted = StateFile(state_dir).read().endpoints[EP].variants["v1"].process
    assert restarted.pid != crashed.pid and processes.is_alive(restarted)
    observed = target.observe(EP)
    assert observed is not None and observed.failure_reason == ""


def test_a_variant_that_cannot_start_is_an_error_and_changes_nothing(tmp_path: Path, state_dir: Path) -> None:
    def broken(image: str, port: int) -> list[str]:
        return [sys.executable, "-c", "import sys; print('model file missing'); sys.exit(3)"]

    good = LocalEndpoints(state_dir, serve_command=_fake, ready_timeout=20.0)
    name = good.apply_variants(EP, [V1], {"v1": 100.0})
    bad = LocalEndpoints(state_dir, serve_command=broken, ready_timeout=20.0)
    with pytest.raises(TargetError) as caught:
        bad.apply_variants(EP, [V1, V2], {"v1": 100.0, "v2": 0.0})
    message = str(caught.value)
    assert message.startswith(
        f"local endpoint '{EP}': variant v2 (fake:errors=0.1) did not start: server process"
    )
    assert "model file missing" in message  # the tail of its log
    observed = good.observe(EP)
    assert (
        observed is not None
        and observed.config_name == name
        and [v.name for v in observed.variants] == ["v1"]
    )
    assert [p.role for p in StateFile(state_dir).read().processes.values()].count("variant") == 1


def _fake(image: str, port: int) -> list[str]:
    from .conftest import fake_serve_command

    return fake_serve_command(image, port)


def test_write_record_merges_keys_and_observe_returns_them(target: LocalEndpoints) -> None:
    target.apply_variants(EP, [V1], {"v1": 100.0})
    target.write_record(EP, {"modelcd:desired": "2", "modelcd:step": "0"})
    target.write_record(EP, {"modelcd:step": "3"})
    observed = target.observe(EP)
    assert observed is not None and observed.record == {"modelcd:desired": "2", "modelcd:step": "3"}


def test_write_record_is_compare_and_set_on_the_revision(target: LocalEndpoints) -> None:
    target.apply_variants(EP, [V1], {"v1": 100.0})
    target.write_record(EP, {"modelcd:revision": "1", "modelcd:phase": "progressing"}, expect_revision="0")
    with pytest.raises(RecordConflictError, match="at revision 1, not 0"):
        target.write_record(EP, {"modelcd:revision": "1", "modelcd:phase": "paused"}, expect_revision="0")
    observed = target.observe(EP)
    assert observed is not None and observed.record["modelcd:phase"] == "progressing"


def test_write_record_refuses_what_sagemaker_tags_could_not_hold(target: LocalEndpoints) -> None:
    target.apply_variants(EP, [V1], {"v1": 100.0})
    with pytest.raises(TargetError, match="record value for 'k' is not a valid tag value"):
        target.write_record(EP, {"k": "x" * 257})
    with pytest.raises(TargetError, match="record key 'a,b' is not a valid tag key"):
        target.write_record(EP, {"a,b": "1"})
    with pytest.raises(TargetError, match="does not exist"):
        target.write_record("other", {"k": "v"})


def test_the_local_target_has_no_alarms(target: LocalEndpoints) -> None:
    assert target.alarms_in_alarm([]) == ()
    with pytest.raises(
        TargetError, match="the local target has no CloudWatch alarms, but the environment names p99"
    ):
        target.alarms_in_alarm(["p99"])


def test_cleanup_stops_leftovers_of_an_interrupted_run_but_never_a_live_variant(
    target: LocalEndpoints, state_dir: Path
) -> None:
    target.apply_variants(EP, [V1], {"v1": 100.0})
    # what an apply_variants killed after starting a process, before routing to it, leaves behind
    port = processes.free_port()
    argv = [sys.executable, str(VARIANT_SERVER), "--port", str(port), "--name", "orphan"]
    orphan = processes.start_detached(argv, state_dir / "logs" / "orphan.log")
    StateFile(state_dir).update(lambda s: s.with_process(ManagedProcess("variant", port, orphan, EP, "v2")))
    deleted = target.cleanup(EP, keep=[V1])
    assert deleted == (f"process {orphan.pid} (v2, port {port})",)
    assert not processes.is_alive(orphan)
    assert processes.is_alive(StateFile(state_dir).read().endpoints[EP].variants["v1"].process)
    assert target.cleanup(EP, keep=[V1]) == ()


def test_observe_restarts_a_router_that_died(target: LocalEndpoints, state_dir: Path) -> None:
    target.apply_variants(EP, [V1, V2], {"v1": 90.0, "v2": 10.0})
    old_router = StateFile(state_dir).read().router
    assert old_router is not None
    processes.stop(old_router.process)
    observed = target.observe(EP)
    assert observed is not None and {v.name: v.current_weight for v in observed.variants} == {
        "v1": 90.0,
        "v2": 10.0,
    }
    new_router = StateFile(state_dir).read().router
    assert new_router is not None and new_router.process.pid != old_router.process.pid
