"""Time a Bento build, the time to a 200 on /ping, and /invocations latency, offline.

Registers a small scikit-learn churn classifier in a tmp sqlite MLflow store, then measures:
`build_bento` (cold BentoML home, then a rebuild), `bentoml serve <tag>` start -> first 200 on /ping, the
exported archive started through its container entrypoint -> first 200 on /ping, and /invocations
latency (1 and 100 rows, JSON). Prints figures; asserts nothing.
Usage: python benchmarks/package_build_serve.py [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    import requests

    from cd.package import build_bento, entrypoint_command, serve_command, unpack_bento
    from tests.package.churn_model import churn_frame, churn_spec, register_in_subprocess, tracking_uri_in
    from tests.package.servers import free_port, running

    with tempfile.TemporaryDirectory(prefix="modelcd-bench-") as tmp:
        root = Path(tmp)
        repo = root / "repo"
        uri = tracking_uri_in(repo)
        started = time.perf_counter()
        version = register_in_subprocess(uri)
        print(f"register model (train + log + register):         {time.perf_counter() - started:6.1f} s")

        timings = []
        for attempt in ("cold", "rebuild"):
            started = time.perf_counter()
            record = build_bento(
                repo, churn_spec(), version, tracking_uri=uri, out_dir=root / "dist", environ={}
            )
            timings.append(time.perf_counter() - started)
            print(f"build_bento ({attempt}):                              {timings[-1]:6.1f} s")
        archive = root / "dist" / record.bento_archive
        print(
            f"archive size:                                        {archive.stat().st_size / 1024:6.1f} KiB"
        )

        home = repo / ".modelcd" / "bentoml"
        with running(
            serve_command(record.bento_tag, free_port(), bentoml_home=home), root / "serve.log"
        ) as live:
            print(f"bentoml serve -> /ping 200:                          {live.ready_seconds:6.1f} s")
            for rows in (1, 100):
                body = json.dumps(
                    [
                        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                        for r in churn_frame(rows, 5).to_dict("records")
                    ]
                )
                latencies = []
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    response = requests.post(
                        f"{live.url}/invocations",
                        data=body,
                        headers={"Content-Type": "application/json"},
                        timeout=30,
                    )
                    latencies.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, response.text
                latencies.sort()
                p50 = statistics.median(latencies)
                p99 = latencies[int(0.99 * (len(latencies) - 1))]
                print(
                    f"/invocations {rows:3d} row(s): p50 {p50:6.1f} ms, p99 {p99:6.1f} ms ({args.requests} requests)"
                )

        unpacked = unpack_bento(archive, root / "unpacked")
        command = entrypoint_command(
            unpacked, port=free_port(), host="127.0.0.1", bentoml_home=root / "home2"
        )
        with running(command, root / "entrypoint.log") as live:
            print(f"entrypoint.sh serve (exported archive) -> /ping 200: {live.ready_seconds:6.1f} s")


if __name__ == "__main__":
    main()
