"""What permutation importance adds to a gate: prints figures, asserts nothing.

Creates the demo's workspace (churn v1..v4 in a sqlite MLflow store), then times the whole
`modelcd gate --env staging --model churn --base main` process for v2 against v1, best of `--repeat`,
with the gate as shipped (importance on: 2,000 rows, 3 repeats) and with `importance: false` committed on
the base (the gate is read from there), and prints the importance's own seconds from the verdict.

    python benchmarks/gate_importance.py [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cd.demo.workspace import Workspace, create  # noqa: E402


def time_gate(ws: Workspace, out: Path, repeat: int) -> tuple[float, dict[str, Any]]:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        done = ws.modelcd(
            "gate", "--env", "staging", "--model", "churn", "--base", "main", "--out", str(out), check=False
        )
        best = min(best, time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise SystemExit(f"modelcd gate failed:\n{done.stderr[-2000:]}")
    verdict: dict[str, Any] = json.loads(next(out.glob("gate-staging-churn-v2.json")).read_text())
    return best, verdict


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="modelcd-gate-importance-")) / "ws"
    try:
        ws = create(root)
        ws.python("models/churn/train.py", "--repo", ".")
        ws.commit("template and the churn test set")
        ws.git("checkout", "-q", "-b", "promote", "main")
        ws.set_version("staging", "churn", 2)
        ws.commit("churn v2", "environments/staging.yaml")
        with_importance, verdict = time_gate(ws, root / "out-on", args.repeat)
        importance: dict[str, Any] = verdict.get("importance") or {}
        ws.git("checkout", "-q", "main")
        ws.write("gates/churn.yaml", ws.read("gates/churn.yaml") + "importance: false\n")
        ws.commit("gate without importance", "gates/churn.yaml")
        ws.git("checkout", "-q", "promote")
        ws.git("rebase", "-q", "main")
        without, verdict = time_gate(ws, root / "out-off", args.repeat)
        assert "importance" not in verdict, "the base's gate turned importance off"
        print("modelcd gate, churn v2 vs v1, 8,000 rows, 52 checks, 200 bootstrap resamples (whole process, best of "
              f"{args.repeat}):")  # fmt: skip
        print(f"  without importance: {without:.2f} s")
        print(
            f"  with importance:    {with_importance:.2f} s  (+{(with_importance / without - 1) * 100:.1f} %)"
        )
        print(f"  importance itself:  {importance.get('seconds')} s on {importance.get('rows')} rows, "
              f"{importance.get('repeats')} repeats, both versions, {len(importance.get('slices', []))} slices")  # fmt: skip
    finally:
        if args.keep is None:
            shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
