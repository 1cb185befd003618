"""`plan` and `gate` read the same, committed, state; uncommitted configuration edits are named, not used."""

from __future__ import annotations

from pathlib import Path

import pytest

from cd.gates.promotions import run_verdict
from cd.gates.thresholds import VerdictOutcome
from tests.helpers import GitRepo, make_template_repo, run_modelcd
from tests.workflows.events import parse_output_file

STAGING = "environments/staging.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = make_template_repo(tmp_path / "repo")
    repo.write(STAGING, repo.read(STAGING).replace("version: 1", "version: 99", 1))  # not committed
    return repo


def test_plan_names_the_uncommitted_edit_it_leaves_out(repo: GitRepo) -> None:
    done = run_modelcd("plan", "--base", "HEAD", cwd=repo.path)
    assert done.returncode == 0, done.stderr
    assert "No changes: the plan is empty." in done.stdout
    assert done.stderr == (
        f"note: uncommitted changes to {STAGING} are not included: plan and gate read commits "
        "(commit them first)\n"
    )


def test_gate_reads_the_same_commits_as_plan_and_says_so(repo: GitRepo, tmp_path: Path) -> None:
    outputs = tmp_path / "github_output"
    outputs.touch()
    done = run_modelcd("gate", "--all", "--base", "HEAD", cwd=repo.path, env={"GITHUB_OUTPUT": str(outputs)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "no promotions to judge\n"
    assert f"note: uncommitted changes to {STAGING} are not included" in done.stderr
    assert parse_output_file(outputs.read_text()) == {"verdict": "none"}


def test_a_clean_tree_gets_no_note(tmp_path: Path) -> None:
    repo = make_template_repo(tmp_path / "clean")
    done = run_modelcd("plan", "--base", "HEAD", cwd=repo.path)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize(
    ("verdicts", "overall"),
    [
        ((), "none"),
        (("pass", "pass"), "pass"),
        (("pass", "inconclusive"), "inconclusive"),
        (("inconclusive", "fail", "pass"), "fail"),
    ],
)
def test_the_runs_overall_verdict(verdicts: tuple[VerdictOutcome, ...], overall: str) -> None:
    assert run_verdict(verdicts) == overall
