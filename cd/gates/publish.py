"""Where a verdict goes: files in --out (atomic), the Actions job summary and step outputs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cd.gates.report import render_markdown
from cd.gates.verdict import GateVerdict


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_stem(v: GateVerdict) -> str:
    return f"gate-{v.environment}-{v.model}-v{v.candidate.version}"


def write_outputs(v: GateVerdict, out_dir: Path) -> tuple[Path, Path]:
    """`<out>/gate-<env>-<model>-v<N>.json` and `.md`."""
    stem = output_stem(v)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    _write_atomic(json_path, v.to_json())
    _write_atomic(md_path, render_markdown(v))
    return json_path, md_path


def append_step_summary(markdown: str) -> bool:
    """Append to `$GITHUB_STEP_SUMMARY` when running in Actions; False when it is not set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip("\n") + "\n\n")
    return True


def append_step_outputs(values: dict[str, str]) -> bool:
    """Append `key=value` lines to `$GITHUB_OUTPUT` when set (values are single-line by construction)."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return False
    with open(target, "a", encoding="utf-8") as fh:
        for key, value in values.items():
            fh.write(f"{key}={value.replace(chr(10), ' ')}\n")
    return True
