"""GitHub's OpenAPI description as a contract: match requests to operations, validate bodies.

The description is the subset in tests/fixtures/github-openapi/ (see NOTICE there). Every request the
double receives and every response it returns is checked here; a mismatch is a `Violation`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "github-openapi" / "github-rest-subset.json"
METHODS = ("get", "post", "put", "patch", "delete")
# Parameters that may contain slashes (git refs like heads/feature/x, file paths like a/b.yaml).
GREEDY_PARAMS = {"path", "ref", "basehead"}
# Optional properties whose mere presence changes what an object is (an issue that is a pull request).
PRESENCE_MEANS_SOMETHING = {"pull_request", "starred_at", "parent", "source", "template_repository"}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str
    regex: re.Pattern[str]
    literal_segments: int
    spec: dict[str, Any]

    def parameters(self, location: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p.get("in") == location]

    def request_schema(self) -> tuple[str, dict[str, Any]] | None:
        body = self.spec.get("requestBody")
        if not body:
            return None
        media, content = next(iter(body["content"].items()))
        return media, content.get("schema", {})

    def response_schema(self, status: int) -> dict[str, Any] | None:
        responses = self.spec["responses"]
        response = responses.get(str(status)) or responses.get("default")
        if response is None:
            return None
        content = response.get("content") or {}
        media = content.get("application/json") or next(iter(content.values()), None)
        return {} if media is None else media.get("schema", {})

    def documents_status(self, status: int) -> bool:
        return str(status) in self.spec["responses"] or "default" in self.spec["responses"]


class Violation(Exception):
    """The request or response does not match GitHub's OpenAPI description."""


@functools.cache
def load_spec() -> dict[str, Any]:
    spec = dict(json.loads(SPEC_PATH.read_text()))
    _allow_null_in_nullable_enums(spec)
    return spec


def _allow_null_in_nullable_enums(node: Any) -> None:
    """`nullable: true` with an `enum` that lacks null: GitHub sends null there (e.g. an open issue's
    `state_reason`); OpenAPI 3.0.3 says the enum must list null for that to validate, and GitHub's
    description does not. Read it the way GitHub means it."""
    if isinstance(node, dict):
        if node.get("nullable") and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        for value in node.values():
            _allow_null_in_nullable_enums(value)
    elif isinstance(node, list):
        for value in node:
            _allow_null_in_nullable_enums(value)


def _template_regex(template: str) -> re.Pattern[str]:
    def param(match: re.Match[str]) -> str:
        name = match.group(1)
        pattern = ".+" if name in GREEDY_PARAMS else "[^/]+"
        return f"(?P<{name}>{pattern})"

    return re.compile("^" + re.sub(r"\{(\w+)\}", param, template) + "$")


@functools.cache
def operations() -> tuple[Operation, ...]:
    ops = []
    for template, item in load_spec()["paths"].items():
        for method in METHODS:
            if method in item:
                spec = dict(item[method])
                spec["parameters"] = list(item.get("parameters", [])) + list(spec.get("parameters", []))
                literal = sum(1 for s in template.split("/") if s and not s.startswith("{"))
                ops.append(
                    Operation(
                        operation_id=spec["operationId"],
                        method=method.upper(),
                        template=template,
                        regex=_template_regex(template),
                        literal_segments=literal,
                        spec=spec,
                    )
                )
    return tuple(ops)


def match_operation(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    """The operation for METHOD PATH; when several templates match, the most literal one wins."""
    candidates = []
    for op in operations():
        if op.method != method:
            continue
        found = op.regex.match(path)
        if found:
            candidates.append((op, found.groupdict()))
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[0].literal_segments, -len(c[0].template)))


def operation(operation_id: str) -> Operation:
    for op in operations():
        if op.operation_id == operation_id:
            return op
    raise KeyError(f"no operation {operation_id!r} in the OpenAPI subset")


@functools.cache
def basic_error_schema() -> dict[str, Any]:
    """GitHub's 'Basic Error' schema, used for error statuses an operation does not list (401, 429)."""
    schema = operation("repos/get").response_schema(404)
    assert schema is not None
    return schema


_VALIDATORS: dict[tuple[str, str], Any] = {}


def _validator(key: tuple[str, str], schema: dict[str, Any], write: bool) -> Any:
    from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator

    if key not in _VALIDATORS:
        cls = OAS30WriteValidator if write else OAS30ReadValidator
        _VALIDATORS[key] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return _VALIDATORS[key]


def _errors(validator: Any, instance: Any) -> list[str]:
    messages = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        messages.append(f"{where}: {error.message[:300]}")
    return messages


def coerce_parameter(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        if value not in ("true", "false"):
            raise ValueError(f"{value!r} is not true/false")
        return value == "true"
    if kind == "array":
        return value.split(",")
    return value


def check_parameters(op: Operation, path_params: dict[str, str], query: dict[str, str]) -> list[str]:
    problems = []
    for location, values in (("path", path_params), ("query", query)):
        for param in op.parameters(location):
            name = param["name"]
            if name not in values:
                if param.get("required"):
                    problems.append(f"{location} parameter {name!r} is required")
                continue
            schema = param.get("schema", {})
            try:
                coerced = coerce_parameter(values[name], schema)
            except ValueError as exc:
                problems.append(f"{location} parameter {name!r}: {exc}")
                continue
            validator = _validator((op.operation_id, f"param:{location}:{name}"), schema, write=True)
            problems.extend(f"{location} parameter {name!r}: {m}" for m in _errors(validator, coerced))
    return problems


def check_request_body(op: Operation, content_type: str, raw: bytes) -> list[str]:
    expected = op.request_schema()
    if expected is None:
        return []
    media, schema = expected
    required = bool(op.spec["requestBody"].get("required"))
    if media != "application/json":
        return ["request body is required"] if required and not raw else []
    if not raw:
        return ["request body is required (application/json)"] if required else []
    try:
        body = json.loads(raw)
    except ValueError as exc:
        return [f"request body is not JSON: {exc}"]
    validator = _validator((op.operation_id, "request"), schema, write=True)
    return [f"request body {m}" for m in _errors(validator, body)]


def check_response(op: Operation, status: int, body: Any) -> list[str]:
    if op.documents_status(status):
        schema = op.response_schema(status)
    elif status >= 400:
        schema = basic_error_schema()
    else:
        return [f"status {status} is not a documented response of {op.operation_id}"]
    if schema is None or body is None:
        return []
    validator = _validator((op.operation_id, f"response:{status}"), schema, write=False)
    return [f"response {status} {m}" for m in _errors(validator, body)]


def skeleton(schema: dict[str, Any], base_url: str) -> Any:
    """A minimal instance of SCHEMA: every required property present with a plausible value.

    The double overlays its real state on top, so responses carry every field GitHub documents as
    required even where the double has nothing meaningful to say.
    """
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = skeleton(part, base_url)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return skeleton(schema[key][0], base_url)
    if schema.get("nullable"):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: skeleton(props.get(name, {}), base_url) for name in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "number":
        return 0
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "uri":
            return f"{base_url}/"
        if fmt == "date-time":
            return datetime(2024, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if fmt == "email":
            return "nobody@example.com"
        return ""
    return None


def _branch_score(schema: dict[str, Any], value: Any) -> int:
    kind = schema.get("type")
    if isinstance(value, dict):
        if kind not in (None, "object"):
            return -1
        props = schema.get("properties", {})
        return sum(1 for key in value if key in props) - sum(1 for key in value if key not in props)
    if isinstance(value, list):
        return 0 if kind == "array" else -1
    return 0


def fill(schema: dict[str, Any], value: Any, base_url: str) -> Any:
    """VALUE completed with every required property SCHEMA asks for (see `skeleton`).

    The double's handlers state what they know; `fill` adds the rest so that github3.py and the
    contract see the full object GitHub would send. For oneOf/anyOf it picks the branch VALUE fits best.
    """
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(fill(part, value, base_url) or {})
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            best = max(schema[key], key=lambda branch: _branch_score(branch, value))
            return fill(best, value, base_url)
    if value is None:
        return None
    if isinstance(value, dict) and (schema.get("type") == "object" or "properties" in schema):
        props = schema.get("properties", {})
        done = {k: fill(props[k], v, base_url) if k in props else v for k, v in value.items()}
        for name in schema.get("required", []):
            if name not in done:
                done[name] = skeleton(props.get(name, {}), base_url)
        # GitHub sends (nearly) every documented property, and github3.py reads many optional ones.
        for name, prop in props.items():
            if name not in done and name not in PRESENCE_MEANS_SOMETHING:
                done[name] = None if prop.get("nullable") else skeleton(prop, base_url)
        return done
    if isinstance(value, list) and schema.get("type") == "array":
        return [fill(schema.get("items", {}), item, base_url) for item in value]
    return value
