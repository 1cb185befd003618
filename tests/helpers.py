"""Helpers shared by every test area: real git repositories and the real CLI as a process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = ("models", "environments", "gates")


def run_modelcd(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    clean_aws: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m cd ARGS` as a real process with this checkout's package first on the path.
    With `clean_aws`, no AWS_* variable of this process is passed on (only those in `env`)."""
    drop = ("GITHUB_", "AWS_") if clean_aws else ("GITHUB_",)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    full_env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "cd", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "author@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@dataclass
class GitRepo:
    """A real git repository in a temp dir, seeded with the project's template."""

    path: Path

    def write(self, rel: str, text: str) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def remove(self, rel: str) -> None:
        target = self.path / rel
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()

    def commit(self, message: str) -> str:
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")

    def git(self, *args: str) -> str:
        return git(self.path, *args)


def make_template_repo(path: Path) -> GitRepo:
    """A git repo holding a copy of the template (models/, environments/, gates/), one commit."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name in TEMPLATE_DIRS:
        shutil.copytree(PROJECT_ROOT / name, path / name, ignore=shutil.ignore_patterns("__pycache__"))
    repo = GitRepo(path)
    repo.commit("template")
    return repo


EXPERIMENT_ROLLOUT = """  strategy: experiment
  steps:
    - set_weight: 30
    - experiment: 168h
  experiment:
    metric: retained
"""


def as_experiment(text: str, challengers: tuple[int, ...] = (), version: int | None = None) -> str:
    """A template environment file (`environments/*.yaml`) whose rollout is an experiment (30 % to each
    version beside stable, for a week, on `retained`); with `version`, churn is at it with `challengers`."""
    start, end = text.index("  strategy: canary"), text.index("  analysis:\n    min_requests")
    text = text[:start] + EXPERIMENT_ROLLOUT + text[end:]
    if version is None:
        return text
    listed = f"    challengers: [{', '.join(map(str, challengers))}]\n" if challengers else ""
    return re.sub(
        r"(\n  churn:\n)    version: \d+\n", rf"\g<1>    version: {version}\n{listed}", text, count=1
    )
