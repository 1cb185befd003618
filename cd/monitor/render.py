"""Monitor reports for people: terminal text, Markdown with Mermaid charts (GitHub), Actions annotations."""

from __future__ import annotations

import math
from collections.abc import Iterable

from cd.gates.report import markdown_cell, mermaid_string
from cd.github.actions import annotation
from cd.monitor.judge import LiveQuality, QualityFigure, VariantDrift
from cd.monitor.run import MonitorReport
from cd.monitor.statistics import FeatureDrift

MARKS = {"drift": "❌", "shift": "〰️", "stable": "✅", "not_enough_data": "⏳"}
WORDS = {
    "drift": "drifted",
    "shift": "shifted (significant, small)",
    "stable": "stable",
    "not_enough_data": "not enough data",
}


def _num(x: float | None, digits: int = 4) -> str:
    if x is None or math.isnan(x):
        return "–"
    if x != 0 and abs(x) < 10**-digits:
        return f"{x:.1e}"
    return f"{x:.{digits}f}"


def variant_label(variant: str, version: int | None) -> str:
    """`v2` for modelcd's own variant names (they are the version), else `name (v2)`."""
    return variant if version is None or variant == f"v{version}" else f"{variant} (v{version})"


def feature_line(f: FeatureDrift) -> str:
    if f.outcome == "not_enough_data":
        return f"{f.feature}: not enough data ({f.live_rows} live rows)"
    test = "KS D" if f.test == "ks" else "chi²"
    effect = "PSI" if f.effect == "psi" else "JS"
    return (
        f"{f.feature}: {WORDS[f.outcome]} ({test} {_num(f.statistic)}, p {_num(f.p_value)}, "
        f"{effect} {_num(f.effect_size)}; {f.live_rows} live vs {f.reference_rows} reference rows)"
    )


def _all(v: VariantDrift) -> list[FeatureDrift]:
    return [*v.features, *([v.prediction] if v.prediction else [])]


def headline(report: MonitorReport) -> str:
    drifted = sorted({f.feature for v in report.variants for f in v.drifted_features})
    what = f": {', '.join(drifted)}" if drifted else ""
    return (
        f"{report.outcome.upper().replace('_', ' ')}: {report.model} in {report.environment}{what} "
        f"({report.rows} rows in {report.records} requests)"
    )


def render_text(report: MonitorReport) -> str:
    lines = [headline(report), f"  window {_window(report)}; reference {report.reference}"]
    for v in report.variants:
        lines.append(f"  {variant_label(v.variant, v.version)} against the reference: {WORDS[v.outcome]}")
        lines += [f"    {feature_line(f)}" for f in _all(v) if f.outcome != "stable"]
    for v in report.comparisons:
        lines.append(f"  {v.variant} against {v.against}, same window: {WORDS[v.outcome]}")
        lines += [f"    {feature_line(f)}" for f in _all(v) if f.outcome != "stable"]
    for q in report.quality:
        lines += _quality_lines(q)
    lines += _problem_lines(report)
    lines += [f"  note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def _window(report: MonitorReport) -> str:
    data = report.to_dict()["window"]
    return f"{data['start']} to {data['end']}"


def _offline(f: QualityFigure) -> str:
    if f.offline is None:
        return "not recorded"
    return f"{_num(f.offline)} [{_num(f.offline_low)}, {_num(f.offline_high)}]"


def _quality_lines(q: LiveQuality) -> list[str]:
    lines = [
        f"  live quality of {q.variant}: {q.labelled_rows} labelled rows ({q.unmatched_labels} labels unmatched)"
    ]
    for f in q.figures:
        offline = _offline(f)
        lines.append(f"    {f.metric}: live {_num(f.live)} [{_num(f.low)}, {_num(f.high)}], gate {offline}")
    return lines


def _problem_lines(report: MonitorReport) -> list[str]:
    if not (report.bad_lines or report.bad_records):
        return []
    lines = [
        f"  unreadable: {report.bad_lines} lines, {report.bad_records} request bodies (skipped, counted)"
    ]
    return lines + [f"    {e}" for e in report.problem_examples]


# ---------------------------------------------------------------- Markdown


def _feature_rows(v: VariantDrift) -> list[str]:
    rows = []
    for f in _all(v):
        test = "KS" if f.test == "ks" else "χ²"
        effect = "PSI" if f.effect == "psi" else "JS"
        rows.append(
            f"| {MARKS[f.outcome]} | {markdown_cell(f.feature)} | {f.kind} | {test} {_num(f.statistic)} | "
            f"{_num(f.p_value)} | {effect} {_num(f.effect_size)} | {f.live_rows} | {f.reference_rows} |"
        )
    return rows


def histogram_chart(f: FeatureDrift, title: str) -> list[str]:
    """A Mermaid xychart: live shares as bars, reference shares as a line."""
    h = f.histogram
    if not h.labels:
        return []
    high = round(max(1e-9, *h.reference, *h.live) * 1.1, 4)
    return [
        "```mermaid",
        "xychart-beta",
        f"    title {mermaid_string(title)}",
        f"    x-axis [{', '.join(mermaid_string(label) for label in h.labels)}]",
        f'    y-axis "share of rows" 0 --> {high}',
        f"    bar [{', '.join(f'{x:.4f}' for x in h.live)}]",
        f"    line [{', '.join(f'{x:.4f}' for x in h.reference)}]",
        "```",
        "",
        "Bars: live; line: reference.",
        "",
    ]


def _variant_section(v: VariantDrift, against: str) -> list[str]:
    lines = [
        f"### {MARKS[v.outcome]} `{variant_label(v.variant, v.version)}` against {against}: {WORDS[v.outcome]}",
        "",
        "| | feature | kind | statistic | p-value | effect size | live rows | baseline rows |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
        *_feature_rows(v),
        "",
    ]
    for f in v.drifted_features:
        lines += histogram_chart(f, f"{f.feature}: {v.variant} vs {against}")
    return lines


def render_markdown(report: MonitorReport) -> str:
    lines = [
        f"## {MARKS[report.outcome]} Monitor: `{report.model}` in {report.environment}",
        "",
        f"**{markdown_cell(headline(report))}**",
        "",
        f"Window {_window(report)} from `{markdown_cell(report.source)}`; reference "
        f"`{markdown_cell(report.reference)}`. A feature drifts when its test is significant "
        "(Bonferroni over the features) **and** its effect size is over the policy's limit.",
        "",
    ]
    for v in report.variants:
        lines += _variant_section(v, "the reference")
    for v in report.comparisons:
        lines += _variant_section(v, f"`{v.against}` on the same window")
    for q in report.quality:
        lines += _quality_markdown(q)
    problems = _problem_lines(report)
    if problems:
        lines += ["> [!WARNING]", *(f"> {markdown_cell(p.strip())}  " for p in problems), ""]
    lines += [f"> {markdown_cell(n)}" for n in report.notes]
    return "\n".join(lines).rstrip("\n") + "\n"


def _quality_markdown(q: LiveQuality) -> list[str]:
    pct = round(q.confidence * 100)
    lines = [
        f"### Live quality of `{variant_label(q.variant, q.version)}`",
        "",
        f"{q.labelled_rows} labelled rows joined by inference id ({q.unmatched_labels} labels unmatched); "
        f"{pct}% percentile bootstrap intervals.",
        "",
        "| metric | live | gate (offline, same version) |",
        "| --- | --- | --- |",
    ]
    for f in q.figures:
        offline = _offline(f)
        lines.append(f"| {f.metric} | {_num(f.live)} [{_num(f.low)}, {_num(f.high)}] | {offline} |")
    return [*lines, ""]


def workflow_annotations(report: MonitorReport) -> Iterable[str]:
    """A warning per drifted feature, on the environment file (what a person would change)."""
    for v in report.variants:
        for f in v.drifted_features:
            yield annotation(
                "warning",
                f"{report.model} {v.variant}: {feature_line(f)}",
                file=report.env_path or None,
                title=f"drift: {report.model} {f.feature} in {report.environment}",
            )
    if report.bad_lines or report.bad_records:
        yield annotation(
            "warning",
            f"{report.bad_lines} capture lines and {report.bad_records} request bodies could not be read",
            title=f"capture of {report.model} in {report.environment}",
        )
