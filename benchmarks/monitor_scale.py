"""`modelcd monitor` at scale: prints figures, asserts nothing.

Builds a scratch repository with a model of `--features` inputs (a third categorical), a local environment
with data capture, a reference of `--reference-rows` rows (with the version's scores), and a capture
of `--rows` rows in SageMaker's data-capture format (`--rows-per-request` rows per request body, one
JSON line per request, in files of 10,000 requests), three features shifted. Then times the whole
`modelcd monitor` process (start-up and imports included), best and median of `--repeat`, and the phases in-process.

    python benchmarks/monitor_scale.py [--rows 1000000] [--features 20] [--reference-rows 100000]
        [--rows-per-request 10] [--body json|csv] [--repeat 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cd.monitor.capture import CAPTURE_DIR, capture_path, inference_time  # noqa: E402

ENDPOINT = "bench-bench"  # the environment's endpoint_prefix, then the model
CATEGORIES = ("alpha", "beta", "gamma", "delta", "epsilon")


def columns(features: int) -> list[tuple[str, str]]:
    out = []
    for i in range(features):
        kind = "string" if i % 3 == 2 else ("integer" if i % 3 == 1 else "number")
        out.append((f"f{i:02}", kind))
    return out


def frame(cols: list[tuple[str, str]], n: int, seed: int, shifted: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for index, (name, kind) in enumerate(cols):
        shift = 0.5 if index < shifted else 0.0
        if kind == "number":
            data[name] = np.round(rng.normal(shift, 1.0, n), 4)
        elif kind == "integer":
            data[name] = rng.poisson(5 + 3 * shift, n)
        else:
            p = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
            if shift:
                p = p[::-1]
            data[name] = np.asarray(CATEGORIES)[rng.choice(5, n, p=p)]
    return pd.DataFrame(data)


def write_repo(root: Path, cols: list[tuple[str, str]]) -> None:
    (root / "models" / "bench").mkdir(parents=True)
    (root / "environments").mkdir()
    (root / "gates").mkdir()
    inputs = "\n".join(f"  - {{name: {n}, type: {t}}}" for n, t in cols)
    (root / "models" / "bench" / "model.yaml").write_text(
        f"registered_model: bench\ntask: binary_classification\nowners: ['@bench']\ninputs:\n{inputs}\n"
    )
    (root / "gates" / "bench.yaml").write_text(
        "dataset: {path: reference.csv, label: outcome}\nmetrics:\n  - metric: roc_auc\n    value: {min: 0.5}\n"
    )
    (root / "environments" / "scale.yaml").write_text(
        "name: scale\ntarget: {kind: local, endpoint_prefix: bench}\nrollout:\n  steps:\n    - set_weight: 100\n"
        "monitoring:\n  capture: {sampling_percentage: 100}\n  drift: {window: 2h}\n"
        "models:\n  bench:\n    version: 1\n"
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)


def csv_text(batch: list[dict[str, object]]) -> str:
    return "\n".join(",".join(str(v) for v in row.values()) for row in batch)


def write_capture(root: Path, live: pd.DataFrame, per_request: int, at: float, body: str) -> int:
    """One JSON line per request, as the router and SageMaker write them; returns the bytes written."""
    records = live.to_dict(orient="records")
    content_type, encoding = ("text/csv", "CSV") if body == "csv" else ("application/json", "JSON")
    rng = np.random.default_rng(3)
    scores = rng.beta(2, 5, len(records))
    total = 0
    stamp = inference_time(at)
    lines: list[str] = []
    part = 0

    def flush() -> None:
        nonlocal lines, part, total
        if not lines:
            return
        path = capture_path(root / ".modelcd" / "local" / CAPTURE_DIR, ENDPOINT, "v1", at, f"part-{part:04}")
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "\n".join(lines) + "\n"
        path.write_text(text)
        total += len(text)
        lines, part = [], part + 1

    for start in range(0, len(records), per_request):
        batch = records[start : start + per_request]
        p = scores[start : start + per_request]
        answer = {"probabilities": [[round(1 - x, 4), round(x, 4)] for x in p.tolist()]}
        record = {
            "captureData": {
                "endpointInput": {"observedContentType": content_type, "mode": "INPUT",
                                  "data": csv_text(batch) if body == "csv" else json.dumps(batch),
                                  "encoding": encoding},
                "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                   "data": json.dumps(answer), "encoding": "JSON"},
            },
            "eventMetadata": {"eventId": f"e-{start}", "inferenceId": f"i-{start}", "inferenceTime": stamp},
            "eventVersion": "0",
        }  # fmt: skip
        lines.append(json.dumps(record, separators=(",", ":")))
        if len(lines) == 10_000:
            flush()
    flush()
    return total


def time_process(root: Path, repeat: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "cd", "monitor", "--env", "scale", "--reference", "reference.parquet",
             "--format", "json"],
            cwd=root, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1) or done.stderr.startswith("error"):
            raise SystemExit(f"modelcd monitor failed ({done.returncode}):\n{done.stderr[-2000:]}")
        last = done.stdout
    report = json.loads(last)[0]
    drifted = [f["feature"] for v in report["variants"] for f in v["features"] if f["outcome"] == "drift"]
    print(f"  outcome {report['outcome']}: drifted {', '.join(drifted) or 'none'}; rows {report['rows']:,}")
    return times


def phases(root: Path) -> None:
    from cd.monitor.run import MonitorRequest, monitor
    from cd.monitor.window import LocalCapture, read_window
    from cd.workspace import Workspace

    ws = Workspace.find(root, say=lambda _: None)
    spec = ws.config.models["bench"]
    started = time.perf_counter()
    window = read_window(
        LocalCapture(root / ".modelcd/local/capture"),
        ENDPOINT,
        time.time() - 7200,
        time.time(),
        spec.inputs,
        spec.task,
    )
    read = time.perf_counter() - started
    started = time.perf_counter()
    monitor(ws, MonitorRequest("scale", reference=root / "reference.parquet"))
    whole = time.perf_counter() - started
    print(f"  in-process: read and parse {window.rows:,} rows {read:.2f} s; whole monitor call {whole:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--rows-per-request", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--body", choices=("json", "csv"), default="json", help="request bodies: JSON records or CSV rows"
    )
    parser.add_argument("--keep", type=Path, default=None, help="build the repository here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="modelcd-monitor-bench-"))
    cols = columns(args.features)
    try:
        if not (root / "environments").is_dir():
            root.mkdir(parents=True, exist_ok=True)
            write_repo(root, cols)
            reference = frame(cols, args.reference_rows, seed=1)
            reference["modelcd_score"] = np.random.default_rng(2).beta(2, 5, len(reference))
            reference.to_parquet(root / "reference.parquet")
            reference.assign(outcome=np.random.default_rng(4).random(len(reference)) < 0.3).to_csv(
                root / "reference.csv", index=False
            )
            started = time.perf_counter()
            live = frame(cols, args.rows, seed=7, shifted=3)
            size = write_capture(root, live, args.rows_per_request, time.time() - 120, args.body)
            print(f"capture written: {args.rows:,} rows x {args.features} features, {args.body} bodies, {size / 1e6:.0f} MB, "
                  f"{args.rows // args.rows_per_request:,} requests ({time.perf_counter() - started:.0f} s)")  # fmt: skip
        print(f"modelcd monitor, {os.cpu_count()} cores, whole process (start-up and imports included):")
        times = time_process(root, args.repeat)
        print(f"  best {min(times):.2f} s, median {statistics.median(times):.2f} s, "
              f"runs {', '.join(f'{t:.2f}' for t in times)} s")  # fmt: skip
        phases(root)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
