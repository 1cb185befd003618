"""Train the example churn model versions and register them in MLflow.

    python models/churn/train.py [--repo .] [--tracking-uri URI]

Writes data/churn_train.csv and data/churn_test.csv (deterministic bytes; gates/churn.yaml pins the
test file's sha256), then registers four versions of `churn` (see cd/examples/churn.py): v1 baseline,
v2 better, v3 worse on plan=premium, v4 fine offline but tagged for the demo's serving fault.
The tracking URI defaults to $MLFLOW_TRACKING_URI, else a sqlite store in the repository root.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cd.examples.churn import describe, train_and_register
from cd.registry import default_tracking_uri


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[2])
    parser.add_argument("--tracking-uri", default=None)
    args = parser.parse_args()
    root = args.repo.resolve()
    versions = train_and_register(root, args.tracking_uri or default_tracking_uri(root))
    print(describe(versions))


if __name__ == "__main__":
    main()
