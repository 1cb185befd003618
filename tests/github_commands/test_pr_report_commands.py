"""`modelcd comment` and `modelcd status-checks` against the GitHub API double, in a simulated PR run."""

from __future__ import annotations

from pathlib import Path

from tests.github_commands.conftest import make_cli, write_plan, write_verdict
from tests.github_double import GitHubDouble
from tests.github_double.state import Comment
from tests.workflows.events import REPO, pull_request_event

HEAD = "a1" * 20
BASE = "b2" * 20


def _setup(double: GitHubDouble, tmp_path: Path, **event: object) -> tuple[int, object]:
    double.create_repo(REPO, head_sha=BASE)
    pull = double.add_pull(REPO, head_sha=HEAD, user="dana", head_ref="bump-churn")
    payload = pull_request_event(number=pull.number, head_sha=HEAD, base_sha=BASE, **event)  # type: ignore[arg-type]
    write_plan(
        tmp_path / "plan" / "matrix.json",
        ("production", "churn", "promoted", 1, 2),
        ("staging", "churn", "reconfigured", 1, 1),
    )
    write_verdict(
        tmp_path / "verdicts",
        "production",
        "churn",
        "fail",
        "recall 0.38 < 0.40 (overall)",
        "| metric | candidate |\n",
    )
    return pull.number, make_cli(double, tmp_path, "pull_request", payload, cwd=tmp_path)


def _comment_args(number: int) -> tuple[str, ...]:
    return ("comment", "--pr", str(number), "--verdicts", "verdicts", "--plan", "plan/matrix.json")


def test_the_first_run_creates_the_sticky_comment(github_double: GitHubDouble, tmp_path: Path) -> None:
    number, cli = _setup(github_double, tmp_path)
    done = cli(*_comment_args(number))  # type: ignore[operator]
    assert done.returncode == 0, done.stderr
    (posted,) = _comments(github_double)
    assert posted.body.startswith("<!-- modelcd:sticky -->\n## modelcd: 1 of 1 gate not passed")
    assert "| production | churn | promoted | v1 | v2 | ❌ fail |" in posted.body
    assert "[workflow run](https://github.com/acme/models/actions/runs/123456) · for `a1a1a1a`" in posted.body
    assert done.stdout.startswith(f"created the modelcd comment on #{number}")


def test_later_runs_update_the_same_comment_never_a_second_one(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    number, cli = _setup(github_double, tmp_path)
    assert cli(*_comment_args(number)).returncode == 0  # type: ignore[operator]
    write_verdict(tmp_path / "verdicts", "production", "churn", "pass", "all checks passed")
    second = cli(*_comment_args(number))  # type: ignore[operator]
    third = cli(*_comment_args(number))  # type: ignore[operator]
    comments = _comments(github_double)
    assert len(comments) == 1
    assert "## modelcd: all 1 gate passed" in comments[0].body
    assert second.stdout.startswith("updated") and third.stdout.startswith("unchanged")
    assert [r.operation_id for r in github_double.requests if r.method != "GET"] == [
        "issues/create-comment",
        "issues/update-comment",
    ]


def test_with_a_github_app_token_later_runs_find_the_comment_again(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    number, cli = _setup(github_double, tmp_path)
    github_double.add_token("ghs_appinstallation", "modelcd-app[bot]", type="Bot")  # cannot read /user
    app = {"GITHUB_TOKEN": "ghs_appinstallation"}
    assert cli(*_comment_args(number), env=app).returncode == 0  # type: ignore[operator]
    write_verdict(tmp_path / "verdicts", "production", "churn", "pass", "all checks passed")
    again = cli(*_comment_args(number), env=app)  # type: ignore[operator]
    assert again.stdout.startswith("updated"), again.stdout + again.stderr
    assert [c.user for c in _comments(github_double)] == ["modelcd-app[bot]"]


def test_a_comment_by_someone_else_quoting_the_marker_is_left_alone(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    number, cli = _setup(github_double, tmp_path)
    github_double.add_token("mallory-token", "mallory")
    spoof = cli(
        "comment", "--pr", str(number), "--verdicts", "nowhere", env={"GITHUB_TOKEN": "mallory-token"}
    )  # type: ignore[operator]
    assert spoof.returncode == 0, spoof.stderr
    done = cli(*_comment_args(number))  # type: ignore[operator]
    assert done.stdout.startswith("created"), done.stdout + done.stderr
    assert [c.user for c in _comments(github_double)] == ["mallory", "modelcd-bot"]


def test_one_status_per_gate_on_the_pr_head_commit(github_double: GitHubDouble, tmp_path: Path) -> None:
    _, cli = _setup(github_double, tmp_path)
    write_plan(
        tmp_path / "plan" / "matrix.json",
        ("production", "churn", "promoted", 1, 2),
        ("staging", "fraud", "added", None, 3),
    )
    done = cli("status-checks", "--verdicts", "verdicts", "--plan", "plan/matrix.json")  # type: ignore[operator]
    assert done.returncode == 0, done.stderr
    statuses = {(s.sha, s.context): (s.state, s.description) for s in github_double.repo(REPO).statuses}
    assert statuses == {
        (HEAD, "modelcd/gate churn@production"): ("failure", "recall 0.38 < 0.40 (overall)"),
        (HEAD, "modelcd/gate fraud@staging"): (
            "error",
            "the gate produced no verdict (see the gate job's log)",
        ),
    }


def test_fork_prs_get_a_note_instead_of_a_comment_and_statuses(
    github_double: GitHubDouble, tmp_path: Path
) -> None:
    number, cli = _setup(github_double, tmp_path, head_repo="mallory/models")
    commented = cli(*_comment_args(number))  # type: ignore[operator]
    statused = cli("status-checks", "--verdicts", "verdicts", "--plan", "plan/matrix.json")  # type: ignore[operator]
    assert (commented.returncode, statused.returncode) == (0, 0)
    assert (
        "Pull request from a fork: its token is read-only, so the PR comment was skipped." in commented.stdout
    )
    assert "so the commit statuses were skipped." in statused.stdout
    summary = cli.runner.summary()  # type: ignore[attr-defined]
    assert "> [!NOTE]\n> Pull request from a fork" in summary
    assert "| production | churn | promoted | v1 | v2 | ❌ fail |" in summary
    assert github_double.requests == []


def _comments(double: GitHubDouble) -> list[Comment]:
    return list(double.repo(REPO).comments.values())
