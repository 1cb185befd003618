"""`modelcd gate --power`: what each check of a gate could detect on its dataset, before any candidate.

The version an environment runs (at `--base`) is scored on the gate's dataset with the gate's own
bootstrap. Per check and slice group: rows, positives, the metric's standard error, and the minimum
detectable effect at 80% power and the one-sided level α = (1 − confidence)/2:

- a value check: `(z₁₋α + z₀.₈) · se` of the metric;
- a change check: the same with `√2 · se`, the standard error of a difference between two models
  scored independently. Paired comparisons of similar models do better (the verdict's MDE uses the
  paired standard error it measures), so this is an upper bound: a check underpowered here may be
  powered in a verdict, never the reverse for positively correlated models.

A change check whose MDE exceeds its tolerance is marked underpowered: add rows (or positives), or
widen the tolerance, before relying on it.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cd.errors import GateError
from cd.gates.family import minimum_detectable
from cd.gates.thresholds import NO_INCUMBENT, allowed_worsening
from cd.gates.verdict import CheckResult

if TYPE_CHECKING:
    from cd.workspace import Workspace


@dataclass(frozen=True)
class PowerRow:
    metric: str
    slice: str
    examples: int
    positives: int | None
    value: float
    se: float | None
    mde: float | None  # of the value (value checks) or of a change (change checks)
    tolerance: float | None  # change checks: the tolerated worsening
    status: str  # "powered" | "underpowered" | "value only" | a reason it is not judged

    @property
    def underpowered(self) -> bool:
        return self.status == "underpowered"


@dataclass(frozen=True)
class PowerTable:
    model: str
    environment: str
    version: int
    rows: int
    alpha: float
    entries: tuple[PowerRow, ...]


def power_rows(checks: Sequence[CheckResult], alpha: float) -> tuple[PowerRow, ...]:
    """One row per check, from a reference model's estimates (pure)."""
    rows = []
    for c in checks:
        se = c.candidate.se
        # the reference scored alone is a first deploy: a change check "without incumbent" is still sized
        why_not = [r for r in c.reasons if r != NO_INCUMBENT]
        not_judged = se is None or (c.outcome in ("skipped", "undefined") and bool(why_not))
        if c.change_threshold is not None:
            tolerance = allowed_worsening(c.change_threshold, c.candidate.value)
            mde = minimum_detectable(None if se is None else math.sqrt(2.0) * se, alpha)
            status = "underpowered" if mde is not None and mde > tolerance else "powered"
        else:
            tolerance = None
            mde = minimum_detectable(se, alpha)
            status = "value only"
        if not_judged:
            status = "; ".join(why_not) or c.outcome
        rows.append(
            PowerRow(
                c.metric, c.slice, c.examples, c.positives, c.candidate.value, se, mde, tolerance, status
            )
        )
    return tuple(rows)


def power_table(ws: Workspace, environment: str, model: str, base: str) -> PowerTable:
    """The power table of `model`'s gate in `environment`, for the version it runs at `base`."""
    from dataclasses import replace

    from cd.config import load_repo_at_ref
    from cd.gates.dataset import load_dataset
    from cd.gates.evaluate import family_policy, gate_dataset, judge, predict
    from cd.gates.slicing import partitions

    config = load_repo_at_ref(ws.root, base)
    gate = config.gates.get(model)
    spec = config.models.get(model)
    env = config.environments.get(environment)
    if gate is None or spec is None:
        raise GateError(f"no gate for {model!r} at {base} (gates/{model}.yaml and models/{model}/model.yaml)")
    if env is None or model not in env.models:
        raise GateError(
            f"environment {environment!r} runs no {model} at {base}: the power table needs a version to score"
        )
    version = env.models[model].version
    dataset = gate_dataset(ws.root, base, None, gate.dataset)
    data = load_dataset(gate.dataset, ws.root, spec.inputs, spec.task, data=dataset.data)
    registry = ws.registry()
    ref = registry.resolve(spec.registered_model, version)
    with tempfile.TemporaryDirectory(prefix="modelcd-power-") as tmp:
        reference, _ = predict(registry, ref, data.frame, spec, gate, Path(tmp))
    judged = replace(gate, first_deploy="value_thresholds", decision="confident")
    checks = judge(judged, spec.task, partitions(data.frame, gate.slices), reference, None, data.rows)
    alpha = family_policy(gate).alpha
    return PowerTable(model, environment, version, data.rows, alpha, power_rows(checks, alpha))


def render_power(table: PowerTable) -> str:
    def num(x: float | None) -> str:
        return "–" if x is None or math.isnan(x) else f"{x:.4f}"

    lines = [
        f"power of the {table.model} gate on {table.rows} rows, scored with v{table.version} "
        f"(running in {table.environment}); MDE at 80% power, one-sided α = {table.alpha:.3g}",
        f"{'metric':<28} {'slice':<32} {'rows':>6} {'pos':>5} {'value':>7} {'se':>7} {'MDE':>7} {'tol':>7}  status",
    ]
    for r in table.entries:
        lines.append(
            f"{r.metric:<28} {r.slice[:32]:<32} {r.examples:>6} {'–' if r.positives is None else r.positives:>5} "
            f"{num(r.value):>7} {num(r.se):>7} {num(r.mde):>7} {num(r.tolerance):>7}  {r.status}"
        )
    under = sum(r.underpowered for r in table.entries)
    lines.append(f"{under} of {len(table.entries)} checks underpowered (MDE > tolerance)")
    return "\n".join(lines) + "\n"
