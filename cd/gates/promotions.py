"""`modelcd gate`: which promotions a run judges, judging each, and the run's overall verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cd.errors import UsageError
from cd.gates.thresholds import VerdictOutcome, overall_verdict
from cd.gates.verdict import GateVerdict

if TYPE_CHECKING:
    from cd.plan import Plan
    from cd.workspace import Workspace

RunVerdict = Literal["pass", "fail", "inconclusive", "none"]


@dataclass(frozen=True)
class GateRun:
    verdicts: tuple[GateVerdict, ...]

    @property
    def overall(self) -> RunVerdict:
        return run_verdict([v.verdict for v in self.verdicts])

    @property
    def passed(self) -> bool:
        """Nothing to judge passes (a PR that promotes nothing is not blocked by its gates)."""
        return self.overall in ("pass", "none")


def run_verdict(verdicts: Sequence[VerdictOutcome]) -> RunVerdict:
    """`none` when there was nothing to judge; else fail > inconclusive > pass over the verdicts."""
    return overall_verdict(list(verdicts)) if verdicts else "none"


def promotions_to_judge(plan: Plan) -> list[tuple[str, str, int | None]]:
    """(environment, model, version) for every version new to an environment: added, promoted, or a
    challenger joining an experiment."""
    from cd.plan import GATED_KINDS

    return [(c.env, c.model, c.to_version) for c in plan.changes if c.kind in GATED_KINDS]


def judge_promotions(
    ws: Workspace,
    *,
    env: str | None,
    model: str | None,
    all_in_plan: bool,
    base: str,
    head: str,
    out: Path | None,
    version: int | None = None,
) -> GateRun:
    """Judge one promotion (`env`, `model`, and `version` when it is a challenger) or every promotion in
    the plan between `base` and `head`; write each verdict's JSON and Markdown to `out` when given."""
    from cd.gates.evaluate import evaluate_promotion
    from cd.gates.publish import write_outputs
    from cd.plan import note_uncommitted, plan_between_refs

    targets = _targets(env, model, all_in_plan, version)
    if head == "HEAD":
        note_uncommitted(ws)
    if targets is None:
        targets = promotions_to_judge(plan_between_refs(ws.root, base, head))
    registry = ws.registry()
    verdicts = [evaluate_promotion(ws.root, e, m, base, head, registry, v) for e, m, v in targets]
    if out is not None:
        for verdict in verdicts:
            write_outputs(verdict, out)
    return GateRun(tuple(verdicts))


def _targets(
    env: str | None, model: str | None, all_in_plan: bool, version: int | None
) -> Sequence[tuple[str, str, int | None]] | None:
    if all_in_plan:
        if env or model or version is not None:
            raise UsageError(
                "--all judges every promotion in the plan; do not combine it with --env/--model/--version"
            )
        return None
    if not env or not model:
        raise UsageError("give --env and --model, or --all")
    return [(env, model, version)]
