"""Time a cold `modelcd validate` on a generated repository of 500 models x 4 environments.

Budget (DESIGN.md): under 1 s, cold, as a whole process. Prints figures; asserts nothing.
Usage: python benchmarks/validate_scale.py [--models 500] [--environments 4] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENV_NAMES = ("dev", "staging", "canary", "production", "eu", "us", "apac", "dr")


def model_yaml(name: str) -> str:
    return (
        f"registered_model: {name}\ntask: binary_classification\nowners: ['@ml-team']\n"
        "inputs:\n  - {name: tenure_months, type: integer}\n  - {name: plan, type: string}\n"
        "  - {name: monthly_charges, type: number}\n"
    )


def gate_yaml() -> str:
    return (
        "dataset: {path: data/test.csv, label: churned}\nmetrics:\n"
        "  - {metric: roc_auc, value: {min: 0.7}, change: {absolute: 0.01}}\n"
        "  - {metric: log_loss, value: {max: 0.6}, slices: [overall]}\n"
        "slices:\n  - feature: plan\n  - feature: tenure_months\n    buckets: [12, 36]\n"
    )


def environment_yaml(env: str, upstream: str | None, models: list[str]) -> str:
    lines = [f"name: {env}"]
    if upstream:
        lines.append(f"promote_from: {upstream}")
    lines += [
        "target:",
        "  kind: sagemaker",
        "  region: eu-west-1",
        "  role_arn: arn:aws:iam::123456789012:role/modelcd",
        "  image_repository: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd",
        f"  endpoint_prefix: {env}",
        "rollout:",
        "  steps:",
        "    - set_weight: 10",
        "    - bake: 5m",
        "    - analysis: {}",
        "    - set_weight: 100",
        "approvals: {required: 1}",
        "models:",
    ]
    for i, name in enumerate(models):
        lines += [
            f"  {name}:",
            f"    version: {i % 7 + 1}",
            "    serving: {instance_type: ml.m5.large, instance_count: 1}",
        ]
    return "\n".join(lines) + "\n"


def generate(root: Path, n_models: int, n_envs: int) -> None:
    models = [f"model-{i:04d}" for i in range(n_models)]
    for name in models:
        (root / "models" / name).mkdir(parents=True)
        (root / "models" / name / "model.yaml").write_text(model_yaml(name))
    (root / "gates").mkdir()
    for name in models:
        (root / "gates" / f"{name}.yaml").write_text(gate_yaml())
    (root / "environments").mkdir()
    envs = ENV_NAMES[:n_envs]
    for i, env in enumerate(envs):
        (root / "environments" / f"{env}.yaml").write_text(
            environment_yaml(env, envs[i - 1] if i else None, models)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--environments", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="modelcd-bench-"))
    try:
        generate(tmp, args.models, args.environments)
        n_files = sum(1 for _ in tmp.rglob("*.yaml"))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "cd", "validate", "--repo", str(tmp)]
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - start)
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-2000:])
                raise SystemExit("validate failed on the generated repository")
        baseline = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            baseline.append(time.perf_counter() - start)
        print(f"repository: {args.models} models x {args.environments} environments, {n_files} YAML files")
        print(
            f"modelcd validate (cold process): median {statistics.median(times):.3f} s, "
            f"min {min(times):.3f} s, max {max(times):.3f} s over {args.runs} runs"
        )
        print(f"python interpreter start alone:  median {statistics.median(baseline):.3f} s")
        print("budget: under 1 s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
