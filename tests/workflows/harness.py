"""Runs a workflow's jobs the way a GitHub-hosted runner would, as far as modelcd's workflows need:
jobs in `needs` order with their `if:`, matrices, `env:` at workflow/job/step level, `${{ }}`
expressions, `working-directory`, the default shell (`bash -e -o pipefail`), step `id`/outputs via
`$GITHUB_OUTPUT`, job outputs, `$GITHUB_PATH`, `$GITHUB_STEP_SUMMARY`, and artifacts between jobs.

`uses:` steps are simulated by the harness (it provides what they would): checkout (the workspace is
prepared by the test), setup-python (this interpreter), upload/download-artifact (a local store).
`make install` is the one `run:` the harness provides itself: it puts a `modelcd` that runs this
checkout's package on PATH through `$GITHUB_PATH`, as the real target does with the installed venv.
Every other `run:` executes for real.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from tests.helpers import PROJECT_ROOT
from tests.workflows.events import parse_output_file
from tests.workflows.workflow_files import Workflow

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||!|\(|\)|,|\[|\])|(?P<ident>[A-Za-z_][\w\-]*(?:\.[\w\-]+|\[\d+\])*))"
)


@dataclass
class StepResult:
    name: str
    command: str | None
    returncode: int
    stdout: str
    stderr: str
    skipped: bool = False


@dataclass
class JobResult:
    name: str
    result: str  # success | failure | skipped
    outputs: dict[str, str] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    matrix: dict[str, Any] = field(default_factory=dict)


class Expressions:
    """GitHub Actions expressions over a context, translated to a tiny Python evaluation."""

    def __init__(self, context: Mapping[str, Any], status: Callable[[str], bool]) -> None:
        self.context = context
        self.status = status

    def lookup(self, path: str) -> Any:
        node: Any = self.context
        for part in re.findall(r"[\w\-]+|\[\d+\]", path):
            if part.startswith("["):
                index = int(part[1:-1])
                node = node[index] if isinstance(node, list) and index < len(node) else None
            elif isinstance(node, Mapping):
                node = node.get(part)
            else:
                return None
        return node

    def evaluate(self, expression: str) -> Any:
        python: list[str] = []
        values: list[Any] = []
        pos = 0
        while pos < len(expression):
            match = TOKEN.match(expression, pos)
            if match is None or match.end() == pos:
                raise ValueError(f"unsupported expression: {expression!r}")
            pos = match.end()
            if match["str"] is not None:
                values.append(match["str"][1:-1].replace("''", "'"))
                python.append(f"_v[{len(values) - 1}]")
            elif match["num"] is not None:
                python.append(match["num"])
            elif match["op"] is not None:
                python.append({"&&": " and ", "||": " or ", "!": " not "}.get(match["op"], match["op"]))
            else:
                ident = match["ident"]
                following = expression[pos:].lstrip()
                if following.startswith("("):
                    python.append(f"_f_{ident}")
                elif ident in ("true", "false", "null"):
                    python.append({"true": "True", "false": "False", "null": "None"}[ident])
                else:
                    values.append(self.lookup(ident))
                    python.append(f"_v[{len(values) - 1}]")
        functions = {
            "_f_success": lambda: self.status("success"),
            "_f_failure": lambda: self.status("failure"),
            "_f_always": lambda: True,
            "_f_cancelled": lambda: False,
            "_f_fromJSON": json.loads,
            "_f_toJSON": json.dumps,
            "_f_contains": lambda haystack, needle: needle in (haystack or ""),
            "_f_startsWith": lambda s, p: str(s or "").lower().startswith(str(p).lower()),
        }
        code = "".join(python)
        # `a.b` after a call, e.g. fromJSON(x).include[0]
        code = re.sub(r"\)\.([A-Za-z_]\w*)", r")['\1']", code)
        return eval(code, {"__builtins__": {}}, {"_v": values, **functions})

    def truthy(self, condition: str | bool | None, default: str = "success()") -> bool:
        if condition is None:
            condition = default
        if isinstance(condition, bool):
            return condition
        inner = EXPR.fullmatch(condition.strip())
        text = inner.group(1) if inner else condition
        if not re.search(r"\b(success|failure|always|cancelled)\(\)", text):
            text = f"success() && ({text})"
        return bool(self.evaluate(text))

    def substitute(self, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            value = self.evaluate(match.group(1))
            if value is None:
                return ""
            if isinstance(value, bool):
                return str(value).lower()
            return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))

        return EXPR.sub(one, text)


@dataclass
class WorkflowHarness:
    workflow: Workflow
    workspace: Path
    event_name: str
    event: dict[str, Any]
    runner_env: dict[str, str]  # GITHUB_* settings of the run (API url, repository, sha, ...)
    github_token: str
    vars: dict[str, str] = field(default_factory=dict)
    artifacts: Path = field(init=False)
    jobs: dict[str, list[JobResult]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.artifacts = self.workspace.parent / "artifacts"
        self.artifacts.mkdir(exist_ok=True)
        self.event_path = self.workspace.parent / "event.json"
        self.event_path.write_text(json.dumps(self.event))

    # ------------------------------------------------------------------ jobs
    def run(self) -> dict[str, list[JobResult]]:
        pending = dict(self.workflow.jobs)
        while pending:
            ready = [n for n, j in pending.items() if all(d in self.jobs for d in _needs(j))]
            assert ready, f"jobs with unsatisfiable needs: {sorted(pending)}"
            for name in ready:
                self.jobs[name] = self._run_job(name, pending.pop(name))
        return self.jobs

    def _needs_context(self, job: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for dep in _needs(job):
            results = self.jobs[dep]
            combined = "success"
            if any(r.result == "failure" for r in results):
                combined = "failure"
            elif all(r.result == "skipped" for r in results):
                combined = "skipped"
            outputs: dict[str, str] = {}
            for r in results:
                outputs.update(r.outputs)
            out[dep] = {"result": combined, "outputs": outputs}
        return out

    def _base_context(self, job: dict[str, Any], matrix: dict[str, Any]) -> dict[str, Any]:
        return {
            "github": {
                "event": self.event,
                "token": self.github_token,
                "event_name": self.event_name,
                "repository": self.runner_env.get("GITHUB_REPOSITORY"),
                "sha": self.runner_env.get("GITHUB_SHA"),
                "workspace": str(self.workspace),
            },
            "needs": self._needs_context(job),
            "matrix": matrix,
            "vars": self.vars,
            "secrets": {},
            "env": {},
            "steps": {},
            "inputs": self.event.get("inputs", {}),
        }

    def _run_job(self, name: str, job: dict[str, Any]) -> list[JobResult]:
        needs = self._needs_context(job)
        ctx = self._base_context(job, {})
        upstream_ok = all(n["result"] == "success" for n in needs.values())
        if not Expressions(ctx, lambda s: upstream_ok if s == "success" else not upstream_ok).truthy(
            job.get("if")
        ):
            return [JobResult(name, "skipped")]
        strategy = job.get("strategy", {}).get("matrix")
        if strategy is None:
            return [self._run_matrix_entry(name, job, {})]
        matrix = (
            Expressions(ctx, lambda s: True).substitute(strategy) if isinstance(strategy, str) else strategy
        )
        entries = json.loads(matrix)["include"] if isinstance(matrix, str) else matrix["include"]
        return [self._run_matrix_entry(name, job, entry) for entry in entries]

    def _run_matrix_entry(self, name: str, job: dict[str, Any], matrix: dict[str, Any]) -> JobResult:
        result = JobResult(name, "success", matrix=matrix)
        ctx = self._base_context(job, matrix)
        env: dict[str, str] = {}
        for level in (self.workflow.doc.get("env", {}), job.get("env", {})):
            for key, value in level.items():
                ctx["env"] = {**env}
                env[key] = Expressions(ctx, lambda s: True).substitute(str(value))
        ctx["env"] = env
        home = (
            self.workspace.parent
            / f"runner-{name}-{len(self.jobs)}-{abs(hash(json.dumps(matrix, sort_keys=True)))}"
        )
        home.mkdir(parents=True, exist_ok=True)
        files = {k: home / k.lower() for k in ("GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_ENV")}
        for path in files.values():
            path.touch()
        for index, step in enumerate(job.get("steps", [])):
            failed = result.result == "failure"

            def status(kind: str, failed: bool = failed) -> bool:
                return (not failed) if kind == "success" else failed

            if not Expressions(ctx, status).truthy(step.get("if")):
                result.steps.append(
                    StepResult(step.get("name", f"step {index}"), step.get("run"), 0, "", "", skipped=True)
                )
                continue
            outcome = self._run_step(step, ctx, env, files, home, index)
            result.steps.append(outcome)
            if outcome.returncode != 0 and not step.get("continue-on-error"):
                result.result = "failure"
        for key, value in job.get("outputs", {}).items():
            result.outputs[key] = Expressions(ctx, lambda s: True).substitute(str(value))
        if result.result != "failure":
            result.result = "success"
        return result

    # ------------------------------------------------------------------ steps
    def _step_env(
        self,
        step: dict[str, Any],
        ctx: dict[str, Any],
        env: dict[str, str],
        files: dict[str, Path],
        home: Path,
        index: int,
    ) -> dict[str, str]:
        expressions = Expressions(ctx, lambda s: True)
        step_env = {k: expressions.substitute(str(v)) for k, v in step.get("env", {}).items()}
        path_entries = [p for p in files["GITHUB_PATH"].read_text().splitlines() if p]
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_", "AWS_"))}
        output = home / f"output-{index}"
        output.write_text("")
        full = {
            **base,
            **self.runner_env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(output),
            **{k: str(v) for k, v in files.items()},
            "RUNNER_TEMP": str(home),
            **env,
            **step_env,
        }
        full["PATH"] = os.pathsep.join([*reversed(path_entries), base.get("PATH", "")])
        return full

    def _run_step(
        self,
        step: dict[str, Any],
        ctx: dict[str, Any],
        env: dict[str, str],
        files: dict[str, Path],
        home: Path,
        index: int,
    ) -> StepResult:
        name = step.get("name", step.get("uses", step.get("run", "")))
        step_env = self._step_env(step, ctx, env, files, home, index)
        if "uses" in step:
            with_ = {
                k: Expressions(ctx, lambda s: True).substitute(str(v))
                for k, v in step.get("with", {}).items()
            }
            return self._uses(name, step["uses"].split("@")[0], with_)
        command = step["run"]
        assert "${{" not in command, "run: must not hold expressions"
        cwd = self.workspace / step.get("working-directory", ".")
        if command.strip() == "make install":
            return self._make_install(name, files["GITHUB_PATH"], home)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", command],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if "id" in step:
            ctx["steps"][step["id"]] = {
                "outputs": parse_output_file(Path(step_env["GITHUB_OUTPUT"]).read_text()),
                "outcome": "success" if done.returncode == 0 else "failure",
            }
        return StepResult(name, command, done.returncode, done.stdout, done.stderr)

    def _make_install(self, name: str, github_path: Path, home: Path) -> StepResult:
        bin_dir = home / "venv-bin"
        bin_dir.mkdir(exist_ok=True)
        shim = bin_dir / "modelcd"
        shim.write_text(
            f'#!/bin/sh\nPYTHONPATH="{PROJECT_ROOT}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{sys.executable}" -m cd "$@"\n'
        )
        shim.chmod(0o755)
        with github_path.open("a") as handle:
            handle.write(f"{bin_dir}\n")
        return StepResult(name, "make install", 0, "", "")

    def _uses(self, name: str, action: str, with_: dict[str, str]) -> StepResult:
        if action == "actions/upload-artifact":
            source = self.workspace / with_["path"]
            target = self.artifacts / with_["name"]
            if source.exists() and any(source.iterdir()):
                shutil.copytree(source, target, dirs_exist_ok=True)
            elif with_.get("if-no-files-found") == "error":
                return StepResult(name, None, 1, "", f"no files found at {with_['path']}")
        elif action == "actions/download-artifact":
            target = self.workspace / with_.get("path", ".")
            names = (
                [with_["name"]]
                if "name" in with_
                else [
                    p.name
                    for p in sorted(self.artifacts.iterdir())
                    if fnmatch(p.name, with_.get("pattern", "*"))
                ]
            )
            for artifact in names:
                source = self.artifacts / artifact
                if not source.exists():
                    return StepResult(name, None, 1, "", f"artifact {artifact} not found")
                merged = "name" in with_ or with_.get("merge-multiple") == "true"
                shutil.copytree(source, target if merged else target / artifact, dirs_exist_ok=True)
        elif action == "actions/checkout":
            path = self.workspace / with_.get("path", ".")
            path.mkdir(parents=True, exist_ok=True)  # the test prepared the checkouts
        elif action not in ("actions/setup-python",):
            return StepResult(name, None, 1, "", f"the harness does not simulate {action}")
        return StepResult(name, None, 0, "", "")


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)
