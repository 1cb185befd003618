"""A model version's MLflow signature against the inputs `models/<m>/model.yaml` declares.

The gate checks it before judging (so a mismatch is caught on the PR, not at build after merge), and
the build checks it again before packaging.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cd.config.model import ModelSpec

# MLflow signature column types -> model.yaml column types
MLFLOW_TYPES = {
    "long": "integer",
    "integer": "integer",
    "double": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
}


def signature_inputs(model_dir: Path) -> list[dict[str, Any]]:
    """The column specs (`[{"name", "type"}, ...]`) of the MLflow model in `model_dir`; [] without one."""
    from mlflow.models import Model

    mlmodel = Model.load(str(model_dir))
    if mlmodel.signature is None or mlmodel.signature.inputs is None:
        return []
    return list(mlmodel.signature.inputs.to_dict())


def signature_mismatch(spec: ModelSpec, inputs: Sequence[Mapping[str, Any]], where: str) -> str | None:
    """What differs between model.yaml's inputs and the signature's (names, then types); None when they
    agree or either side declares nothing."""
    signed = {str(i["name"]): str(i.get("type", "")) for i in inputs if i.get("name")}
    if not spec.inputs or not signed:
        return None
    declared = {c.name: c.type for c in spec.inputs}
    missing, extra = sorted(set(signed) - set(declared)), sorted(set(declared) - set(signed))
    if missing or extra:
        return (
            f"{spec.path or spec.name}: inputs do not match the MLflow signature of {where}"
            + (f"; the model also needs: {', '.join(missing)}" if missing else "")
            + (f"; the model does not take: {', '.join(extra)}" if extra else "")
        )
    wrong = [
        f"{name} is {declared[name]} in model.yaml but {kind} in the signature"
        for name, kind in sorted(signed.items())
        if kind in MLFLOW_TYPES and MLFLOW_TYPES[kind] != declared[name]
    ]
    if wrong:
        return (
            f"{spec.path or spec.name}: input types do not match the MLflow signature of {where}: "
            + "; ".join(wrong)
        )
    return None
