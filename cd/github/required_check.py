"""The one check branch protection requires: it always reports, and passes when nothing needs a gate.

A workflow with `paths:` filters never runs for a code-only PR, so a check it would report never
arrives and the PR waits forever. pr-gate runs on every PR and merge group instead; its last job
(`modelcd`) needs the others and calls `modelcd required-check` with their results (`toJSON(needs)`):
it passes when each of them succeeded or was skipped (no promotion to gate, no PR to comment on), and
fails otherwise, naming the job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from cd.errors import UsageError

PASSING = frozenset({"success", "skipped"})


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
