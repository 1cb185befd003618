"""Ground truth for live traffic: the true labels of captured requests, as they arrive.

The format is SageMaker Model Monitor's: JSON Lines under `<root>/yyyy/mm/dd/hh/*.jsonl` (the hour the
label was written), each line

    {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "<inference id>"},
     "eventVersion": "0"}

where `eventId` is the request's inference id (its `InferenceId`, else the capture's eventId) and `data`
holds one label per row of the request, in order, separated by commas or newlines. The local target
reads `<state_dir>/ground-truth`; SageMaker's environments name an S3 prefix (monitoring.ground_truth).
A bad line is counted and quoted with its file and line, never fatal.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cd.errors import MonitorError
from cd.monitor.window import LiveWindow, Problems, hours

if TYPE_CHECKING:
    import pandas as pd

GROUND_TRUTH_DIR = "ground-truth"  # under the local target's state dir
ID, ROW, LABEL = "inference_id", "row", "label"


def local_files(root: Path, start: float, end: float) -> Iterator[tuple[str, bytes]]:
    wanted = set(hours(start, end))
    for path in sorted(root.glob("*/*/*/*/*.jsonl")):
        if "/".join(path.relative_to(root).parts[:4]) in wanted:
            yield str(path), path.read_bytes()


def s3_files(destination: str, client: Any, start: float, end: float) -> Iterator[tuple[str, bytes]]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    wanted = set(hours(start, end))
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        for key in keys:
            parts = key[len(prefix) :].split("/")
            if len(parts) == 5 and key.endswith(".jsonl") and "/".join(parts[:4]) in wanted:
                yield f"s3://{bucket}/{key}", client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        raise MonitorError(f"cannot read the ground truth in s3://{bucket}/{prefix}: {exc}") from exc


def parse_labels(files: Iterator[tuple[str, bytes]], problems: Problems) -> pd.DataFrame:
    """One row per labelled request row: inference id, row in its request, label (text)."""
    import pandas as pd

    ids: list[str] = []
    rows: list[int] = []
    labels: list[str] = []
    for name, data in files:
        for number, raw in enumerate(data.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                truth, meta = record["groundTruthData"], record["eventMetadata"]
                text = str(truth["data"])
                if truth.get("encoding") == "BASE64":
                    text = base64.b64decode(text).decode("utf-8")
                event = str(meta["eventId"])
            except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
                reason = f"no {exc}" if isinstance(exc, KeyError) else "not a ground-truth record"
                problems.add(f"{name}:{number}", reason, line=True)
                continue
            values = [v.strip() for v in text.replace("\n", ",").split(",")]
            ids.extend([event] * len(values))
            rows.extend(range(len(values)))
            labels.extend(values)
    return pd.DataFrame({ID: pd.Series(ids, dtype=str), ROW: np.asarray(rows, int), LABEL: labels})


def truth_of(values: pd.Series, positive: object) -> np.ndarray:
    """Labels as booleans: equal to the gate's positive label, else 1/true."""
    if positive is not None:
        return (values.astype(str) == str(positive)).to_numpy()
    text = values.astype(str).str.lower()
    return text.isin(["1", "true", "1.0"]).to_numpy()


def misclassified(
    window: LiveWindow, variant: str, labels: pd.DataFrame, positive: object
) -> tuple[int, int]:
    """(labelled rows, wrongly classified rows) of one variant: its captured rows joined with their labels
    by inference id and row; a row is wrong when its score's side of 0.5 is not its label."""
    import pandas as pd

    keep = window.variants == variant
    live = pd.DataFrame(
        {
            ID: window.inference_ids[keep].astype(str),
            ROW: window.row_in_request[keep].astype(int),
            "score": window.scores[keep],
        }
    )
    joined = live.merge(labels.drop_duplicates([ID, ROW], keep="last"), on=[ID, ROW], how="inner")
    joined = joined[~joined["score"].isna()]
    wrong = (joined["score"].to_numpy() >= 0.5) != truth_of(joined[LABEL], positive)
    return len(joined), int(wrong.sum())
