"""BentoML work done in its own process: import the MLflow model, build the Bento, export it.

BentoML fixes its home directory (`$BENTOML_HOME`) once per process, so modelcd never runs BentoML
in its own process: `cd.package.bento.run_build` starts `python -m cd.package.bentoml_worker REQUEST
RESULT` with the environment it needs. REQUEST and RESULT are JSON files:

request: {"model_tag", "mlflow_model_dir", "labels", "metadata", "context_dir", "bento_version",
          "export_path"}
result:  {"bento_tag", "bento_path", "export_path", "requirements"} or {"error": "..."}
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any


def build(request: dict[str, Any]) -> dict[str, Any]:
    import bentoml
    from bentoml.exceptions import NotFound

    model_tag = request["model_tag"]
    with contextlib.suppress(NotFound):  # the store is a cache: rebuilding replaces, never duplicates
        bentoml.models.delete(model_tag)
    bentoml.mlflow.import_model(
        model_tag,
        model_uri=request["mlflow_model_dir"],
        labels=request["labels"],
        metadata=request["metadata"],
    )
    context = Path(request["context_dir"])
    bento_tag = f"{model_tag.split(':')[0]}:{request['bento_version']}"
    with contextlib.suppress(NotFound):
        bentoml.delete(bento_tag)
    bento = bentoml.bentos.build_bentofile(
        str(context / "bentofile.yaml"), build_ctx=str(context), version=request["bento_version"]
    )
    export_path = Path(request["export_path"])
    export_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=export_path.parent) as tmp:
        written = bentoml.export_bento(bento.tag, str(Path(tmp) / export_path.name))
        os.replace(written, export_path)
    bento_path = Path(bento.path)
    return {
        "bento_tag": str(bento.tag),
        "bento_path": str(bento_path),
        "export_path": str(export_path),
        "requirements": (bento_path / "env" / "python" / "requirements.txt").read_text(),
    }


def main(argv: list[str]) -> int:
    request_path, result_path = Path(argv[0]), Path(argv[1])
    try:
        result = build(json.loads(request_path.read_text()))
        status = 0
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
        status = 1
    result_path.write_text(json.dumps(result))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
