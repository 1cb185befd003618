"""The demo's scratch workspace: a git repository made from the template, its own MLflow store and
releases folder. Everything the demo writes stays inside it; the CLI runs in it as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cd.errors import ModelcdError
from cd.files import write_atomic

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_ROOT = PACKAGE_DIR.parent.parent  # the project checkout holding models/, gates/, environments/
TEMPLATE_DIRS = ("models", "gates")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Dana Scientist",
    "GIT_AUTHOR_EMAIL": "dana@example.com",
    "GIT_COMMITTER_NAME": "Dana Scientist",
    "GIT_COMMITTER_EMAIL": "dana@example.com",
}


class DemoError(ModelcdError):
    """A demo step did not do what the story needs; the message says which step and why."""


@dataclass(frozen=True)
class Completed:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    def env(self) -> dict[str, str]:
        """The environment every command runs with: the workspace's own MLflow, no GitHub settings."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))}
        project = str(TEMPLATE_ROOT)
        path = base.get("PYTHONPATH", "")
        return {
            **base,
            **GIT_IDENTITY,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "BENTOML_DO_NOT_TRACK": "true",
            "PYTHONPATH": project + (os.pathsep + path if path else ""),
        }

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=self.env(), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise DemoError(f"git {' '.join(args)} failed in {self.root}: {done.stderr.strip()}")
        return done.stdout.strip()

    def modelcd(
        self, *args: str, check: bool = True, extra_env: Mapping[str, str] | None = None, timeout: float = 900
    ) -> Completed:
        """Run `modelcd ARGS` in the workspace as its own process, exactly as a user would."""
        done = subprocess.run(
            [sys.executable, "-m", "cd", *args],
            cwd=self.root,
            env={**self.env(), **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = Completed(tuple(args), done.returncode, done.stdout, done.stderr)
        if check and done.returncode != 0:
            raise DemoError(
                f"`modelcd {' '.join(args)}` exited {done.returncode}:\n{done.stdout[-3000:]}"
                f"{done.stderr[-3000:]}"
            )
        return result

    def python(self, script: str, *args: str) -> Completed:
        done = subprocess.run(
            [sys.executable, script, *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise DemoError(f"`python {script}` exited {done.returncode}:\n{done.stderr[-3000:]}")
        return Completed((script, *args), done.returncode, done.stdout, done.stderr)

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()

    def write(self, rel: str, text: str) -> None:
        write_atomic(self.root / rel, text)

    def set_version(self, env: str, model: str, version: int) -> None:
        """Edit `environments/<env>.yaml` the way a data scientist does: the version line only."""
        from cd.promote import set_model_version

        rel = f"environments/{env}.yaml"
        self.write(rel, set_model_version(self.read(rel), model, version, path=rel))

    def commit(self, message: str, *paths: str) -> str:
        """Commit `paths` (everything not ignored when none are given)."""
        self.git("add", *(paths or ("-A",)))
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def stop_leftovers(root: Path) -> None:
    """Stop local serving processes a previous run of the demo left in `root` (if any)."""
    if (root / ".git").is_dir():
        Workspace(root).modelcd("local", "down", check=False, timeout=120)


def create(root: Path, environments_dir: Path = PACKAGE_DIR / "environments") -> Workspace:
    """A fresh workspace: the template's models/ and gates/, the demo environments, one commit on main."""
    stop_leftovers(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for name in TEMPLATE_DIRS:
        shutil.copytree(TEMPLATE_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(environments_dir, root / "environments")
    (root / ".gitignore").write_text(
        "# outputs of the story, not desired state\nmlflow.db\nmlartifacts/\n.modelcd/\nartifacts/\nreports/\nreleases/\n"
    )
    ws = Workspace(root)
    ws.git("init", "-q", "-b", "main")
    return ws
