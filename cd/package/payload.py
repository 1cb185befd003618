"""SageMaker `/invocations` requests -> a typed DataFrame, and predictions -> the JSON answer.

Pure: no server, no I/O. Every Bento carries a verbatim copy of this file as `modelcd_payload.py`
(its service imports it), so it imports nothing from `cd`: only the standard library, numpy and
pandas, which every MLflow pyfunc environment has.

Accepted bodies (see docs/packaging.md):
- `application/json`: a list of records `[{"col": value, ...}, ...]`, `{"instances": [...]}` (records,
  or lists of values in schema order), `{"dataframe_split": {"columns": [...], "data": [[...]]}}`,
  `{"dataframe_records": [...]}`;
- `text/csv`: one row per line, values in schema order, with or without a header row (a header is
  recognised when the first line names a schema column, or forced with `; header=present|absent`).

Every problem raises `PayloadError(status, message)`: 400 for malformed bodies, wrong columns and
wrong types, 413 for bodies over the limit, 415 for unsupported content types.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

COLUMN_TYPES = ("integer", "number", "string", "boolean")
JSON = "application/json"
CSV = "text/csv"
SUPPORTED_MEDIA_TYPES = (JSON, CSV)
# SageMaker real-time endpoints refuse request payloads over 6 MB; the server enforces the same bound.
DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024
JSON_SHAPES = (
    "a list of records",
    '{"instances": [...]}',
    '{"dataframe_split": {...}}',
    '{"dataframe_records": [...]}',
)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_TRUE_TEXT = frozenset({"true", "1"})
_FALSE_TEXT = frozenset({"false", "0"})
_DTYPES = {"integer": "int64", "number": "float64", "string": "object", "boolean": "bool"}


@dataclass(frozen=True)
class InputColumn:
    """One input column of the serving schema: a name and one of `COLUMN_TYPES`."""

    name: str
    type: str

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(
                f"column {self.name!r}: type {self.type!r} is not one of {', '.join(COLUMN_TYPES)}"
            )


class PayloadError(Exception):
    """A request the server refuses: `status` is the HTTP status, `message` says what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------- request side


def media_type(content_type: str | None) -> str:
    """`Application/JSON; charset=utf-8` -> `application/json`; missing -> empty string."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def content_type_params(content_type: str | None) -> dict[str, str]:
    """The `key=value` parameters of a Content-Type header, keys lower-cased, quotes removed."""
    params: dict[str, str] = {}
    for part in (content_type or "").split(";")[1:]:
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return params


def check_content_type(content_type: str | None) -> str:
    """The request's media type if supported, else 415."""
    kind = media_type(content_type)
    if kind not in SUPPORTED_MEDIA_TYPES:
        shown = f"Content-Type {content_type!r}" if content_type else "a missing Content-Type"
        raise PayloadError(415, f"unsupported media type: {shown}; send {' or '.join(SUPPORTED_MEDIA_TYPES)}")
    return kind


def check_body_size(size: int, max_body_bytes: int) -> None:
    """413 when `size` bytes exceed the limit."""
    if size > max_body_bytes:
        raise PayloadError(413, f"request body is larger than the {max_body_bytes}-byte limit")


def parse_invocation(
    body: bytes,
    content_type: str | None,
    columns: Sequence[InputColumn],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> pd.DataFrame:
    """The request as a DataFrame with exactly `columns`, in order and typed; PayloadError otherwise."""
    kind = check_content_type(content_type)
    check_body_size(len(body), max_body_bytes)
    text = _decode(body)
    if kind == JSON:
        rows = _rows_from_json(text, columns)
        return _frame(rows, columns, _coerce_json, "row")
    header = content_type_params(content_type).get("header")
    rows = _rows_from_csv(text, columns, header)
    return _frame(rows, columns, _coerce_text, "line")


def _decode(body: bytes) -> str:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadError(400, f"request body is not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise PayloadError(400, "request body is empty")
    return text


def _reject_constant(name: str) -> Any:
    raise PayloadError(400, f"malformed JSON: {name} is not a JSON number")


def _rows_from_json(text: str, columns: Sequence[InputColumn]) -> list[tuple[int, Mapping[str, Any]]]:
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if isinstance(doc, list):
        return _records(doc, "the top-level list")
    if not isinstance(doc, dict):
        raise PayloadError(400, f"JSON body must be one of {', '.join(JSON_SHAPES)}; got {_kind(doc)}")
    keys = sorted(doc)
    if len(keys) != 1 or keys[0] not in ("instances", "dataframe_split", "dataframe_records"):
        raise PayloadError(
            400,
            f"JSON object must have exactly one key: instances, dataframe_split or dataframe_records; got {keys}",
        )
    key = keys[0]
    if key == "dataframe_split":
        return _split(doc[key])
    if key == "dataframe_records":
        return _records(doc[key], '"dataframe_records"')
    return _instances(doc[key], columns)


def _records(items: Any, where: str) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(items, list):
        raise PayloadError(400, f"{where} must be a list of records; got {_kind(items)}")
    rows: list[tuple[int, Mapping[str, Any]]] = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise PayloadError(
                400, f"{where}: row {i} must be an object mapping column to value; got {_kind(item)}"
            )
        rows.append((i, item))
    return rows


def _instances(items: Any, columns: Sequence[InputColumn]) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(items, list):
        raise PayloadError(400, f'"instances" must be a list; got {_kind(items)}')
    if items and all(isinstance(item, list) for item in items):
        names = [c.name for c in columns]
        return [(i, _positional(item, names, "row", i)) for i, item in enumerate(items, start=1)]
    return _records(items, '"instances"')


def _split(split: Any) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(split, dict) or "columns" not in split or "data" not in split:
        raise PayloadError(400, '"dataframe_split" must be an object with "columns" and "data"')
    names, data = split["columns"], split["data"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise PayloadError(400, '"dataframe_split.columns" must be a list of column names')
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise PayloadError(400, f'"dataframe_split.columns" repeats column(s): {", ".join(duplicated)}')
    if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
        raise PayloadError(400, '"dataframe_split.data" must be a list of rows (lists of values)')
    return [(i, _positional(row, names, "row", i)) for i, row in enumerate(data, start=1)]


def _positional(values: list[Any], names: Sequence[str], unit: str, number: int) -> dict[str, Any]:
    if len(values) != len(names):
        raise PayloadError(
            400, f"{unit} {number} has {len(values)} values, expected {len(names)} ({', '.join(names)})"
        )
    return dict(zip(names, values, strict=True))


def _rows_from_csv(
    text: str, columns: Sequence[InputColumn], header: str | None
) -> list[tuple[int, Mapping[str, Any]]]:
    if header not in (None, "present", "absent"):
        raise PayloadError(400, f"text/csv parameter header={header!r} must be 'present' or 'absent'")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    lines: list[tuple[int, list[str]]] = []
    try:
        for fields in reader:
            if fields and any(f.strip() for f in fields):
                lines.append((reader.line_num, fields))
    except csv.Error as exc:
        raise PayloadError(400, f"malformed CSV at line {reader.line_num}: {exc}") from None
    if not lines:
        raise PayloadError(400, "CSV body has no rows")
    names = [c.name for c in columns]
    first = [f.strip() for f in lines[0][1]]
    has_header = header == "present" or (header is None and any(f in names for f in first))
    if has_header:
        _check_names(first, names, "CSV header")
        names = first
        lines = lines[1:]
    return [(line, _positional(fields, names, "line", line)) for line, fields in lines]


def _check_names(given: Sequence[str], expected: Sequence[str], where: str) -> None:
    duplicated = sorted({n for n in given if list(given).count(n) > 1})
    if duplicated:
        raise PayloadError(400, f"{where} repeats column(s): {', '.join(duplicated)}")
    _check_columns(set(given), expected)


def _check_columns(given: set[str], expected: Sequence[str]) -> None:
    missing = [n for n in expected if n not in given]
    unknown = sorted(given - set(expected))
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}")
    if problems:
        raise PayloadError(400, "; ".join(problems) + f" (expected: {', '.join(expected)})")


def _frame(
    rows: list[tuple[int, Mapping[str, Any]]],
    columns: Sequence[InputColumn],
    coerce: Any,
    unit: str,
) -> pd.DataFrame:
    if not rows:
        raise PayloadError(400, "the request has no rows")
    names = [c.name for c in columns]
    values: dict[str, list[Any]] = {n: [] for n in names}
    for number, row in rows:
        given = set(row)
        if given != set(names):
            try:
                _check_columns(given, names)
            except PayloadError as exc:
                raise PayloadError(400, f"{unit} {number}: {exc.message}") from None
        for column in columns:
            values[column.name].append(coerce(row[column.name], column, f"{unit} {number}"))
    return pd.DataFrame({c.name: pd.Series(values[c.name], dtype=_DTYPES[c.type]) for c in columns})


def _type_error(column: InputColumn, where: str, value: Any) -> PayloadError:
    return PayloadError(
        400, f"column {column.name!r} {where}: expected {column.type}, got {_kind(value)} {value!r}"
    )


def _coerce_json(value: Any, column: InputColumn, where: str) -> Any:
    if value is None:
        raise PayloadError(
            400, f"column {column.name!r} {where}: null is not allowed; every input is required"
        )
    kind = column.type
    if kind == "boolean":
        if isinstance(value, bool):
            return value
    elif kind == "string":
        if isinstance(value, str):
            return value
    elif isinstance(value, bool):
        pass  # JSON true/false is never a number
    elif kind == "integer":
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return _int64(int(value), column, where)
    elif isinstance(value, int | float):
        return _finite(float(value), column, where)
    raise _type_error(column, where, value)


def _coerce_text(text: str, column: InputColumn, where: str) -> Any:
    kind = column.type
    if kind == "string":
        return text
    stripped = text.strip()
    if not stripped:
        raise PayloadError(400, f"column {column.name!r} {where}: missing value; every input is required")
    if kind == "integer" and _INTEGER_TEXT.fullmatch(stripped):
        return _int64(int(stripped), column, where)
    if kind == "number":
        try:
            return _finite(float(stripped), column, where)
        except ValueError:
            pass
    if kind == "boolean" and stripped.lower() in _TRUE_TEXT | _FALSE_TEXT:
        return stripped.lower() in _TRUE_TEXT
    raise _type_error(column, where, text)


def _int64(value: int, column: InputColumn, where: str) -> int:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise PayloadError(400, f"column {column.name!r} {where}: integer {value} is out of the 64-bit range")
    return value


def _finite(value: float, column: InputColumn, where: str) -> float:
    if not math.isfinite(value):
        raise PayloadError(400, f"column {column.name!r} {where}: {value} is not a finite number")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# ---------------------------------------------------------------------------------- response side


def to_jsonable(values: Any) -> Any:
    """numpy / pandas predictions -> plain JSON values (lists, numbers, strings)."""
    if isinstance(values, pd.DataFrame):
        return [to_jsonable(row) for row in values.to_dict(orient="records")]
    if isinstance(values, pd.Series | np.ndarray):
        return np.asarray(values).tolist()
    if isinstance(values, np.generic):
        return values.item()
    if isinstance(values, Mapping):
        return {str(k): to_jsonable(v) for k, v in values.items()}
    if isinstance(values, list | tuple):
        return [to_jsonable(v) for v in values]
    return values


def prediction_response(
    predictions: Any, probabilities: Any = None, classes: Iterable[Any] | None = None
) -> dict[str, Any]:
    """`{"predictions": [...]}`, plus `"probabilities"` (one list per row, in `"classes"` order) for classifiers."""
    answer: dict[str, Any] = {"predictions": to_jsonable(predictions)}
    if probabilities is not None:
        answer["probabilities"] = to_jsonable(probabilities)
        answer["classes"] = to_jsonable(list(classes) if classes is not None else [])
    return answer


def classifier_response(classifier: Any, frame: Any) -> dict[str, Any]:
    """A classifier's answer: the predicted label per row (the most probable class), with the
    probabilities and classes beside it; the same contract however its MLflow pyfunc was logged."""
    import numpy as np

    probabilities = np.asarray(classifier.predict_proba(frame))
    classes = np.asarray(classifier.classes_)
    return prediction_response(classes[probabilities.argmax(axis=1)], probabilities, classes)


def error_response(error: PayloadError) -> dict[str, Any]:
    return {"error": error.message, "status": error.status}
