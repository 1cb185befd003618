"""Release notes and model card, rendered with jinja2 from cd/release/templates/."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cd.release.model import HistoryEntry, ModelCard, ReleaseInputs
from cd.release.plan import state_block

TEMPLATES = Path(__file__).resolve().parent / "templates"
BUILD_FIELDS = (
    ("bento_tag", "Bento tag"),
    ("image_digest", "image digest"),
    ("image_tag", "image tag"),
    ("base_image", "base image"),
    ("bento_sha256", "Bento archive sha256"),
    ("model_sha256", "model sha256"),
    ("python_version", "Python"),
    ("bentoml_version", "BentoML"),
    ("mlflow_version", "MLflow"),
)
MAX_CHECK_COLUMNS = 8


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
        autoescape=False,  # markdown, not HTML
    )


def render_model_card(card: ModelCard) -> str:
    return str(_environment().get_template("model_card.md.j2").render(card=card))


def verdict_summary(verdict: Mapping[str, Any]) -> str:
    """One line for a verdict dict, whatever its exact layout: pass/fail and the summary if any."""
    outcome = verdict.get("verdict", verdict.get("outcome", verdict.get("status")))
    if outcome is None and "passed" in verdict:
        outcome = "pass" if verdict["passed"] else "fail"
    text = str(outcome).upper() if outcome is not None else "UNKNOWN"
    summary = verdict.get("summary")
    return f"{text}: {summary}" if isinstance(summary, str) and summary else text


CHECK_COLUMNS = ["metric", "slice", "candidate", "incumbent", "change", "threshold", "outcome"]


def check_table(verdict: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per check of a modelcd verdict: candidate and incumbent with their intervals, the change with its
    interval, the thresholds and the outcome. Checks of another layout give no rows."""
    checks = verdict.get("checks")
    if not isinstance(checks, list):
        return [], []
    rows = [_check_row(c) for c in checks if isinstance(c, Mapping) and "metric" in c and "outcome" in c]
    return (CHECK_COLUMNS, rows) if rows else ([], [])


def estimate_cell(estimate: object) -> str:
    if not isinstance(estimate, Mapping) or estimate.get("value") is None:
        return "—"
    text = f"{estimate['value']:.4g}"
    low, high = estimate.get("ci_low"), estimate.get("ci_high")
    return f"{text} [{low:.4g}, {high:.4g}]" if low is not None and high is not None else text


def _threshold_cell(check: Mapping[str, Any]) -> str:
    thresholds = check.get("thresholds") or {}
    parts = []
    value = thresholds.get("value") or {}
    if value.get("min") is not None:
        parts.append(f"≥ {value['min']:g}")
    if value.get("max") is not None:
        parts.append(f"≤ {value['max']:g}")
    allowed = thresholds.get("allowed_delta")
    if allowed is not None:
        parts.append(f"change {'≥' if check.get('higher_is_better') else '≤'} {allowed:+.4g}")
    return "; ".join(parts) or "—"


def _check_row(check: Mapping[str, Any]) -> list[str]:
    return [
        _cell(check.get("metric")),
        _cell(check.get("slice")),
        estimate_cell(check.get("candidate")),
        estimate_cell(check.get("incumbent")),
        estimate_cell(check.get("delta")),
        _threshold_cell(check),
        _cell(str(check.get("outcome"))),
    ]


def override_text(verdict: Mapping[str, Any]) -> str:
    """ "Overridden by @user: reason" when the verdict records a gate override."""
    override = verdict.get("override")
    if not override:
        return ""
    if isinstance(override, Mapping):
        who = override.get("by") or override.get("user") or "unknown"
        reason = override.get("reason") or ""
        return f"Gate overridden by @{str(who).lstrip('@')}" + (f": {reason}" if reason else "")
    return f"Gate overridden: {override}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_notes(inputs: ReleaseInputs, history: Sequence[HistoryEntry], checksums: Mapping[str, str]) -> str:
    verdict = dict(inputs.verdict) if inputs.verdict is not None else None
    columns, rows = check_table(verdict) if verdict is not None else ([], [])
    return str(
        _environment()
        .get_template("notes.md.j2")
        .render(
            inputs=inputs,
            verdict=verdict,
            verdict_summary=verdict_summary(verdict) if verdict is not None else "",
            override=override_text(verdict or {}) or override_text({"override": inputs.gate_override}),
            check_columns=columns,
            check_rows=rows,
            build_fields=BUILD_FIELDS,
            card_markdown=render_model_card(inputs.card).split("\n", 2)[-1],
            history=list(history),
            checksums=dict(checksums),
            state_block=state_block(history, checksums),
        )
    )
