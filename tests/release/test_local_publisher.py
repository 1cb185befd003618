"""The local publisher: releases/<tag>/ written atomically, idempotent like the GitHub one."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from cd.release.local_publisher import LocalPublisher
from cd.release.model import ReleaseInputs
from cd.release.release import publish_release
from tests.release.conftest import in_production


def test_rerun_skips_every_asset(inputs: ReleaseInputs, tmp_path: Path) -> None:
    publisher = LocalPublisher(tmp_path / "releases")
    publish_release(inputs, publisher, tmp_path / "one")

    result = publish_release(inputs, publisher, tmp_path / "two")

    assert [a.kind for a in result.actions] == ["skip"] * 5


def test_second_environment_appends_history_in_the_same_folder(inputs: ReleaseInputs, tmp_path: Path) -> None:
    publisher = LocalPublisher(tmp_path / "releases")
    publish_release(inputs, publisher, tmp_path / "one")

    result = publish_release(in_production(inputs), publisher, tmp_path / "two")

    assert [h.environment for h in result.history] == ["staging", "production"]
    assert sorted(p.name for p in (tmp_path / "releases").iterdir()) == ["churn-v2"]
    assert "gate-verdict-production.json" in (tmp_path / "releases" / "churn-v2" / "SHA256SUMS").read_text()


def test_a_corrupted_asset_is_replaced(inputs: ReleaseInputs, tmp_path: Path) -> None:
    publisher = LocalPublisher(tmp_path / "releases")
    publish_release(inputs, publisher, tmp_path / "one")
    bento = tmp_path / "releases" / "churn-v2" / "churn-v2.bento"
    bento.write_bytes(b"truncated")

    result = publish_release(inputs, publisher, tmp_path / "two")

    assert [(a.kind, a.asset.name) for a in result.actions if a.kind != "skip"] == [
        ("replace", "churn-v2.bento")
    ]
    assert bento.read_bytes() == inputs.bento_path.read_bytes()  # type: ignore[union-attr]


def test_release_without_environment_has_no_history(inputs: ReleaseInputs, tmp_path: Path) -> None:
    result = publish_release(
        replace(inputs, environment=None), LocalPublisher(tmp_path / "r"), tmp_path / "w"
    )

    assert result.history == ()
    meta = json.loads((tmp_path / "r" / "churn-v2" / "release.json").read_text())
    assert meta == {
        "draft": False,
        "name": "churn v2",
        "tag": "churn-v2",
        "target_commitish": inputs.target_commit,
    }
    assert sorted(p.name for p in (tmp_path / "r" / "churn-v2").iterdir())[:3] == [
        "NOTES.md", "SHA256SUMS", "churn-v2.bento"
    ]  # fmt: skip
