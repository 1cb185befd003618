"""What permutation importance adds to a gate: prints figures, asserts nothing.

Creates the demo's workspace (churn v1..v4 in a sqlite MLflow store), then times the whole
`modelcd gate --env staging --model churn` process for v2 against v1, `--repeat` alternating runs each,
with the gate as shipped (importance on: 2,000 rows, 3 repeats), with `importance: false` and with SHAP
values too (`importance: {shap: true}`: 50 rows, 50 background rows); the gate is read from the base: three
bases that differ in that line only. Prints the importance's and SHAP's own seconds.

    python benchmarks/gate_importance.py [--repeat 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cd.demo.workspace import Workspace, create  # noqa: E402


def run_gate(ws: Workspace, base: str, out: Path) -> float:
    started = time.perf_counter()
    done = ws.modelcd(
        "gate", "--env", "staging", "--model", "churn", "--base", base, "--out", str(out), check=False
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"modelcd gate failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def verdict_in(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(next(out.glob("gate-staging-churn-v2.json")).read_text())
    return data


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="modelcd-gate-importance-")) / "ws"
    try:
        ws = create(root)
        ws.python("models/churn/train.py", "--repo", ".")
        ws.commit("template and the churn test set")
        # main~2 has the gate as shipped (importance on), main~1 adds SHAP, main says `importance: false`
        shipped = ws.read("gates/churn.yaml")
        ws.write("gates/churn.yaml", shipped + "importance: {shap: true}\n")
        ws.commit("gate with SHAP values", "gates/churn.yaml")
        ws.write("gates/churn.yaml", shipped + "importance: false\n")
        ws.commit("gate without importance", "gates/churn.yaml")
        ws.git("checkout", "-q", "-b", "promote", "main")
        ws.set_version("staging", "churn", 2)
        ws.commit("churn v2", "environments/staging.yaml")
        on_out, off_out, shap_out = root / "out-on", root / "out-off", root / "out-shap"
        run_gate(ws, "main~2", on_out), run_gate(ws, "main", off_out)  # warm the disk cache
        on, off, with_shap = [], [], []
        for _ in range(args.repeat):  # alternate, so drift of the machine's load hits all alike
            on.append(run_gate(ws, "main~2", on_out))
            off.append(run_gate(ws, "main", off_out))
            with_shap.append(run_gate(ws, "main~1", shap_out))
        importance: dict[str, Any] = verdict_in(on_out).get("importance") or {}
        shap: dict[str, Any] = (verdict_in(shap_out).get("importance") or {}).get("shap") or {}
        assert "importance" not in verdict_in(off_out), "the base's gate turned importance off"
        print(f"modelcd gate, churn v2 vs v1, 8,000 rows, 52 checks, 200 bootstrap resamples, whole process, "
              f"{args.repeat} alternating runs each:")  # fmt: skip
        for label, runs in (
            ("without importance", off),
            ("with importance", on),
            ("with SHAP too", with_shap),
        ):
            print(f"  {label:19} best {min(runs):.2f} s, median {statistics.median(runs):.2f} s")
        print(f"  added: {(min(on) / min(off) - 1) * 100:+.1f} % (best), "
              f"{(statistics.median(on) / statistics.median(off) - 1) * 100:+.1f} % (median)")  # fmt: skip
        print(f"  importance itself:  {importance.get('seconds')} s on {importance.get('rows')} rows, "
              f"{importance.get('repeats')} repeats, both versions, {len(importance.get('slices', []))} slices")  # fmt: skip
        print(f"  SHAP itself:        {shap.get('seconds')} s on {shap.get('rows')} rows, {shap.get('background')} "
              f"background rows, both versions (numba compiling included; importing shap is not)")  # fmt: skip
    finally:
        if args.keep is None:
            shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
