"""The Markdown gate report (jinja2), as posted in the PR comment and the Actions job summary."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cd.gates.thresholds import Estimate
from cd.gates.verdict import CheckResult, GateVerdict

TEMPLATES = Path(__file__).parent / "templates"
MARKS = {
    "pass": "✅",
    "fail": "❌",
    "inconclusive": "⚠️",
    "underpowered": "🔅",
    "skipped": "⏭️",
    "undefined": "∅",
}
MAX_CHART_GROUPS = 16


@dataclass(frozen=True)
class Chart:
    title: str
    metric: str
    labels: list[str]
    candidate: list[float]
    incumbent: list[float] | None
    low: float
    high: float


def _num(x: float | None) -> str:
    return "nan" if x is None or math.isnan(x) else f"{x:.4f}"


def format_estimate(e: Estimate | None, signed: bool = False) -> str:
    if e is None:
        return "–"
    value = f"{e.value:+.4f}" if signed and not math.isnan(e.value) else _num(e.value)
    if e.low is None or e.high is None:
        return value
    return f"{value} [{_num(e.low)}, {_num(e.high)}]"


def format_threshold(c: CheckResult) -> str:
    parts = []
    if c.value_threshold is not None:
        if c.value_threshold.min is not None:
            parts.append(f"≥ {c.value_threshold.min:g}")
        if c.value_threshold.max is not None:
            parts.append(f"≤ {c.value_threshold.max:g}")
    if c.change_threshold is not None and c.allowed_delta is not None and not math.isnan(c.allowed_delta):
        parts.append(f"Δ {'≥' if c.higher_is_better else '≤'} {c.allowed_delta:+.4g}")
    elif c.change_threshold is not None:
        bits = []
        if c.change_threshold.absolute is not None:
            bits.append(f"{c.change_threshold.absolute:g}")
        if c.change_threshold.relative is not None:
            bits.append(f"{c.change_threshold.relative:.0%}")
        parts.append(f"worsening ≤ {' or '.join(bits)}")
    return ", ".join(parts) or "–"


def markdown_cell(text: object) -> str:
    """Text safe inside a Markdown table cell (data values such as slice labels are untrusted)."""
    return re.sub(r"([|`<>\[\]])", r"\\\1", str(text)).replace("\n", " ")


def mermaid_string(text: str) -> str:
    """A double-quoted Mermaid string: the text as written (`<12` stays `<12`), with the characters
    that would end the string or the statement replaced, and at most 40 characters."""
    cleaned = re.sub(r"[\"`\n\r;#]", "'", str(text))
    return '"' + cleaned[:40] + '"'


def _chart_rows(v: GateVerdict, metric: str) -> list[CheckResult]:
    """Every slice of `metric` that blocks, then the others in the verdict's order up to
    MAX_CHART_GROUPS: a blocking slice is never left out."""
    rows = [c for c in v.checks if c.metric == metric and c.outcome not in ("skipped", "undefined")]
    blocking = [c for c in rows if c.outcome in ("fail", "inconclusive")]
    room = max(0, MAX_CHART_GROUPS - len(blocking))
    others = [c for c in rows if c not in blocking][:room]
    kept = set(map(id, blocking + others))
    return [c for c in rows if id(c) in kept]


def _chart(v: GateVerdict, metric: str) -> Chart | None:
    rows = _chart_rows(v, metric)
    if not rows:
        return None

    def value(e: Estimate | None) -> float:
        return 0.0 if e is None or math.isnan(e.value) else round(e.value, 4)

    candidate = [value(c.candidate) for c in rows]
    incumbent = [value(c.incumbent) for c in rows] if v.incumbent else None
    values = candidate + (incumbent or [])
    high = max(1.0, max(values)) if all(0 <= x <= 1 for x in values) else max(values) * 1.1
    return Chart(
        title=f"{metric} by slice",
        metric=metric,
        labels=[c.slice for c in rows],
        candidate=candidate,
        incumbent=incumbent,
        low=0.0 if min(values) >= 0 else round(min(values) * 1.1, 4),
        high=round(high, 4),
    )


def importance_chart(v: GateVerdict) -> Chart | None:
    """Candidate (bars) vs incumbent (line): each top feature's permutation importance, overall."""
    from cd.gates.importance import top_rows

    if v.importance is None:
        return None
    rows = [(r.feature, r.candidate, r.incumbent) for r in top_rows(v.importance)]
    return _feature_chart(
        v, f"{v.importance.metric} lost when a feature is shuffled", v.importance.metric, rows
    )


def shap_chart(v: GateVerdict) -> Chart | None:
    """Candidate (bars) vs incumbent (line): each top feature's mean |SHAP value|, where computed."""
    if v.importance is None or v.importance.shap is None:
        return None
    return _feature_chart(v, "mean |SHAP value| per feature", "mean |SHAP|", v.importance.shap.top())


def _feature_chart(
    v: GateVerdict, title: str, metric: str, rows: Sequence[tuple[str, float, float | None]]
) -> Chart | None:
    if not rows:
        return None
    candidate = [round(cand, 4) for _, cand, _ in rows]
    incumbent = [round(inc or 0.0, 4) for _, _, inc in rows] if v.incumbent else None
    values = candidate + (incumbent or [])
    return Chart(
        title=title,
        metric=metric,
        labels=[feature for feature, _, _ in rows],
        candidate=candidate,
        incumbent=incumbent,
        low=round(min(0.0, min(values)) * 1.1, 4),
        high=round(max(1e-4, max(values)) * 1.1, 4),
    )


def build_charts(v: GateVerdict) -> list[Chart]:
    """Candidate (bars) vs incumbent (line) across slices: one chart per metric with a blocking
    check (showing every blocking slice), else one for the gate's first metric."""
    if not v.checks:
        return []
    blocking = [c.metric for c in v.checks if c.outcome in ("fail", "inconclusive")]
    metrics = list(dict.fromkeys(blocking)) or [v.checks[0].metric]
    return [chart for m in metrics if (chart := _chart(v, m)) is not None]


def error_rate(v: GateVerdict) -> str:
    """Which error rate the verdict controls, in words."""
    from cd.gates.family import controlled_rate

    if v.gate.decision == "point":
        return "none: `point` mode compares point values (no intervals, no error rate)"
    method = v.gate.multiplicity if v.gate.multiplicity in ("holm", "bh", "none") else "none"
    return controlled_rate(method, v.gate.alpha)  # type: ignore[arg-type]


def reading(v: GateVerdict) -> list[str]:
    """The verdict's first lines: how many checks ran, the error rate controlled, and what blocks,
    what is underpowered and what passed."""
    count = {o: len(v.checks_with(o)) for o in ("fail", "inconclusive", "underpowered", "pass")}
    blocking = count["fail"] + count["inconclusive"]
    other = len(v.checks) - sum(count.values())
    return [
        f"{len(v.checks)} checks ran; error rate controlled: {error_rate(v)}.",
        f"Blocking: {blocking} ({count['fail']} fail, {count['inconclusive']} inconclusive) · "
        f"underpowered: {count['underpowered']} (cannot confirm their tolerance; not passes, not blocking) · "
        f"passed: {count['pass']}" + (f" · skipped or undefined: {other}" if other else "") + ".",
    ]


def format_mde(c: CheckResult) -> str:
    return "–" if c.mde is None or math.isnan(c.mde) else f"{c.mde:.4f}"


def render_markdown(v: GateVerdict) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML; untrusted values go through the `cell` filter
    )
    env.filters["cell"] = markdown_cell
    env.filters["mermaid"] = mermaid_string
    blocking = [c for c in v.checks if c.outcome in ("fail", "inconclusive")]
    blocking.sort(key=lambda c: (c.outcome != "fail", c.slice_spec == "overall"))
    return env.get_template("gate_report.md.j2").render(
        v=v,
        blocking=blocking,
        charts=build_charts(v),
        importance=_importance_view(v, blocking),
        mark=lambda o: MARKS.get(o, o),
        est=format_estimate,
        threshold=format_threshold,
        mde=format_mde,
        reading=reading(v),
        underpowered=v.checks_with("underpowered"),
    )


def _importance_view(v: GateVerdict, blocking: list[CheckResult]) -> dict[str, object] | None:
    from cd.gates.importance import slice_story, top_rows

    if v.importance is None:
        return None
    stories = []
    for label in dict.fromkeys(c.slice for c in blocking if c.slice != "overall"):
        story = slice_story(v.importance, label)
        if story is not None:
            stories.append((label, story))
    return {
        "i": v.importance,
        "rows": top_rows(v.importance),
        "chart": importance_chart(v),
        "shap_chart": shap_chart(v),
        "stories": stories,
    }


def render_text(v: GateVerdict) -> str:
    """Plain text for a terminal: the summary, notes, and every blocking check."""
    lines = [v.headline(), *(f"  {line}" for line in reading(v))]
    lines += [f"  ! {n}" for n in v.notes]
    for c in sorted(v.checks, key=lambda c: c.outcome != "fail"):
        if c.outcome in ("fail", "inconclusive"):
            lines.append(
                f"  {c.outcome.upper():12} {c.metric} on {c.slice}: candidate {format_estimate(c.candidate)}"
                f" incumbent {format_estimate(c.incumbent)} delta {format_estimate(c.delta, signed=True)}"
            )
            lines += [f"               {r}" for r in c.reasons]
    return "\n".join(lines) + "\n"
