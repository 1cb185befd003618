"""The one check branch protection requires: the commit status `modelcd/required`. It always arrives,
and passes when nothing needs a gate.

A workflow with `paths:` filters never runs for a code-only PR, so a check it would report never
arrives and the PR waits forever. pr-gate runs on every PR and merge group instead; its last job runs
`modelcd required-check` whatever happened before (`if: always()`), with the other jobs' results
(`toJSON(needs)`) and the verdicts. It posts `modelcd/required`:
- failure when a job failed (validate and plan, report), naming it;
- failure when a gate did not pass and was not overridden, naming the gates. `/modelcd override`
  turns it green when the override leaves no failed gate;
- success otherwise, with "no promotion to gate" for a PR that changes no model version.
It is a commit status, not the job's own check, because an override must be able to change it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cd.errors import UsageError
from cd.github.gate_results import GateResult

PASSING = frozenset({"success", "skipped"})
CONTEXT = "modelcd/required"
GATES_FAILED = "gates not passed: "
JUDGED_BY_VERDICTS = frozenset({"gate"})  # a failed gate job shows in its verdicts (or their absence)


@dataclass(frozen=True)
class RequiredCheck:
    results: Mapping[str, str]  # job id -> result

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(job for job, result in self.results.items() if result not in PASSING)

    @property
    def passed(self) -> bool:
        return bool(self.results) and not self.failed

    def lines(self) -> list[str]:
        return [f"{job}: {result}" for job, result in self.results.items()]


def read_needs(text: str, source: str) -> RequiredCheck:
    """The `needs` context as JSON (`${{ toJSON(needs) }}`): job id -> {"result": ..., "outputs": ...}."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{source}: not the JSON of the `needs` context: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise UsageError(f"{source}: expected the `needs` context, a JSON object of jobs; got {text[:80]!r}")
    results = {}
    for job, value in data.items():
        if not isinstance(value, dict) or not isinstance(value.get("result"), str):
            raise UsageError(f"{source}: job {job!r} has no `result`")
        results[str(job)] = value["result"]
    return RequiredCheck(results)


def required_state(
    check: RequiredCheck, gates: Sequence[GateResult], overridden: frozenset[str]
) -> tuple[Literal["success", "failure"], str]:
    """The `modelcd/required` status (state, description) for these job results and gate results;
    `overridden`: gate keys (`model@env`) whose status an approver overrode."""
    jobs = [job for job in check.failed if job not in JUDGED_BY_VERDICTS]
    if jobs:
        return "failure", f"job {', '.join(jobs)} {check.results[jobs[0]]}: see the workflow run"
    failing = [g.key for g in gates if not g.passed and g.key not in overridden]
    if failing:
        return "failure", GATES_FAILED + ", ".join(failing)
    if not gates:
        return "success", "no promotion to gate"
    return "success", f"{len(gates)} gate{'s' if len(gates) != 1 else ''} passed" + (
        f" ({len(overridden & {g.key for g in gates})} overridden)" if overridden else ""
    )
