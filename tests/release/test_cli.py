"""`modelcd release` as a real process: local folder by default, GitHub against the double."""

from __future__ import annotations

import json
from pathlib import Path

from tests.github_double import GitHubDouble
from tests.helpers import GitRepo, run_modelcd
from tests.release.conftest import REPO, VERDICT


def artifacts(tmp_path: Path) -> list[str]:
    folder = tmp_path / "artifacts"
    folder.mkdir()
    (folder / "churn-v2.bento").write_bytes(b"bento archive" * 1000)
    (folder / "verdict.json").write_text(json.dumps(VERDICT))
    (folder / "report.md").write_text("# Gate report\n")
    record = {"bento_tag": "churn:v2-abc", "bento_archive": "churn-v2.bento", "model_sha256": "a" * 64}
    (folder / "churn-v2.build.json").write_text(json.dumps(record))
    return [
        "--build-record", str(folder / "churn-v2.build.json"),
        "--verdict", str(folder / "verdict.json"),
        "--report", str(folder / "report.md"),
    ]  # fmt: skip


def test_release_defaults_to_the_local_folder_outside_actions(template_repo: GitRepo, tmp_path: Path) -> None:
    args = [
        "release",
        "--model",
        "churn",
        "--version",
        "2",
        "--env",
        "staging",
        "--no-registry",
        *artifacts(tmp_path),
    ]

    first = run_modelcd(*args, cwd=template_repo.path)
    again = run_modelcd(*args, cwd=template_repo.path)

    folder = template_repo.path / "releases" / "churn-v2"
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"release churn-v2: created {folder}")
    assert again.stdout.startswith(f"release churn-v2: updated {folder}")
    assert "skip churn-v2.bento: present with the same checksum" in again.stdout
    assert sorted(p.name for p in folder.iterdir()) == [
        "NOTES.md", "SHA256SUMS", "churn-v2.bento", "gate-report-staging.md", "gate-verdict-staging.json",
        "model-card.md", "release.json",
    ]  # fmt: skip
    meta = json.loads((folder / "release.json").read_text())
    assert (meta["draft"], meta["target_commitish"]) == (False, template_repo.head())
    notes = (folder / "NOTES.md").read_text()
    assert "| owners | @ml-team |" in notes  # from models/churn/model.yaml
    assert "| Bento tag | `churn:v2-abc` |" in notes


def test_release_to_github_with_pr_approvals(
    template_repo: GitRepo, tmp_path: Path, double: GitHubDouble
) -> None:
    sha = double.repo(REPO).refs["heads/main"]
    pull = double.add_pull(REPO, head_sha=sha, user="dana")
    double.add_review(REPO, pull.number, user="dana", state="APPROVED", commit_id=sha)
    double.add_review(REPO, pull.number, user="rui", state="APPROVED", commit_id=sha)
    args = ["release", "--model", "churn", "--version", "2", "--env", "staging", "--no-registry"]

    result = run_modelcd(
        *args, "--publisher", "github", "--pr", str(pull.number), *artifacts(tmp_path),
        cwd=template_repo.path, env=double.env(REPO, sha=sha),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    [release] = double.repo(REPO).releases.values()
    assert (release.tag_name, release.draft, release.target_commitish) == ("churn-v2", False, sha)
    assert f"| @rui | APPROVED | `{sha[:12]}` | head |" in (release.body or "")
    assert "@dana | APPROVED" not in (release.body or "")  # the author's own approval never counts


def test_unknown_model_is_a_clear_error(template_repo: GitRepo) -> None:
    result = run_modelcd(
        "release", "--model", "fraud", "--version", "1", "--no-registry", cwd=template_repo.path
    )

    assert result.returncode == 1
    assert result.stderr.strip() == "error: release: no model 'fraud' under models/ (known: churn)"


def test_github_publisher_without_token_is_a_clear_error(template_repo: GitRepo) -> None:
    result = run_modelcd(
        "release", "--model", "churn", "--version", "1", "--no-registry", "--publisher", "github",
        cwd=template_repo.path, env={"GITHUB_REPOSITORY": REPO},
    )  # fmt: skip

    assert result.returncode == 1
    assert "GitHub settings: GITHUB_TOKEN not set" in result.stderr


def test_pr_must_be_a_number_or_auto(template_repo: GitRepo) -> None:
    result = run_modelcd(
        "release", "--model", "churn", "--version", "1", "--no-registry", "--pr", "latest",
        cwd=template_repo.path,
    )  # fmt: skip

    assert result.returncode == 2
    assert result.stderr.strip() == "error: --pr 'latest': give a pull request number or `auto`"
