"""`modelcd release` as a real process: local folder by default, GitHub against the double."""

from __future__ import annotations

import hashlib
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
    record = {
        "model": "churn",
        "registered_model": "churn",
        "version": 2,
        "bento_tag": "churn:v2-abc",
        "bento_archive": "churn-v2.bento",
        "bento_sha256": hashlib.sha256(b"bento archive" * 1000).hexdigest(),
        "model_sha256": "a" * 64,
    }
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
        "NOTES.md", "SHA256SUMS", "churn-v2.bento", "churn-v2.build.json", "gate-report-staging.md",
        "gate-verdict-staging.json", "model-card.md", "release.json",
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


def _release_with(
    template_repo: GitRepo,
    tmp_path: Path,
    env: str = "staging",
    edits: dict[str, dict[str, str]] | None = None,
) -> str:
    args = artifacts(tmp_path)
    folder = tmp_path / "artifacts"
    for name, change in (edits or {}).items():
        path = folder / name
        path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    done = run_modelcd(
        "release", "--model", "churn", "--version", "2", "--env", env, "--no-registry", *args,
        cwd=template_repo.path,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert not (template_repo.path / "releases" / "churn-v2").exists()  # nothing published
    return done.stderr


def test_release_refuses_a_verdict_filed_for_another_environment(
    template_repo: GitRepo, tmp_path: Path
) -> None:
    err = _release_with(template_repo, tmp_path, env="production")
    assert "the verdict is for environment 'staging', not 'production'" in err


def test_release_refuses_an_inconclusive_verdict(template_repo: GitRepo, tmp_path: Path) -> None:
    err = _release_with(template_repo, tmp_path, edits={"verdict.json": {"verdict": "inconclusive"}})
    assert "the gate verdict is INCONCLUSIVE; a release needs a passing gate or a recorded override" in err


def test_release_refuses_another_models_verdict(template_repo: GitRepo, tmp_path: Path) -> None:
    err = _release_with(template_repo, tmp_path, edits={"verdict.json": {"model": "fraud"}})
    assert "the verdict judged model 'fraud', not 'churn'" in err


def test_release_refuses_a_build_of_another_model_than_the_judged_one(
    template_repo: GitRepo, tmp_path: Path
) -> None:
    err = _release_with(template_repo, tmp_path, edits={"churn-v2.build.json": {"model_sha256": "c" * 64}})
    assert "the build packaged model sha256 cccccccccccc…, but the gate judged aaaaaaaaaaaa…" in err


def _released_with_full_record(template_repo: GitRepo, tmp_path: Path) -> Path:
    """churn v2 released to the local folder, with the build record `modelcd build` writes."""
    from cd.package.record import BuildRecord, write_record

    args = artifacts(tmp_path)
    folder = tmp_path / "artifacts"
    record = BuildRecord(
        model="churn",
        registered_model="churn",
        version=2,
        bento_tag="churn:v2-abc",
        bento_archive="churn-v2.bento",
        bento_sha256=hashlib.sha256(b"bento archive" * 1000).hexdigest(),
        model_sha256="a" * 64,
        model_source="models:/churn/2",
        run_id=None,
        requirements=("mlflow==3.0.0",),
        python_version="3.11",
        bentoml_version="1.4.0",
        mlflow_version="3.0.0",
        locked=True,
        image_tag=None,
        created_at="2025-01-02T03:04:05Z",
        image_digest="123.dkr.ecr.eu-west-1.amazonaws.com/modelcd@sha256:" + "b" * 64,
    )
    write_record(record, folder / "churn-v2.build.json")
    release = ("release", "--model", "churn", "--version", "2", "--env", "staging", "--no-registry", *args)
    assert run_modelcd(*release, cwd=template_repo.path).returncode == 0
    return folder / "churn-v2.build.json"


def test_build_reuse_release_takes_the_released_build_instead_of_building(
    template_repo: GitRepo, tmp_path: Path
) -> None:
    record = _released_with_full_record(template_repo, tmp_path)
    dist = tmp_path / "dist"

    # no registry, no Docker engine: nothing is built or pushed, the release's build is taken
    done = run_modelcd(
        "build", "--model", "churn", "--version", "2", "--out", str(dist), "--containerize", "--push",
        "--reuse-release", cwd=template_repo.path,
        env={"MLFLOW_TRACKING_URI": "sqlite:////nonexistent/never-opened.db", "DOCKER_HOST": "unix:///nonexistent"},
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "churn v2 is released" in done.stdout and "reusing its build" in done.stdout
    assert (dist / "churn-v2.build.json").read_bytes() == record.read_bytes()
    assert (dist / "churn-v2.bento").read_bytes() == b"bento archive" * 1000
    assert "image    123.dkr.ecr.eu-west-1.amazonaws.com/modelcd@sha256:" in done.stdout


def test_build_reuse_release_refuses_a_release_edited_after_publishing(
    template_repo: GitRepo, tmp_path: Path
) -> None:
    _released_with_full_record(template_repo, tmp_path)
    (template_repo.path / "releases" / "churn-v2" / "churn-v2.bento").write_bytes(b"swapped")

    done = run_modelcd(
        "build", "--model", "churn", "--version", "2", "--out", str(tmp_path / "dist"), "--reuse-release",
        cwd=template_repo.path,
    )  # fmt: skip

    assert done.returncode == 1
    assert "churn-v2.bento downloads as sha256" in done.stderr
    assert "but SHA256SUMS says" in done.stderr
    assert not (tmp_path / "dist" / "churn-v2.build.json").exists()
