"""The BentoML service inside every modelcd Bento: SageMaker's serving-container contract.

- `GET /ping`: 200 once the model is loaded (503 before).
- `POST /invocations`: JSON or CSV rows in, `{"predictions": [...]}` out (classifiers also answer
  `"probabilities"` and `"classes"`); 400 / 413 / 415 with `{"error": ..., "status": ...}` for requests
  it refuses.
- listens on 8080, or on `$SAGEMAKER_BIND_TO_PORT` when SageMaker sets it (inference pipelines);
  `$BENTOML_PORT` / `--port` still win, as for every `bentoml serve`.

modelcd copies this file into the build context as `service.py`, next to `modelcd_payload.py` (the
parsing rules, `cd/package/payload.py`) and `modelcd_service.json` (model tag, input schema, limits).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import bentoml
import modelcd_payload as payload
from bentoml.exceptions import BentoMLException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

logger = logging.getLogger("modelcd.service")

CONFIG: dict[str, Any] = json.loads(Path(__file__).with_name("modelcd_service.json").read_text())
COLUMNS = tuple(payload.InputColumn(c["name"], c["type"]) for c in CONFIG["inputs"])
DEFAULT_PORT = 8080


def listen_port(env: Mapping[str, str] = os.environ) -> int:
    """8080 (SageMaker's contract), or `$SAGEMAKER_BIND_TO_PORT` when SageMaker assigns another port."""
    return int(env.get("SAGEMAKER_BIND_TO_PORT") or DEFAULT_PORT)


def max_body_bytes(env: Mapping[str, str] = os.environ) -> int:
    """The request-body limit: `$MODELCD_MAX_BODY_BYTES`, else the one fixed at build time."""
    return int(env.get("MODELCD_MAX_BODY_BYTES") or CONFIG["max_body_bytes"])


def _answer(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _refuse(error: Any) -> JSONResponse:
    return _answer(payload.error_response(error), error.status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        payload.check_body_size(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        payload.check_body_size(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _service() -> Any:
    try:
        return bentoml.get_current_service()
    except BentoMLException:
        return None


async def ping(request: Request) -> JSONResponse:
    service = _service()
    if service is None or getattr(service, "model", None) is None:
        return _answer({"status": "loading"}, 503)
    return _answer({"status": "ok", "model": CONFIG["bento_model_tag"]})


async def invocations(request: Request) -> JSONResponse:
    service = _service()
    if service is None:
        return _answer({"error": "the model is still loading", "status": 503}, 503)
    limit = max_body_bytes()
    try:
        payload.check_content_type(request.headers.get("content-type"))
        body = await _read_body(request, limit)
        frame = payload.parse_invocation(body, request.headers.get("content-type"), COLUMNS, limit)
    except payload.PayloadError as error:
        return _refuse(error)
    try:
        answer = await run_in_threadpool(service.score, frame)
    except Exception as exc:
        if _rejected_input(exc):
            return _refuse(payload.PayloadError(400, f"the model could not score the input: {exc}"))
        logger.exception("prediction failed")  # the model itself failed: say so, as JSON
        return _answer({"error": f"prediction failed: {type(exc).__name__}: {exc}", "status": 500}, 500)
    return _answer(answer)


def _rejected_input(exc: Exception) -> bool:
    """Errors a model raises for input it cannot take (MLflow's schema enforcement included)."""
    from mlflow.exceptions import MlflowException  # loaded with the model; not imported at start-up

    return isinstance(exc, ValueError | TypeError | KeyError | MlflowException)


app = Starlette(
    routes=[
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
    ]
)


@bentoml.service(name=CONFIG["service_name"], http={"port": listen_port()}, workers=1)
@bentoml.asgi_app(app, path="/")
class SageMakerService:
    bento_model = bentoml.models.BentoModel(CONFIG["bento_model_tag"])

    def __init__(self) -> None:
        self.model: Any = None
        model = bentoml.mlflow.load_model(self.bento_model)
        self.classifier = _classifier(model) if CONFIG["task"].endswith("classification") else None
        self.model = model

    def score(self, frame: Any) -> dict[str, Any]:
        """`predictions`: the model's answer per row (a classifier's labels, even when its pyfunc is
        logged to predict probabilities); `probabilities` and `classes` beside them for classifiers."""
        if self.classifier is None:
            return payload.prediction_response(self.model.predict(frame))
        return payload.classifier_response(self.classifier, frame)


def _classifier(model: Any) -> Any:
    """The raw estimator when it can give class probabilities (scikit-learn style), else None."""
    try:
        raw = model.get_raw_model()
    except (NotImplementedError, AttributeError):
        return None
    return raw if hasattr(raw, "predict_proba") and hasattr(raw, "classes_") else None
