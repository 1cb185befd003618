"""The evaluation dataset: repo path or s3:// (moto), sha256 pin, and clear errors for bad input."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from cd.config.model import DatasetSpec
from cd.errors import DatasetError
from cd.gates.dataset import load_dataset

CSV = b"a,b,label\n1,x,0\n2,y,1\n3,x,1\n"
SHA = hashlib.sha256(CSV).hexdigest()
FEATURES = ("a", "b")


def spec(uri: str = "data/test.csv", **kw: object) -> DatasetSpec:
    return DatasetSpec(uri=uri, label=str(kw.pop("label", "label")), format=kw.pop("format", "csv"), **kw)  # type: ignore[arg-type]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test.csv").write_bytes(CSV)
    return tmp_path


def test_loads_csv_and_reports_its_sha256(repo: Path) -> None:
    data = load_dataset(spec(), repo, FEATURES, "binary_classification")
    assert (data.rows, data.sha256, list(data.frame.columns)) == (3, SHA, ["a", "b", "label"])


def test_matching_pin_is_accepted(repo: Path) -> None:
    assert load_dataset(spec(sha256=SHA.upper()), repo, FEATURES, "binary_classification").sha256 == SHA


def test_sha256_mismatch_refuses_to_evaluate(repo: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset(spec(sha256="0" * 64), repo, FEATURES, "binary_classification")
    assert str(err.value) == (
        f"dataset data/test.csv: sha256 mismatch: the gate pins {'0' * 64} but the file is {SHA}; refusing to evaluate"
    )


def test_loads_parquet(repo: Path) -> None:
    pd.read_csv(repo / "data" / "test.csv").to_parquet(repo / "data" / "test.parquet")
    data = load_dataset(spec("data/test.parquet", format="parquet"), repo, FEATURES, "binary_classification")
    assert data.frame["a"].tolist() == [1, 2, 3]


def test_missing_file(repo: Path) -> None:
    with pytest.raises(
        DatasetError, match=r"^dataset data/nope.csv: file not found \(looked at .*/data/nope.csv\)$"
    ):
        load_dataset(spec("data/nope.csv"), repo, FEATURES, "binary_classification")


def test_path_outside_the_repository_is_refused(repo: Path) -> None:
    with pytest.raises(DatasetError, match=r"^dataset \.\./secret.csv: path escapes the repository$"):
        load_dataset(spec("../secret.csv"), repo, FEATURES, "binary_classification")


def test_missing_label_column(repo: Path) -> None:
    with pytest.raises(
        DatasetError,
        match=r"^dataset data/test.csv: label column 'churned' not found \(columns: a, b, label\)$",
    ):
        load_dataset(spec(label="churned"), repo, FEATURES, "binary_classification")


def test_missing_feature_columns(repo: Path) -> None:
    with pytest.raises(DatasetError, match=r"^dataset data/test.csv: missing feature columns: c, d$"):
        load_dataset(spec(), repo, ("a", "c", "d"), "binary_classification")


def test_header_only_file_is_empty(repo: Path) -> None:
    (repo / "data" / "test.csv").write_bytes(b"a,b,label\n")
    with pytest.raises(DatasetError, match=r"^dataset data/test.csv: empty \(no rows\)$"):
        load_dataset(spec(), repo, FEATURES, "binary_classification")


def test_zero_byte_file_is_empty(repo: Path) -> None:
    (repo / "data" / "test.csv").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"^dataset data/test.csv: empty \(no rows\)$"):
        load_dataset(spec(), repo, FEATURES, "binary_classification")


def test_non_numeric_regression_label(repo: Path) -> None:
    (repo / "data" / "test.csv").write_bytes(b"a,b,label\n1,x,high\n2,y,low\n")
    with pytest.raises(
        DatasetError,
        match=r"^dataset data/test.csv: label column 'label' must be numeric for regression \(found values such as 'high'\)$",
    ):
        load_dataset(spec(), repo, FEATURES, "regression")


def test_missing_label_values(repo: Path) -> None:
    (repo / "data" / "test.csv").write_bytes(b"a,b,label\n1,x,\n2,y,1\n")
    with pytest.raises(
        DatasetError, match=r"^dataset data/test.csv: label column 'label' has 1 missing values$"
    ):
        load_dataset(spec(), repo, FEATURES, "binary_classification")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(
            Bucket="eval-data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        client.put_object(Bucket="eval-data", Key="churn/test.csv", Body=CSV)
        yield client


def test_loads_from_s3_with_pin(s3: object, tmp_path: Path) -> None:
    data = load_dataset(
        spec("s3://eval-data/churn/test.csv", sha256=SHA), tmp_path, FEATURES, "binary_classification"
    )
    assert (data.rows, data.sha256, data.uri) == (3, SHA, "s3://eval-data/churn/test.csv")


def test_missing_s3_object_is_a_clear_error(s3: object, tmp_path: Path) -> None:
    with pytest.raises(
        DatasetError, match=r"^dataset s3://eval-data/churn/nope.csv: S3 GetObject failed \(NoSuchKey\)"
    ):
        load_dataset(spec("s3://eval-data/churn/nope.csv"), tmp_path, FEATURES, "binary_classification")


def test_s3_sha_mismatch_refuses(s3: object, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"sha256 mismatch"):
        load_dataset(
            spec("s3://eval-data/churn/test.csv", sha256="f" * 64),
            tmp_path,
            FEATURES,
            "binary_classification",
        )


def test_a_string_column_keeps_the_text_na_as_model_yaml_declares_it(tmp_path: Path) -> None:
    from cd.config.model import Column

    csv = b"region,amount,churned\nNA,1.5,1\neu,,0\nus,NA,1\n"
    columns = [Column("region", "string"), Column("amount", "number")]
    data = load_dataset(
        DatasetSpec("d.csv", "churned", "csv"), tmp_path, columns, "binary_classification", data=csv
    )
    frame = data.frame.to_dict("list")
    assert frame["region"] == ["NA", "eu", "us"]
    assert frame["churned"] == [1, 0, 1]
    assert [x != x for x in frame["amount"]] == [False, True, True]  # missing numbers stay missing
