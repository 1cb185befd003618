"""Build once, promote the same bytes: a release carries its build record, and a later environment takes
the build from the release (verified against its checksums and git's identity) instead of rebuilding."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cd.custody import Identity
from cd.errors import CustodyError
from cd.files import file_sha256
from cd.github.api import GitHubClient
from cd.package.record import BuildRecord, write_record
from cd.release.github_publisher import GitHubPublisher
from cd.release.local_publisher import LocalPublisher
from cd.release.model import ReleaseInputs
from cd.release.publisher import Publisher
from cd.release.records import fetch_released_build, parse_sha256sums
from cd.release.release import publish_release
from tests.github_double import GitHubDouble
from tests.release.conftest import REPO

CHURN_V2 = Identity("churn", "churn", 2)
DIGEST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd@sha256:" + "b" * 64


@pytest.fixture
def built(inputs: ReleaseInputs) -> ReleaseInputs:
    """The release inputs with the build record `modelcd build` would have written beside the Bento."""
    assert inputs.bento_path is not None
    record = BuildRecord(
        model="churn",
        registered_model="churn",
        version=2,
        bento_tag="churn:v2-aaaaaaaaaaaa",
        bento_archive=inputs.bento_path.name,
        bento_sha256=file_sha256(inputs.bento_path),
        model_sha256="a" * 64,
        model_source="models:/churn/2",
        run_id="0123456789abcdef",
        requirements=("mlflow==3.0.0",),
        python_version="3.11",
        bentoml_version="1.4.0",
        mlflow_version="3.0.0",
        locked=True,
        image_tag="modelcd:churn-v2-aaaaaaaaaaaa",
        created_at="2025-01-02T03:04:05Z",
        image_digest=DIGEST,
        bento_content_sha256="c" * 64,
    )
    path = write_record(record, inputs.bento_path.parent / "churn-v2.build.json")
    return replace(inputs, build_record=record.__dict__, build_record_path=path)


def test_the_release_carries_the_build_record_listed_in_sha256sums(
    built: ReleaseInputs, tmp_path: Path
) -> None:
    publish_release(built, LocalPublisher(tmp_path / "releases"), tmp_path / "work")

    folder = tmp_path / "releases" / "churn-v2"
    sums = parse_sha256sums((folder / "SHA256SUMS").read_text(), "SHA256SUMS")
    assert built.build_record_path is not None
    assert sums["churn-v2.build.json"] == file_sha256(built.build_record_path)


def test_a_released_build_comes_back_byte_for_byte(built: ReleaseInputs, tmp_path: Path) -> None:
    publisher = LocalPublisher(tmp_path / "releases")
    publish_release(built, publisher, tmp_path / "work")

    found = fetch_released_build(publisher, CHURN_V2, tmp_path / "dist")

    assert found is not None and built.build_record_path is not None and built.bento_path is not None
    assert found.record.image_digest == DIGEST
    assert found.record_path.read_bytes() == built.build_record_path.read_bytes()
    assert found.bento_path.read_bytes() == built.bento_path.read_bytes()


def test_a_released_build_downloads_from_github_without_the_token_on_the_storage_url(
    built: ReleaseInputs, client: GitHubClient, double: GitHubDouble, tmp_path: Path
) -> None:
    publisher = GitHubPublisher(client)
    publish_release(built, publisher, tmp_path / "work")

    found = fetch_released_build(publisher, CHURN_V2, tmp_path / "dist")

    assert found is not None and built.bento_path is not None
    assert found.bento_path.read_bytes() == built.bento_path.read_bytes()
    assert found.record.image_digest == DIGEST
    assert double.asset_bytes(REPO, "churn-v2", "churn-v2.build.json") == found.record_path.read_bytes()
    assert double.take_violations() == []


def test_a_version_without_a_release_is_built(tmp_path: Path) -> None:
    assert fetch_released_build(LocalPublisher(tmp_path / "releases"), CHURN_V2, tmp_path / "dist") is None


def test_a_draft_release_is_refused(built: ReleaseInputs, tmp_path: Path) -> None:
    publisher = LocalPublisher(tmp_path / "releases")
    publisher.create_draft("churn-v2", "main", "churn v2", "")

    with pytest.raises(CustodyError, match="is a draft"):
        fetch_released_build(publisher, CHURN_V2, tmp_path / "dist")


def test_a_bento_changed_after_publishing_is_refused_naming_both_hashes_and_nothing_is_written(
    built: ReleaseInputs, tmp_path: Path
) -> None:
    publisher = LocalPublisher(tmp_path / "releases")
    publish_release(built, publisher, tmp_path / "work")
    assert built.bento_path is not None
    listed = file_sha256(built.bento_path)
    (tmp_path / "releases" / "churn-v2" / "churn-v2.bento").write_bytes(b"another model")

    with pytest.raises(CustodyError) as raised:
        fetch_released_build(publisher, CHURN_V2, tmp_path / "dist")

    assert file_sha256_of(b"another model")[:12] in str(raised.value)
    assert listed[:12] in str(raised.value)
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == []


def test_a_record_of_another_registered_model_is_refused(built: ReleaseInputs, tmp_path: Path) -> None:
    publisher = LocalPublisher(tmp_path / "releases")
    publish_release(built, publisher, tmp_path / "work")

    with pytest.raises(CustodyError, match="registered_model is 'churn', but git wants 'churn-eu'"):
        fetch_released_build(publisher, Identity("churn", "churn-eu", 2), tmp_path / "dist")


def test_a_release_without_a_build_record_says_to_build_again(inputs: ReleaseInputs, tmp_path: Path) -> None:
    publisher: Publisher = LocalPublisher(tmp_path / "releases")
    publish_release(inputs, publisher, tmp_path / "work")

    with pytest.raises(CustodyError, match=r"no churn-v2\.build\.json asset.*without --reuse-release"):
        fetch_released_build(publisher, CHURN_V2, tmp_path / "dist")


def test_a_malformed_sha256sums_line_is_named() -> None:
    with pytest.raises(CustodyError, match="SHA256SUMS line 2: not `<sha256>  <name>`"):
        parse_sha256sums("a" * 64 + "  x\nnonsense\n", "SHA256SUMS")


def file_sha256_of(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
