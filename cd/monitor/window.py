"""Reading a window of captured traffic: the files of the hours asked for, parsed into typed columns.

Sources (adapters): `LocalCapture` (the local router's `<state_dir>/capture`) and `S3Capture` (SageMaker's
DataCaptureConfig destination, through boto3). Both list `<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`.

Parsing is fast for the usual bodies, JSON lists of records and headerless CSV rows: a whole file stays
in Arrow (the envelope and the bodies are read by pyarrow's JSON and CSV readers with the model's input
schema, two files at a time). It is correct for everything else: a file pyarrow refuses is read again
line by line, and each body through the serving payload parser (`cd.package.payload`), so the monitor
reads a body exactly as the model server did. A bad line or record is counted and reported with its file and line, never fatal.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from cd.config.model import Column
from cd.errors import MonitorError
from cd.rollout.target import version_of_variant

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

MAX_EXAMPLES = 5  # bad lines quoted in the report
PARSERS = 2  # files parsed at once (CI has two cores)


@dataclass(frozen=True)
class CaptureFile:
    name: str  # path or s3:// URI, for messages
    variant: str
    data: bytes


class CaptureSource(Protocol):
    def files(self, endpoint: str, start: float, end: float) -> Iterator[CaptureFile]: ...

    def describe(self, endpoint: str) -> str: ...


def hours(start: float, end: float) -> list[str]:
    """`yyyy/mm/dd/hh` of every hour that overlaps [start, end)."""
    first = int(start // 3600) * 3600
    return [time.strftime("%Y/%m/%d/%H", time.gmtime(t)) for t in range(first, int(end) + 1, 3600) if t < end]


def _hour_of(parts: Sequence[str]) -> str:
    return "/".join(parts)


class LocalCapture:
    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, endpoint: str) -> str:
        return str(self.root / endpoint)

    def files(self, endpoint: str, start: float, end: float) -> Iterator[CaptureFile]:
        base = self.root / endpoint
        if not base.is_dir():
            return
        wanted = set(hours(start, end))
        for variant in sorted(p for p in base.iterdir() if p.is_dir()):
            for path in sorted(variant.glob("*/*/*/*/*.jsonl")):
                if _hour_of(path.relative_to(variant).parts[:4]) in wanted:
                    yield CaptureFile(str(path), variant.name, path.read_bytes())


class S3Capture:
    def __init__(self, destination: str, client: Any) -> None:
        bucket, _, prefix = destination.removeprefix("s3://").partition("/")
        self.bucket, self.prefix, self.client = bucket, prefix.strip("/"), client

    def describe(self, endpoint: str) -> str:
        return f"s3://{self.bucket}/{self._key(endpoint)}"

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def files(self, endpoint: str, start: float, end: float) -> Iterator[CaptureFile]:
        from botocore.exceptions import BotoCoreError, ClientError

        wanted = set(hours(start, end))
        prefix = self._key(endpoint) + "/"
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
            for key in sorted(keys):
                parts = key[len(prefix) :].split("/")
                if len(parts) != 6 or not key.endswith(".jsonl") or _hour_of(parts[1:5]) not in wanted:
                    continue
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                yield CaptureFile(f"s3://{self.bucket}/{key}", parts[0], body)
        except (BotoCoreError, ClientError) as exc:
            raise MonitorError(f"cannot read the capture in s3://{self.bucket}/{prefix}: {exc}") from exc


# ---------------------------------------------------------------- parsed window


@dataclass
class Problems:
    """What could not be read, counted, with the first few places."""

    bad_lines: int = 0
    bad_records: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, where: str, reason: str, *, line: bool) -> None:
        if line:
            self.bad_lines += 1
        else:
            self.bad_records += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{where}: {reason}")


@dataclass(frozen=True)
class LiveWindow:
    """The rows captured in [start, end): inputs, the model's score per row, and who answered."""

    source: str
    start: float
    end: float
    records: int
    inputs: pd.DataFrame  # one column per model input, typed
    scores: np.ndarray  # P(positive) for binary classifiers, the prediction for regression; NaN if unread
    variants: np.ndarray  # variant name per row
    inference_ids: np.ndarray  # the request's InferenceId (else its eventId) per row
    row_in_request: np.ndarray  # 0-based position of the row in its request
    problems: Problems
    answered: tuple[str, ...]  # the variants with rows in the window, sorted

    @property
    def rows(self) -> int:
        return len(self.inputs)

    def of_variant(self, variant: str) -> LiveWindow:
        if self.answered == (variant,):
            return self  # one variant answered everything: no copy of a million rows
        keep = self.variants == variant
        return LiveWindow(
            self.source,
            self.start,
            self.end,
            self.records,
            self.inputs[keep].reset_index(drop=True),
            self.scores[keep],
            self.variants[keep],
            self.inference_ids[keep],
            self.row_in_request[keep],
            self.problems,
            (variant,) if keep.any() else (),
        )

    def variant_names(self) -> list[str]:
        return list(self.answered)

    def versions(self) -> dict[str, int | None]:
        return {v: version_of_variant(v) for v in self.variant_names()}


@dataclass
class _Envelope:
    """The columns of a file's records that matter, one entry per record."""

    input_data: list[str] = field(default_factory=list)
    input_type: list[str] = field(default_factory=list)
    input_encoding: list[str] = field(default_factory=list)
    output_data: list[str] = field(default_factory=list)
    output_encoding: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def _envelope_schema() -> pa.Schema:
    import pyarrow as pa

    def part() -> pa.DataType:
        return pa.struct(
            [("observedContentType", pa.string()), ("data", pa.string()), ("encoding", pa.string())]
        )

    return pa.schema(
        [
            ("captureData", pa.struct([("endpointInput", part()), ("endpointOutput", part())])),
            (
                "eventMetadata",
                pa.struct(
                    [("eventId", pa.string()), ("inferenceId", pa.string()), ("inferenceTime", pa.string())]
                ),
            ),
        ]
    )


@dataclass(frozen=True)
class _Rows:
    """One file's rows in the window."""

    records: int
    table: pa.Table  # the model's inputs, typed by its schema
    scores: np.ndarray
    ids: np.ndarray
    positions: np.ndarray


def _wrapped(strings: pa.Array, key: str) -> bytes:
    """`{"KEY":<string>}` per line: each captured body (JSON text) as a JSON Lines object. A Python join
    (measured: four times faster here than Arrow's element-wise join kernel)."""
    head = '{"' + key + '":'
    return "".join([head + text + "}\n" for text in strings.to_pylist()]).encode()


def _read_lines(blob: bytes, schema: pa.Schema) -> pa.Table | None:
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        return pj.read_json(
            io.BytesIO(blob),
            read_options=pj.ReadOptions(block_size=4 << 20),
            parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _fast_file(data: bytes, columns: Sequence[Column], task: str, first: str, last: str) -> _Rows | None:
    """A whole file read by pyarrow, never leaving Arrow until the end: envelope, time filter, request
    bodies (JSON lists of records, or headerless CSV) and answers. None when anything is not that shape: the slow path
    then reads the file line by line and says what was wrong where."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _read_lines(data, _envelope_schema())
    if table is None:
        return None
    capture = table.column("captureData").combine_chunks()
    meta = table.column("eventMetadata").combine_chunks()
    inp, out = capture.field("endpointInput"), capture.field("endpointOutput")
    needed = [
        inp.field("data"),
        inp.field("encoding"),
        out.field("data"),
        out.field("encoding"),
        meta.field("inferenceTime"),
    ]
    if capture.null_count or meta.null_count or any(c.null_count for c in needed):
        return None
    times = meta.field("inferenceTime")
    keep = pc.and_(pc.greater_equal(times, first), pc.less(times, last))
    inp_data, out_data = pc.filter(inp.field("data"), keep), pc.filter(out.field("data"), keep)
    encodings = pc.unique(
        pc.filter(pc.binary_join_element_wise(inp.field("encoding"), out.field("encoding"), "/"), keep)
    )
    if len(inp_data) == 0:
        return _Rows(0, _empty_table(columns), np.zeros(0), np.zeros(0, object), np.zeros(0, int))
    match encodings.to_pylist():
        case ["JSON/JSON"]:
            read = _json_bodies(inp_data, columns)
        case ["CSV/JSON"]:
            read = _csv_bodies(inp_data, columns)
        case _:
            return None
    if read is None:
        return None
    arrays, parents = read
    counts = np.bincount(parents, minlength=len(inp_data))
    scores = _fast_scores(out_data, counts, task)
    if scores is None:
        return None
    ids = pc.coalesce(pc.filter(meta.field("inferenceId"), keep), pc.filter(meta.field("eventId"), keep), "")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return _Rows(
        len(inp_data),
        _encoded(arrays, columns),
        scores,
        pc.take(ids, pa.array(parents)).to_numpy(zero_copy_only=False),
        np.arange(len(parents)) - starts[parents],
    )


def _json_bodies(bodies: pa.Array, columns: Sequence[Column]) -> tuple[list[pa.Array], np.ndarray] | None:
    """Bodies that are JSON lists of records: one column array per input, and the request of each row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    row_type = pa.struct([(c.name, _arrow_type(c)) for c in columns])
    table = _read_lines(_wrapped(bodies, "b"), pa.schema([("b", pa.list_(row_type))]))
    if table is None:
        return None
    lists = table.column("b").combine_chunks()
    flat = pc.list_flatten(lists)
    if lists.null_count or any(flat.field(i).null_count for i in range(len(columns))):
        return None
    return [flat.field(i) for i in range(len(columns))], pc.list_parent_indices(lists).to_numpy()


def _csv_bodies(bodies: pa.Array, columns: Sequence[Column]) -> tuple[list[pa.Array], np.ndarray] | None:
    """Bodies that are headerless CSV rows in schema order (SageMaker's usual text/csv)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    names = [c.name for c in columns]
    if pc.any(pc.starts_with(bodies, names[0])).as_py():
        return None  # a header row: the payload parser decides what it is
    trailing = pc.ends_with(bodies, "\n").to_numpy(zero_copy_only=False)
    rows = pc.count_substring(bodies, "\n").to_numpy() + 1 - trailing
    try:
        table = pcsv.read_csv(
            io.BytesIO("\n".join(bodies.to_pylist()).encode() + b"\n"),
            read_options=pcsv.ReadOptions(column_names=names, block_size=4 << 20),
            convert_options=pcsv.ConvertOptions(
                column_types={c.name: _arrow_type(c) for c in columns}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != int(rows.sum()) or any(table.column(n).null_count for n in names):
        return None
    return [table.column(n).combine_chunks() for n in names], np.repeat(np.arange(len(rows)), rows)


def _fast_scores(answers: pa.Array, counts: np.ndarray, task: str) -> np.ndarray | None:
    """Each row's score from the answers, read at once; None when an answer has another shape."""
    import pyarrow as pa
    import pyarrow.compute as pc

    key, kind = (
        ("predictions", pa.list_(pa.float64()))
        if task == "regression"
        else ("probabilities", pa.list_(pa.list_(pa.float64())))
    )
    table = _read_lines(
        _wrapped(answers, "o"),
        pa.schema([("o", pa.struct([(key, kind)]))]),
    )
    if table is None:
        return None
    values = table.column("o").combine_chunks().field(key)
    if values.null_count or not np.array_equal(pc.list_value_length(values).to_numpy(), counts):
        return None
    rows = pc.list_flatten(values)
    if task == "regression":
        return rows.to_numpy(zero_copy_only=False).astype(np.float64)
    lengths = pc.list_value_length(rows).to_numpy()
    if rows.null_count or (lengths == 0).any():
        return None
    ends = np.cumsum(lengths) - 1  # the last class's probability: P(positive) for a binary classifier
    return pc.list_flatten(rows).to_numpy(zero_copy_only=False)[ends].astype(np.float64)


def _schema(columns: Sequence[Column]) -> pa.Schema:
    """The window's Arrow schema: the model's input types, strings dictionary-encoded (a million rows, a
    few categories)."""
    import pyarrow as pa

    return pa.schema(
        [
            (c.name, pa.dictionary(pa.int32(), pa.string()) if c.type == "string" else _arrow_type(c))
            for c in columns
        ]
    )


def _encoded(arrays: Sequence[pa.Array], columns: Sequence[Column]) -> pa.Table:
    """One file's columns as a table of the window's schema (each file encodes its own strings, on the
    thread that parsed it; combining the files unifies the dictionaries)."""
    import pyarrow as pa

    return pa.Table.from_arrays(
        [a.dictionary_encode() if c.type == "string" else a for a, c in zip(arrays, columns, strict=True)],
        schema=_schema(columns),
    )


def _empty_table(columns: Sequence[Column]) -> pa.Table:
    """No rows, with the model's column types (so that no concatenation widens a type)."""
    return _schema(columns).empty_table()


def _frame(table: pa.Table) -> pd.DataFrame:
    """The window's inputs as one frame, strings as categoricals."""
    return table.combine_chunks().to_pandas(split_blocks=True)


def _slow_envelope(file: CaptureFile, problems: Problems) -> _Envelope:
    env = _Envelope()
    for number, raw in enumerate(file.data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            capture, meta = record["captureData"], record["eventMetadata"]
            inp, out = capture["endpointInput"], capture["endpointOutput"]
            row = (
                str(inp["data"]),
                str(inp.get("observedContentType", "")),
                str(inp.get("encoding", "JSON")),
                str(out["data"]),
                str(out.get("encoding", "JSON")),
                str(meta.get("inferenceId") or meta.get("eventId") or ""),
                str(meta["inferenceTime"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            reason = (
                "not JSON"
                if isinstance(exc, ValueError)
                else f"not a capture record: no {exc}"
                if isinstance(exc, KeyError)
                else "not a capture record"
            )
            problems.add(f"{file.name}:{number}", reason, line=True)
            continue
        for name, value in zip(
            ("input_data", "input_type", "input_encoding", "output_data", "output_encoding", "ids", "times"),
            row,
            strict=True,
        ):
            getattr(env, name).append(value)
        env.lines.append(number)
    return env


def _text(data: str, encoding: str) -> bytes:
    if encoding == "BASE64":
        return base64.b64decode(data)
    return data.encode("utf-8")


def _arrow_type(column: Column) -> pa.DataType:
    import pyarrow as pa

    return {"integer": pa.int64(), "number": pa.float64(), "string": pa.string(), "boolean": pa.bool_()}[
        column.type
    ]


def _slow_inputs(
    env: _Envelope, file: str, columns: Sequence[Column], problems: Problems
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Each body through the serving payload parser; returns (rows, request index per row, good requests)."""
    import pandas as pd
    import pyarrow as pa

    from cd.package.payload import InputColumn, PayloadError, parse_invocation

    schema = [InputColumn(c.name, c.type) for c in columns]
    frames, parents, good = [], [], []
    for i, (data, content_type, encoding) in enumerate(
        zip(env.input_data, env.input_type, env.input_encoding, strict=True)
    ):
        try:
            frame = parse_invocation(_text(data, encoding), content_type, schema)
        except (PayloadError, ValueError) as exc:
            problems.add(
                f"{file}:{env.lines[i]}", f"request body: {getattr(exc, 'message', exc)}", line=False
            )
            continue
        frames.append(frame)
        parents.append(np.full(len(frame), i))
        good.append(i)
    if not frames:
        return _empty_table(columns), np.zeros(0, int), np.zeros(0, int)
    table = pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
    arrays = [table.column(c.name).combine_chunks().cast(_arrow_type(c)) for c in columns]
    return _encoded(arrays, columns), np.concatenate(parents), np.asarray(good)


def _score(answer: Any, rows: int, task: str) -> list[float] | None:
    if not isinstance(answer, dict):
        return None
    if task == "regression":
        values = answer.get("predictions")
        if isinstance(values, list) and len(values) == rows:
            return [float(v) for v in values]
        return None
    probabilities = answer.get("probabilities")
    if isinstance(probabilities, list) and len(probabilities) == rows:
        return [float(p[-1]) if isinstance(p, list) and p else float("nan") for p in probabilities]
    return None


def _scores(env: _Envelope, counts: np.ndarray, task: str) -> np.ndarray:
    """The model's score per row, from each answer; NaN where an answer cannot be read."""
    out: list[float] = []
    for data, encoding, rows in zip(env.output_data, env.output_encoding, counts, strict=True):
        try:
            scores = _score(json.loads(_text(data, encoding)), int(rows), task)
        except ValueError:
            scores = None
        out.extend(scores if scores is not None else [float("nan")] * int(rows))
    return np.asarray(out, dtype=np.float64)


def _select(env: _Envelope, keep: Sequence[int]) -> _Envelope:
    return _Envelope(**{name: [getattr(env, name)[i] for i in keep] for name in vars(env)})


def _fast_files(
    files: Iterator[CaptureFile], columns: Sequence[Column], task: str, first: str, last: str
) -> Iterator[tuple[CaptureFile, _Rows | None]]:
    """Each file with its fast read (None: read it the slow way), two files at a time: pyarrow releases
    the GIL, so the two cores parse at once. In file order; at most a few files held at a time. (Two
    forked processes were slower: the rows cost more to send back than the GIL costs here.)"""
    from concurrent.futures import Future, ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=PARSERS, thread_name_prefix="capture") as pool:
        pending: list[tuple[CaptureFile, Future[_Rows | None]]] = []
        for file in files:
            pending.append((file, pool.submit(_fast_file, file.data, columns, task, first, last)))
            if len(pending) > PARSERS:
                done, future = pending.pop(0)
                yield done, future.result()
        for done, future in pending:
            yield done, future.result()


def read_window(
    source: CaptureSource,
    endpoint: str,
    start: float,
    end: float,
    columns: Sequence[Column],
    task: str,
) -> LiveWindow:
    """Every record answered in [start, end) at `endpoint`, parsed (bad lines counted, never fatal).
    The rows stay in Arrow until the last file is read, then become one frame."""
    import pyarrow as pa

    problems = Problems()
    first, last = (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end)),
    )
    tables: list[pa.Table] = [_empty_table(columns)]
    scores: list[np.ndarray] = [np.zeros(0)]
    variants: list[np.ndarray] = [np.zeros(0, "<U1")]
    ids: list[np.ndarray] = [np.zeros(0, object)]
    positions: list[np.ndarray] = [np.zeros(0, int)]
    records = 0
    answered: set[str] = set()
    for file, rows in _fast_files(source.files(endpoint, start, end), columns, task, first, last):
        if rows is None:
            rows = _slow_file(file, columns, task, first, last, problems)
        records += rows.records
        if rows.table.num_rows:
            answered.add(file.variant)
            tables.append(rows.table)
            scores.append(rows.scores)
            variants.append(
                np.full(rows.table.num_rows, file.variant, dtype=f"<U{max(1, len(file.variant))}")
            )
            ids.append(rows.ids)
            positions.append(rows.positions)
    return LiveWindow(
        source.describe(endpoint),
        start,
        end,
        records,
        _frame(pa.concat_tables(tables)),
        np.concatenate(scores),
        np.concatenate(variants),
        np.concatenate(ids),
        np.concatenate(positions),
        problems,
        tuple(sorted(answered)),
    )


def _slow_file(
    file: CaptureFile, columns: Sequence[Column], task: str, first: str, last: str, problems: Problems
) -> _Rows:
    """A file line by line, each body through the serving payload parser; what cannot be read is counted."""
    env = _slow_envelope(file, problems)
    env = _select(env, [i for i, t in enumerate(env.times) if first <= t < last])
    if not env.ids:
        return _Rows(0, _empty_table(columns), np.zeros(0), np.zeros(0, object), np.zeros(0, int))
    records = len(env.ids)
    table, parents, good = _slow_inputs(env, file.name, columns, problems)
    env = _select(env, good.tolist())
    parents = np.searchsorted(good, parents) if len(good) else parents
    counts = np.bincount(parents, minlength=len(env.ids)) if len(env.ids) else np.zeros(0, int)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else np.zeros(0, int)
    return _Rows(
        records,
        table,
        _scores(env, counts, task),
        np.asarray(env.ids, dtype=object)[parents] if len(parents) else np.zeros(0, dtype=object),
        np.arange(len(parents)) - starts[parents] if len(parents) else np.zeros(0, int),
    )


def captured_samples(
    window: LiveWindow,
    variants: Sequence[str],
    columns: Sequence[Column],
    labelled: Sequence[tuple[int, int]] | None = None,
) -> tuple[Any, ...]:
    """Each variant's scores and inputs as `cd.rollout.analysis.CapturedSample`, categories coded in one
    order shared by every variant (so their distributions can be compared); `labelled`: each variant's
    (labelled rows, misclassified rows), from `cd.monitor.ground_truth.misclassified`."""
    from cd.rollout.analysis import CapturedSample

    coded: dict[str, np.ndarray] = {}
    for column in columns:
        values = window.inputs[column.name]
        if column.type in ("integer", "number"):
            coded[column.name] = values.to_numpy(np.float64)
        else:
            text = values.astype(str).to_numpy()
            coded[column.name] = np.searchsorted(np.unique(text), text).astype(np.float64)
    samples = []
    for i, variant in enumerate(variants):
        keep = window.variants == variant
        scores = window.scores[keep]
        counts = labelled[i] if labelled is not None else (0, 0)
        samples.append(
            CapturedSample(
                tuple(scores[~np.isnan(scores)].tolist()),
                {name: tuple(v[keep].tolist()) for name, v in coded.items()},
                *counts,
            )
        )
    return tuple(samples)
