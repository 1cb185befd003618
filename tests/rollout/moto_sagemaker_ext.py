"""What moto 5.2's SageMaker backend lacks and the rollout relies on, added the way the real API behaves.

moto implements CreateEndpoint, DescribeEndpoint, endpoint configs, models, tags and
UpdateEndpointWeightsAndCapacities, but not UpdateEndpoint, and every change is instantaneous. Real
SageMaker (API reference, UpdateEndpoint / UpdateEndpointWeightsAndCapacities / DescribeEndpoint):

- CreateEndpoint, UpdateEndpoint and UpdateEndpointWeightsAndCapacities return at once; the endpoint is
  `Creating` / `Updating` for a while; while it is, another update fails with
  `ValidationException: Cannot update in-progress endpoint`.
- When an update completes, DescribeEndpoint shows the new `EndpointConfigName` and the new config's
  variants (`DesiredWeight` = `CurrentWeight` = `InitialVariantWeight`, 0 included).
- When an update fails, SageMaker rolls back: the endpoint is `InService` again on the *previous*
  config with `FailureReason` set; if that rollback fails it is `UpdateRollbackFailed`; an endpoint
  can also end `Failed`.
- AddTags overwrites the value of a key that exists (moto appends a duplicate key).
- CreateEndpointConfig's `ShadowProductionVariants` are kept and shown by DescribeEndpointConfig, and
  the endpoint's live shadow variants by DescribeEndpoint (moto drops them).

`install(monkeypatch)` patches moto for one test; `ENDPOINT_BEHAVIOUR` controls how many DescribeEndpoint calls
see the transitional status and how the next update ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

UpdateOutcome = Literal["ok", "rollback", "failed", "rollback_failed"]


@dataclass
class EndpointBehaviour:
    transitional_describes: int = 1  # DescribeEndpoint calls that still see Creating/Updating
    next_update_outcomes: list[UpdateOutcome] = field(default_factory=list)  # consumed one per update

    def take_outcome(self) -> UpdateOutcome:
        return self.next_update_outcomes.pop(0) if self.next_update_outcomes else "ok"


ENDPOINT_BEHAVIOUR = EndpointBehaviour()


@dataclass
class _Pending:
    remaining: int
    outcome: UpdateOutcome
    config_name: str | None = None  # UpdateEndpoint
    variants: list[dict[str, Any]] | None = None
    shadows: list[dict[str, Any]] | None = None
    weights: list[dict[str, Any]] | None = None  # UpdateEndpointWeightsAndCapacities


def _variants_from_config(production_variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for pv in production_variants:
        weight = float(pv.get("InitialVariantWeight", 1.0))
        count = pv.get("InitialInstanceCount", 1)
        out.append(
            {
                "VariantName": pv["VariantName"],
                "DesiredWeight": weight,
                "CurrentWeight": weight,
                "DesiredInstanceCount": count,
                "CurrentInstanceCount": count,
            }
        )
    return out


def _settle(endpoint: Any) -> None:  # a moto FakeEndpoint, whose attributes moto types loosely
    """One DescribeEndpoint passes: finish the pending change when its time has come."""
    pending: _Pending | None = getattr(endpoint, "_modelcd_pending", None)
    if pending is None:
        return
    if pending.remaining > 0:
        pending.remaining -= 1
        return
    endpoint._modelcd_pending = None
    if pending.outcome == "ok":
        endpoint.endpoint_status = "InService"
        endpoint.failure_reason = None
        if pending.config_name is not None:
            endpoint.endpoint_config_name = pending.config_name
            endpoint.production_variants = pending.variants
            endpoint._modelcd_shadows = pending.shadows or []
        for w in pending.weights or []:
            for v in endpoint.production_variants:
                if v["VariantName"] == w["VariantName"]:
                    if w.get("DesiredWeight") is not None:
                        v["DesiredWeight"] = v["CurrentWeight"] = float(w["DesiredWeight"])
                    if w.get("DesiredInstanceCount") is not None:
                        v["DesiredInstanceCount"] = v["CurrentInstanceCount"] = w["DesiredInstanceCount"]
    elif pending.outcome == "rollback":
        endpoint.endpoint_status = "InService"
        endpoint.failure_reason = "Update failed: insufficient capacity for the new variant; rolled back."
    elif pending.outcome == "failed":
        endpoint.endpoint_status = "Failed"
        endpoint.failure_reason = "The primary container for production variant failed the ping health check."
    else:
        endpoint.endpoint_status = "UpdateRollbackFailed"
        endpoint.failure_reason = "Update failed and the rollback failed."


def _endpoint(backend: SageMakerModelBackend, name: str) -> FakeEndpoint:
    try:
        return backend.endpoints[name]
    except KeyError:
        arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.") from None


def _refuse_if_in_progress(endpoint: FakeEndpoint) -> None:
    if endpoint.endpoint_status != "InService":
        raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')


def _start(endpoint: FakeEndpoint, pending: _Pending, status: str) -> None:
    endpoint.endpoint_status = status
    endpoint._modelcd_pending = pending  # type: ignore[attr-defined]
    if pending.remaining == 0:
        _settle(endpoint)


def _refuse_removing_a_scaled_variant(
    backend: SageMakerModelBackend, endpoint: FakeEndpoint, config: dict[str, Any]
) -> None:
    """AWS (SageMaker developer guide, "Automatically scale models"): before an update removes a variant
    that has auto scaling, deregister the variant's scalable target; else the update fails. moto does not
    check this; the extension does, with Application Auto Scaling's own (moto) state."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    scaling = applicationautoscaling_backends[backend.account_id][backend.region_name]
    kept = {v["VariantName"] for v in config["ProductionVariants"]}
    for variant in endpoint.production_variants:
        name = variant["VariantName"]
        resource = f"endpoint/{endpoint.endpoint_name}/variant/{name}"
        registered = scaling.describe_scalable_targets("sagemaker", [resource], None)
        if name not in kept and registered:
            raise ValidationError(
                message=f"The variant {name} of endpoint {endpoint.endpoint_name} has automatic scaling; "
                "deregister its scalable target before removing it"
            )


def install(monkeypatch: pytest.MonkeyPatch) -> EndpointBehaviour:
    """Patch moto's SageMaker for the current test; returns the (reset) behaviour controls."""
    ENDPOINT_BEHAVIOUR.transitional_describes = 1
    ENDPOINT_BEHAVIOUR.next_update_outcomes = []
    original_create = SageMakerModelBackend.create_endpoint
    original_describe_config = SageMakerModelBackend.describe_endpoint_config
    original_create_config_response = SageMakerResponse.create_endpoint_config

    def create_endpoint(
        self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, tags: Any
    ) -> Any:
        endpoint = original_create(self, endpoint_name, endpoint_config_name, tags)
        config = self.describe_endpoint_config(endpoint_config_name)
        endpoint.production_variants = _variants_from_config(config["ProductionVariants"])
        endpoint._modelcd_shadows = _variants_from_config(config.get("ShadowProductionVariants", []))  # type: ignore[attr-defined]
        _start(endpoint, _Pending(ENDPOINT_BEHAVIOUR.transitional_describes, "ok"), "Creating")
        return endpoint

    def describe_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> dict[str, Any]:
        endpoint = _endpoint(self, endpoint_name)
        _settle(endpoint)
        shadows = getattr(endpoint, "_modelcd_shadows", [])
        return {**endpoint.response_object, **({"ShadowProductionVariants": shadows} if shadows else {})}

    def describe_endpoint_config(self: SageMakerModelBackend, name: str) -> dict[str, Any]:
        described = original_describe_config(self, name)
        shadows = getattr(self.endpoint_configs.get(name), "_modelcd_shadows", None)
        return {**described, **({"ShadowProductionVariants": shadows} if shadows else {})}

    def create_endpoint_config_response(self: SageMakerResponse) -> ActionResult:
        result = original_create_config_response(self)
        shadows = self._get_param("ShadowProductionVariants")
        if shadows:
            config = self.sagemaker_backend.endpoint_configs[self._get_param("EndpointConfigName")]
            config._modelcd_shadows = shadows  # type: ignore[attr-defined]
        return result

    def update_endpoint(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str) -> str:
        endpoint = _endpoint(self, endpoint_name)
        config = self.describe_endpoint_config(endpoint_config_name)
        _refuse_if_in_progress(endpoint)
        _refuse_removing_a_scaled_variant(self, endpoint, config)
        pending = _Pending(
            ENDPOINT_BEHAVIOUR.transitional_describes,
            ENDPOINT_BEHAVIOUR.take_outcome(),
            config_name=endpoint_config_name,
            variants=_variants_from_config(config["ProductionVariants"]),
            shadows=_variants_from_config(config.get("ShadowProductionVariants", [])),
        )
        _start(endpoint, pending, "Updating")
        return endpoint.arn

    def update_weights(
        self: SageMakerModelBackend, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]
    ) -> str:
        endpoint = _endpoint(self, endpoint_name)
        _refuse_if_in_progress(endpoint)
        names = {v["VariantName"] for v in endpoint.production_variants}
        for w in desired_weights_and_capacities:
            if w["VariantName"] not in names:
                raise ValidationError(
                    message=f'The variant name(s) "{w["VariantName"]}" is/are not present within endpoint '
                    f'configuration "{endpoint.endpoint_config_name}".'
                )
        pending = _Pending(
            ENDPOINT_BEHAVIOUR.transitional_describes,
            ENDPOINT_BEHAVIOUR.take_outcome(),
            weights=desired_weights_and_capacities,
        )
        _start(endpoint, pending, "Updating")
        return endpoint.arn

    def add_tags(self: SageMakerModelBackend, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
        resource = self._get_resource_from_arn(arn)
        new = {t["Key"]: t["Value"] for t in tags}
        resource.tags = [t for t in resource.tags if t["Key"] not in new] + [
            {"Key": k, "Value": v} for k, v in new.items()
        ]
        return resource.tags

    def update_endpoint_response(self: SageMakerResponse) -> ActionResult:
        arn = self.sagemaker_backend.update_endpoint(  # type: ignore[attr-defined]
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
        )
        return ActionResult({"EndpointArn": arn})

    monkeypatch.setattr(SageMakerModelBackend, "create_endpoint", create_endpoint)
    monkeypatch.setattr(SageMakerModelBackend, "describe_endpoint", describe_endpoint)
    monkeypatch.setattr(SageMakerModelBackend, "update_endpoint", update_endpoint, raising=False)
    monkeypatch.setattr(SageMakerModelBackend, "update_endpoint_weights_and_capacities", update_weights)
    monkeypatch.setattr(SageMakerModelBackend, "add_tags", add_tags)
    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint_response, raising=False)
    monkeypatch.setattr(SageMakerModelBackend, "describe_endpoint_config", describe_endpoint_config)
    monkeypatch.setattr(SageMakerResponse, "create_endpoint_config", create_endpoint_config_response)
    return ENDPOINT_BEHAVIOUR
