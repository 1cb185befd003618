"""A monitor report's files: JSON (machines), Markdown (GitHub), HTML (people; an Actions artifact)."""

from __future__ import annotations

import json
from pathlib import Path

from cd.files import write_atomic
from cd.monitor.run import MonitorReport


def output_stem(report: MonitorReport) -> str:
    return f"monitor-{report.environment}-{report.model}"


def write_outputs(report: MonitorReport, out_dir: Path) -> tuple[Path, ...]:
    from cd.monitor.render import render_markdown
    from cd.reports.html import render_monitor_html

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = output_stem(report)
    files = {
        out_dir / f"{stem}.json": json.dumps(report.to_dict(), indent=2) + "\n",
        out_dir / f"{stem}.md": render_markdown(report),
        out_dir / f"{stem}.html": render_monitor_html(report),
    }
    for path, text in files.items():
        write_atomic(path, text.encode())
    return tuple(files)
