"""The build record JSON (cd/package/record.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cd.errors import PackageError
from cd.package.record import BuildRecord, read_record, write_record

RECORD = BuildRecord(
    model="churn",
    registered_model="churn",
    version=3,
    bento_tag="churn:v3-f506258d8d39",
    bento_archive="churn-v3.bento",
    bento_sha256="a" * 64,
    model_sha256="f506258d8d39" + "0" * 52,
    model_source="models:/m-123",
    run_id="173da370b5f14ba98496f52209576f16",
    requirements=("mlflow==3.17.2", "scikit-learn==1.9.1"),
    python_version="3.11",
    bentoml_version="1.4.39",
    mlflow_version="3.17.2",
    locked=False,
    image_tag="123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd:churn-v3-f506258d8d39",
    created_at="2026-01-02T03:04:05Z",
)


def test_a_record_survives_a_round_trip_through_its_file(tmp_path: Path) -> None:
    path = write_record(RECORD, tmp_path / "out" / "churn-v3.build.json")
    assert read_record(path) == RECORD
    assert not [p for p in path.parent.iterdir() if p != path]  # no temp file left behind
    assert path.stat().st_mode & 0o777 == 0o644


def test_the_json_lists_every_field_by_name() -> None:
    data = json.loads(RECORD.to_json())
    assert data["requirements"] == ["mlflow==3.17.2", "scikit-learn==1.9.1"]
    assert data["image_digest"] is None
    assert data["format"] == 1


def test_with_image_records_the_pushed_digest() -> None:
    digest = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd@sha256:" + "b" * 64
    pushed = RECORD.with_image(RECORD.image_tag or "", digest, "python@sha256:" + "1" * 64)
    assert pushed.image_digest == digest
    assert pushed.base_image == "python@sha256:" + "1" * 64
    assert pushed.bento_tag == RECORD.bento_tag


def test_unknown_fields_are_refused() -> None:
    data = json.loads(RECORD.to_json()) | {"colour": "red"}
    with pytest.raises(PackageError, match=r"churn-v3\.build\.json: unknown field"):
        BuildRecord.from_json(json.dumps(data), "churn-v3.build.json")


def test_a_record_that_is_not_json_is_refused() -> None:
    with pytest.raises(PackageError, match=r"x.json: not JSON \(Expecting value at line 1\)"):
        BuildRecord.from_json("nope", "x.json")


def test_a_missing_record_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="cannot read the build record"):
        read_record(tmp_path / "missing.build.json")
