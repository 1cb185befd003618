"""The sticky PR comment and the commit statuses, rendered from the plan and the gate results. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cd.github.gate_results import GateResult, PlannedChange, result_key

STICKY_MARKER = "<!-- modelcd:sticky -->"
STATUS_CONTEXT_PREFIX = "modelcd/gate "
MAX_COMMENT_CHARS = 65_000  # GitHub refuses bodies over 65,536 characters
MAX_STATUS_DESCRIPTION = 140

StatusState = Literal["success", "failure", "error", "pending"]

MARKS = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "inconclusive": "⚠️ inconclusive",
    "error": "💥 error",
    "missing": "❔ no verdict",
    "overridden": "🟢 overridden",
}


@dataclass(frozen=True)
class CommitStatus:
    context: str
    state: StatusState
    description: str
    target_url: str | None = None


def status_context(model: str, env: str, challenger: int | None = None) -> str:
    return STATUS_CONTEXT_PREFIX + result_key(model, env, challenger)


def parse_status_context(context: str) -> tuple[str, str] | None:
    """`modelcd/gate churn@production` -> ("churn", "production"); a challenger's
    `modelcd/gate churn v3@production` -> ("churn v3", "production")."""
    if not context.startswith(STATUS_CONTEXT_PREFIX):
        return None
    model, sep, env = context[len(STATUS_CONTEXT_PREFIX) :].partition("@")
    return (model, env) if sep and model and env else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _version(v: int | None) -> str:
    return "—" if v is None else f"v{v}"


def status_for(result: GateResult, target_url: str | None = None) -> CommitStatus:
    state: StatusState
    if result.override is not None and result.outcome == "overridden":
        state = "success"
        description = f"overridden by @{result.override.by}: {result.override.reason}"
    elif result.outcome == "pass":
        state, description = "success", result.summary or "gate passed"
    elif result.outcome in ("fail", "inconclusive"):
        state, description = "failure", result.summary or f"gate {result.outcome}"
    else:
        state, description = "error", result.summary or "the gate could not be evaluated"
    return CommitStatus(
        context=STATUS_CONTEXT_PREFIX + result.key,
        state=state,
        description=_clip(description.replace("\n", " "), MAX_STATUS_DESCRIPTION),
        target_url=target_url,
    )


def _headline(changes: Sequence[PlannedChange], results: Sequence[GateResult]) -> str:
    if not changes:
        return "no changes to deployed models"
    failed = [r for r in results if not r.passed]
    gates = f"{len(results)} gate{'s' if len(results) != 1 else ''}"
    if not results:
        return f"{len(changes)} change{'s' if len(changes) != 1 else ''}, nothing to gate"
    if failed:
        return f"{len(failed)} of {gates} not passed"
    return f"all {gates} passed"


def _plan_table(changes: Sequence[PlannedChange], results: Sequence[GateResult]) -> list[str]:
    by_key = {r.key: r for r in results}
    lines = ["| environment | model | change | from | to | gate |", "| --- | --- | --- | --- | --- | --- |"]
    for c in changes:
        result = by_key.get(c.key)
        gate = MARKS[result.outcome] if result else "not gated"
        lines.append(
            f"| {c.env} | {c.model} | {c.change} | {_version(c.from_version)} | {_version(c.to_version)} | {gate} |"
        )
    return lines


def _result_section(result: GateResult) -> list[str]:
    title = f"{result.key}: {MARKS[result.outcome]}"
    if result.summary:
        title += f" — {result.summary}"
    lines = [f"<details{' open' if not result.passed else ''}>", f"<summary>{title}</summary>", ""]
    if result.override is not None:
        lines += [f"> Overridden by @{result.override.by}: {result.override.reason}", ""]
    lines += [result.report_markdown.strip() or "_no report_", "", "</details>", ""]
    return lines


def render_comment(
    changes: Sequence[PlannedChange],
    results: Sequence[GateResult],
    *,
    run_url: str | None = None,
    head_sha: str | None = None,
) -> str:
    """The whole sticky comment body, starting with the hidden marker that finds it again."""
    lines = [STICKY_MARKER, f"## modelcd: {_headline(changes, results)}", ""]
    if changes:
        lines += [*_plan_table(changes, results), ""]
    footer = []
    if run_url:
        footer.append(f"[workflow run]({run_url})")
    if head_sha:
        footer.append(f"for `{head_sha[:7]}`")
    footer_text = " · ".join(footer)
    body = "\n".join(lines)
    for result in results:
        section = "\n".join(_result_section(result))
        if len(body) + len(section) + len(footer_text) + 200 > MAX_COMMENT_CHARS:
            body += f"\n_{result.key}: report too long for a comment; see the job summary._\n"
            continue
        body += "\n" + section
    return body.rstrip() + ("\n\n" + footer_text if footer_text else "") + "\n"
