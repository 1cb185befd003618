"""The HTML reports in a real browser: Debian's Chromium, headless, driven by Playwright (no downloaded
browser). Each page must load with no console error, draw every chart, and show its labels as text.
Screenshots are kept in test-artifacts/ (CI keeps them with the run)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cd.config.model import DriftPolicy
from cd.gates.explain import shap_from_dict
from cd.gates.verdict import CheckResult, GateVerdict
from cd.monitor.judge import Reference, compare_variants, judge_variant
from cd.monitor.run import MonitorReport
from cd.reports.html import render_gate_html, render_monitor_html
from tests.gates.test_importance import IMPORTANCE, WITH_IMPORTANCE
from tests.gates.test_verdict_and_report import VERDICT, check
from tests.monitor.conftest import COLUMNS, customers

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("MODELCD_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing on CI: `make test` installs Debian's chromium (make browser)")
        pytest.skip("Debian's chromium is not installed here: `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def open_page(browser: Any, html: str, tmp_path: Path, name: str) -> tuple[Any, list[str]]:
    path = tmp_path / f"{name}.html"
    path.write_text(html)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(path.as_uri(), wait_until="load")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    return page, problems


def chart_sizes(page: Any) -> list[list[float]]:
    sizes: list[list[float]] = page.evaluate(
        "() => [...document.querySelectorAll('svg.chart')].map(s => {"
        " const r = s.getBoundingClientRect(); return [r.width, r.height, s.querySelectorAll('rect.bar').length]; })"
    )
    return sizes


def monitor_report() -> MonitorReport:
    import pandas as pd

    policy = DriftPolicy(min_rows=100)
    ref = pd.DataFrame(customers(2000, seed=1))
    live = pd.DataFrame(customers(1500, seed=2, charge_shift=30.0))
    canary = pd.DataFrame(customers(300, seed=3, charge_shift=30.0))
    scores = np.linspace(0.05, 0.95, 2000)
    drift = judge_variant(
        Reference("reference.csv", ref, scores), "v2", 2, live, np.linspace(0.2, 0.99, 1500), COLUMNS, policy
    )
    versus = compare_variants(
        "v2", live, np.linspace(0.2, 0.99, 1500), "v3", 3, canary, np.linspace(0.1, 0.9, 300), COLUMNS, policy
    )
    return MonitorReport(
        "staging", "churn", "demo-staging-churn", "/capture/demo-staging-churn", 1.7646e9, 1.7646e9 + 3600,
        1800, 1800, "reference.csv", (drift,), (versus,), (), 1, 0, ("capture.jsonl:7: not JSON",),
    )  # fmt: skip


def test_the_monitor_report_renders_its_charts_with_no_console_errors(browser: Any, tmp_path: Path) -> None:
    page, problems = open_page(browser, render_monitor_html(monitor_report()), tmp_path, "monitor-report")
    assert problems == []
    sizes = chart_sizes(page)
    assert sizes and all(w > 300 and h > 200 and bars > 0 for w, h, bars in sizes)
    assert "monthly_charges: share of rows per bin" in page.inner_text("body")


def test_the_gate_report_shows_every_failing_slice_with_labels_as_text(browser: Any, tmp_path: Path) -> None:
    failing = tuple(
        CheckResult(
            **{
                **vars(check("overall", "fail", 0.6, 0.9)),
                "slice_spec": "plan x region",
                "slice": f"plan=p{i}|region=r{i}",
            }
        )
        for i in range(20)
    )
    young = CheckResult(
        **{
            **vars(check("overall", "fail", 0.6, 0.9)),
            "slice_spec": "tenure_months",
            "slice": "tenure_months=<12",
        }
    )
    verdict = GateVerdict(**{**vars(VERDICT), "checks": (*VERDICT.checks, *failing, young)})
    page, problems = open_page(browser, render_gate_html(verdict), tmp_path, "gate-report")
    assert problems == []
    labels = page.evaluate(
        "() => [...document.querySelectorAll('svg.chart text.label')].map(t => t.textContent)"
    )
    assert "tenure_months=<12" in labels
    assert all(f"plan=p{i}|region=r{i}" in labels for i in range(20))
    assert all(w > 300 and h > 200 for w, h, _ in chart_sizes(page))


def test_the_gate_report_charts_permutation_importance_and_shap_values(browser: Any, tmp_path: Path) -> None:
    shap = shap_from_dict(
        {
            "rows": 50, "background": 50, "seed": 7, "seconds": 9.8,
            "candidate": [{"feature": "tenure_months", "mean_abs": 0.19}, {"feature": "autopay", "mean_abs": 0.05}],
            "incumbent": [{"feature": "tenure_months", "mean_abs": 0.2}, {"feature": "support_calls", "mean_abs": 0.14}],
            "flagged": [],
        }
    )  # fmt: skip
    verdict = GateVerdict(**{**vars(WITH_IMPORTANCE), "importance": replace(IMPORTANCE, shap=shap)})
    page, problems = open_page(browser, render_gate_html(verdict), tmp_path, "gate-importance")
    assert problems == []
    titles = page.evaluate(
        "() => [...document.querySelectorAll('svg.chart text.chart-title')].map(t => t.textContent)"
    )
    assert any("lost when a feature is shuffled" in t for t in titles), titles
    assert any("mean |SHAP value| per feature" in t for t in titles), titles
    labels = page.evaluate(
        "() => [...document.querySelectorAll('svg.chart text.label')].map(t => t.textContent)"
    )
    assert {"tenure_months", "autopay", "support_calls", "usage_gb"} <= set(labels)
