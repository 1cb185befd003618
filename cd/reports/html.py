"""Render the static HTML reports (jinja2, autoescaped; charts are `cd.reports.svg`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cd.reports.svg import BarChart, Series, bar_chart

if TYPE_CHECKING:
    from cd.gates.verdict import GateVerdict
    from cd.monitor.judge import VariantDrift
    from cd.monitor.run import MonitorReport

TEMPLATES = Path(__file__).parent / "templates"


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _svg(chart: BarChart) -> Any:
    from markupsafe import Markup

    return Markup(bar_chart(chart))


def _drift_section(v: VariantDrift, against: str) -> dict[str, Any]:
    from cd.monitor.render import WORDS, variant_label

    features = [*v.features, *([v.prediction] if v.prediction else [])]
    charts = [
        _svg(
            BarChart(
                f"{f.feature}: share of rows per {'bin' if f.kind == 'numeric' else 'category'}",
                list(f.histogram.labels),
                [Series(f"live ({v.variant})", f.histogram.live), Series(against, f.histogram.reference)],
                "share of rows",
            )
        )
        for f in features
        if f.histogram.labels and f.outcome in ("drift", "shift")
    ]
    title = f"{variant_label(v.variant, v.version)} against {against}: {WORDS[v.outcome]}"
    return {"title": title, "features": features, "charts": charts}


def render_monitor_html(report: MonitorReport) -> str:
    from cd.monitor.render import WORDS, _num, headline

    data = report.to_dict()
    sections = [_drift_section(v, "reference") for v in report.variants]
    sections += [_drift_section(v, v.against) for v in report.comparisons]
    notes = list(report.notes) + list(report.problem_examples)
    if report.bad_lines or report.bad_records:
        notes.insert(
            0, f"unreadable: {report.bad_lines} lines, {report.bad_records} request bodies (skipped, counted)"
        )
    return (
        _environment()
        .get_template("monitor.html.j2")
        .render(
            title=f"Monitor: {report.model} in {report.environment}",
            generated=data["window"]["end"],
            r=report,
            headline=headline(report),
            window=data["window"],
            sections=sections,
            notes=notes,
            words=WORDS,
            num=_num,
        )
    )


def gate_charts(v: GateVerdict) -> list[Any]:
    from cd.gates.report import build_charts

    charts = []
    for chart in build_charts(v):
        rows = [c for c in v.checks if c.metric == chart.metric]
        failing = {c.slice for c in rows if c.outcome in ("fail", "inconclusive")}
        series = [Series(f"candidate v{v.candidate.version}", chart.candidate)]
        if chart.incumbent is not None and v.incumbent is not None:
            series.append(Series(f"incumbent v{v.incumbent.version}", chart.incumbent))
        charts.append(
            _svg(
                BarChart(
                    chart.title,
                    chart.labels,
                    series,
                    chart.metric,
                    [label in failing for label in chart.labels],
                )
            )
        )
    return charts


def render_gate_html(v: GateVerdict) -> str:
    from cd.gates.report import format_estimate, importance_chart, reading, shap_chart

    importance = []
    for chart in (importance_chart(v), shap_chart(v)):
        if chart is None:
            continue
        series = [Series(f"candidate v{v.candidate.version}", chart.candidate)]
        if chart.incumbent is not None and v.incumbent is not None:
            series.append(Series(f"incumbent v{v.incumbent.version}", chart.incumbent))
        importance.append(_svg(BarChart(chart.title, chart.labels, series, chart.metric)))

    return (
        _environment()
        .get_template("gate.html.j2")
        .render(
            title=f"Gate {v.verdict.upper()}: {v.model} v{v.candidate.version} → {v.environment}",
            generated="",
            v=v,
            reading=reading(v),
            charts=gate_charts(v),
            importance=importance,
            est=format_estimate,
        )
    )
