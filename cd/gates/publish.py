"""Where a verdict goes: `<out>/gate-<env>-<model>-v<N>.json`, `.md` and `.html`, each written atomically."""

from __future__ import annotations

from pathlib import Path

from cd.files import write_atomic
from cd.gates.report import render_markdown
from cd.gates.verdict import GateVerdict


def output_stem(v: GateVerdict) -> str:
    return f"gate-{v.environment}-{v.model}-v{v.candidate.version}"


def write_outputs(v: GateVerdict, out_dir: Path) -> tuple[Path, Path]:
    """`<out>/gate-<env>-<model>-v<N>.json` and `.md` (returned), and the HTML report beside them."""
    from cd.reports.html import render_gate_html

    stem = output_stem(v)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    write_atomic(json_path, v.to_json())
    write_atomic(md_path, render_markdown(v))
    write_atomic(out_dir / f"{stem}.html", render_gate_html(v))
    return json_path, md_path
