"""Reading `.github/workflows/*.yml` for the structural tests and the step harness."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import PROJECT_ROOT

WORKFLOW_DIR = PROJECT_ROOT / ".github" / "workflows"
WORKFLOW_NAMES = (
    "pr-gate",
    "deploy",
    "drift",
    "promote",
    "ci",
    "override",
    "approvals",
    "reconcile",
    "monitor",
    "experiment",
)
SHA_PIN = re.compile(
    r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?P<comment>\s+#\s*(?P<version>\S+).*)?$"
)


@dataclass(frozen=True)
class Workflow:
    name: str
    path: Path
    text: str
    doc: dict[Any, Any]  # PyYAML may give non-string keys (`on` as True)

    @property
    def triggers(self) -> dict[str, Any]:
        # PyYAML (YAML 1.1) reads the key `on` as True.
        raw = self.doc.get("on", self.doc.get(True))
        if isinstance(raw, str):
            return {raw: None}
        if isinstance(raw, list):
            return dict.fromkeys(raw)
        return dict(raw or {})

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        return dict(self.doc["jobs"])

    def steps(self, job: str) -> list[dict[str, Any]]:
        return list(self.jobs[job].get("steps", []))


def load_workflow(name: str) -> Workflow:
    path = WORKFLOW_DIR / f"{name}.yml"
    text = path.read_text()
    return Workflow(name=name, path=path, text=text, doc=yaml.safe_load(text))


def all_workflows() -> list[Workflow]:
    return [load_workflow(p.stem) for p in sorted(WORKFLOW_DIR.glob("*.yml"))]


def run_steps(workflow: Workflow) -> list[tuple[str, dict[str, Any]]]:
    """(job, step) for every step with `run:`."""
    return [(job, step) for job in workflow.jobs for step in workflow.steps(job) if "run" in step]
