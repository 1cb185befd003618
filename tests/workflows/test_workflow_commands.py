"""Every `modelcd` call in every workflow names a registered command and only options it accepts, and
`modelcd matrix` produces the outputs the workflows read."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click
import pytest

from cd.cli import COMMANDS, main
from tests.helpers import GitRepo, run_modelcd
from tests.workflows.events import Runner, push_event
from tests.workflows.workflow_files import all_workflows, run_steps

CALLS = [
    (w.name, step["run"])
    for w in all_workflows()
    for _, step in run_steps(w)
    if step["run"].startswith("modelcd ")
]


@pytest.mark.parametrize(("workflow", "command"), CALLS, ids=[f"{w}:{c.split()[1]}" for w, c in CALLS])
def test_workflow_calls_use_registered_commands_and_options(workflow: str, command: str) -> None:
    words = shlex.split(command)
    name = words[1]
    assert name in COMMANDS, f"{workflow}: `modelcd {name}` is not a command"
    cmd = main.get_command(click.Context(main), name)
    assert cmd is not None
    accepted = {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}
    used = {w.split("=")[0] for w in words[2:] if w.startswith("--")}
    assert used <= accepted, f"{workflow}: {sorted(used - accepted)} not options of `modelcd {name}`"


def _promotion(repo: GitRepo) -> str:
    base = repo.head()
    for env in ("staging", "production"):
        text = repo.read(f"environments/{env}.yaml").replace("    version: 1\n", "    version: 2\n")
        repo.write(f"environments/{env}.yaml", text)
    repo.commit("churn v2 everywhere")
    return base


def test_matrix_refuses_a_production_version_staging_did_not_run_with_an_annotation(
    template_repo: GitRepo, tmp_path: Path
) -> None:
    base = _promotion(template_repo)
    runner = Runner(tmp_path / "runner", "push", push_event(before=base))
    done = run_modelcd("matrix", "--base", base, "--by", "build", cwd=template_repo.path, env=runner.env())
    assert done.returncode == 1  # production may only take what staging runs at the base
    assert done.stdout.startswith("::error file=environments/production.yaml,line=")
    assert "v2 is not live in 'staging'" in done.stdout


def test_matrix_outputs_for_a_staging_promotion(template_repo: GitRepo, tmp_path: Path) -> None:
    base = template_repo.head()
    template_repo.write(
        "environments/staging.yaml",
        template_repo.read("environments/staging.yaml").replace("version: 1", "version: 2"),
    )
    template_repo.commit("staging: churn v2")
    runner = Runner(tmp_path / "runner", "push", push_event(before=base))
    done = run_modelcd(
        "matrix",
        "--base",
        base,
        "--by",
        "build",
        "--write",
        "plan.json",
        cwd=template_repo.path,
        env=runner.env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outputs = runner.outputs()
    assert json.loads(outputs["matrix"]) == {"include": [{"model": "churn", "version": 2, "env": "staging"}]}
    assert (outputs["count"], json.loads(outputs["environments"])) == ("1", ["staging"])
    assert json.loads((template_repo.path / "plan.json").read_text()) == {
        "include": [{"env": "staging", "model": "churn", "from": 1, "to": 2, "change": "promoted"}]
    }
    gate = run_modelcd("matrix", "--base", base, "--by", "gate", cwd=template_repo.path)
    assert json.loads(gate.stdout) == {
        "include": [{"env": "staging", "model": "churn", "from": 1, "to": 2, "change": "promoted"}]
    }
