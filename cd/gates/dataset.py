"""The evaluation dataset: bytes from a repo path or s3://, checksum-verified, parsed, validated."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cd.config.model import Column, DatasetSpec
from cd.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class LoadedDataset:
    uri: str
    sha256: str
    frame: pd.DataFrame  # features and label, validated

    @property
    def rows(self) -> int:
        return len(self.frame)


def _read_s3(uri: str) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    from cd.aws import s3_client

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise DatasetError(f"dataset {uri}: expected s3://<bucket>/<key>")
    try:
        response = s3_client().get_object(Bucket=bucket, Key=key)
        body: bytes = response["Body"].read()
        return body
    except (ClientError, BotoCoreError) as exc:
        from cd.aws import credentials_error

        credentials = credentials_error(exc, f"dataset {uri}: S3 GetObject")
        if credentials is not None:
            raise credentials from exc
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        raise DatasetError(
            f"dataset {uri}: S3 GetObject failed{f' ({code})' if code else ''}: {exc}"
        ) from exc


def read_bytes(uri: str, repo_root: Path) -> bytes:
    """The dataset's bytes: `s3://bucket/key` through boto3, anything else relative to the repo."""
    if uri.startswith("s3://"):
        return _read_s3(uri)
    path = (repo_root / uri).resolve()
    if not path.is_relative_to(repo_root.resolve()):
        raise DatasetError(f"dataset {uri}: path escapes the repository")
    if not path.is_file():
        raise DatasetError(f"dataset {uri}: file not found (looked at {path})")
    return path.read_bytes()


# What a CSV cell means as "missing" in a numeric or boolean column. A string column has no missing
# marker: `NA` is the text "NA" (a region code, say), as model.yaml declares the column a string.
NA_MARKERS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]


def _csv_options(columns: Sequence[Column], label: str) -> dict[str, object]:
    strings = [c.name for c in columns if c.type == "string"]
    if not strings:
        return {}
    others = [c.name for c in columns if c.type != "string"] + ([label] if label not in strings else [])
    return {
        "dtype": dict.fromkeys(strings, str),
        "keep_default_na": False,
        "na_values": dict.fromkeys(others, NA_MARKERS),
    }


def _parse(data: bytes, spec: DatasetSpec, columns: Sequence[Column] = ()) -> pd.DataFrame:
    import pandas as pd

    try:
        if spec.format == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        return pd.read_csv(io.BytesIO(data), **_csv_options(columns, spec.label))
    except pd.errors.EmptyDataError as exc:
        raise DatasetError(f"dataset {spec.uri}: empty (no rows)") from exc
    except Exception as exc:  # pandas/pyarrow raise many types for malformed input
        raise DatasetError(f"dataset {spec.uri}: cannot parse as {spec.format}: {exc}") from exc


def _validate(frame: pd.DataFrame, spec: DatasetSpec, features: Sequence[str], task: str) -> None:
    import pandas as pd

    if spec.label not in frame.columns:
        raise DatasetError(
            f"dataset {spec.uri}: label column {spec.label!r} not found (columns: {', '.join(map(str, frame.columns))})"
        )
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise DatasetError(f"dataset {spec.uri}: missing feature columns: {', '.join(missing)}")
    if frame.empty:
        raise DatasetError(f"dataset {spec.uri}: empty (no rows)")
    label = frame[spec.label]
    if label.isna().any():
        raise DatasetError(
            f"dataset {spec.uri}: label column {spec.label!r} has {int(label.isna().sum())} missing values"
        )
    if task == "regression" and not (
        pd.api.types.is_numeric_dtype(label) and not pd.api.types.is_bool_dtype(label)
    ):
        example = next(iter(label.tolist()), None)
        raise DatasetError(
            f"dataset {spec.uri}: label column {spec.label!r} must be numeric for regression "
            f"(found values such as {example!r})"
        )


def load_dataset(
    spec: DatasetSpec,
    repo_root: Path,
    features: Sequence[Column] | Sequence[str],
    task: str,
    *,
    data: bytes | None = None,
) -> LoadedDataset:
    """Verify the sha256 pin (a mismatch refuses to evaluate), parse and validate. `data`: the bytes
    already read (the gate reads them at the base ref); else they are read from `spec.uri`. Columns
    given as `Column`s are parsed as model.yaml declares them."""
    columns = [c for c in features if isinstance(c, Column)]
    names = [c.name if isinstance(c, Column) else c for c in features]
    data = read_bytes(spec.uri, repo_root) if data is None else data
    digest = hashlib.sha256(data).hexdigest()
    if spec.sha256 is not None and digest != spec.sha256.lower():
        raise DatasetError(
            f"dataset {spec.uri}: sha256 mismatch: the gate pins {spec.sha256.lower()} but the file is {digest}; "
            "refusing to evaluate"
        )
    frame = _parse(data, spec, columns)
    _validate(frame, spec, names, task)
    return LoadedDataset(uri=spec.uri, sha256=digest, frame=frame)
