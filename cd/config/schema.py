"""JSON Schema (Draft 2020-12) validation with messages that name the file, line and key."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from cd.config.yamlload import Document
from cd.errors import Problem

SCHEMAS = ("environment", "gate", "model")

_JSON_TYPES = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("cd.config").joinpath("schemas", f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


@cache
def _fast_validator(name: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(load_schema(name))


def validate_document(doc: Document, schema_name: str) -> list[Problem]:
    """Every schema violation in `doc`, as problems sorted by line.

    Valid documents (the common case) are checked by jsonschema-rs, a compiled Draft 2020-12 validator;
    only an invalid document is walked again by python-jsonschema, whose errors carry what the messages
    need (keyword, expected value, sub-schema). Both implement the same specification.
    """
    if _fast_validator(schema_name).is_valid(doc.data):
        return []
    problems: list[Problem] = []
    for error in _validator(schema_name).iter_errors(doc.data):
        problems.extend(_problems_for(doc, error))
    if not problems:  # the two validators disagree: never let an invalid document through silently
        problems = [
            doc.problem((), str(e.message)) for e in _fast_validator(schema_name).iter_errors(doc.data)
        ]
    return sorted(set(problems), key=lambda p: (p.line or 0, p.key, p.message))


def _describe(value: Any) -> str:
    kind = _JSON_TYPES.get(type(value), type(value).__name__)
    if isinstance(value, dict | list):
        return kind
    return f"{kind} ({value!r})" if value is not None else "null"


def _problems_for(doc: Document, error: Any) -> list[Problem]:
    path = tuple(error.absolute_path)
    validator, instance, expected = error.validator, error.instance, error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if "propertyNames" in error.relative_schema_path:
        return [doc.problem((*path, instance), f"invalid name {instance!r}: {_pattern_hint(schema)}")]
    if validator == "additionalProperties" and expected is False and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        extras = [k for k in instance if k not in allowed]
        return [
            doc.problem((*path, k), f"unknown key {k!r}; allowed keys: {', '.join(allowed)}") for k in extras
        ]
    if validator in ("oneOf", "anyOf") and (branch := _branch_of_its_type(error)) is not None:
        return [p for sub in branch for p in _problems_for(doc, sub)]
    if validator == "required":
        missing = [k for k in expected if isinstance(instance, dict) and k not in instance]
        return [doc.problem(path, f"missing required key {k!r}") for k in missing]
    return [doc.problem(path, _message(validator, instance, expected, schema, error.message))]


def _branch_of_its_type(error: Any) -> list[Any] | None:
    """For `false, or a mapping of ...` (one alternative per JSON type): the errors of the only
    alternative of the value's type, which say what is wrong inside it; None when that is not one."""
    branches: dict[int, list[Any]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    of_its_type = [
        errors
        for errors in branches.values()
        if not any(e.validator in ("type", "const") and not e.relative_path for e in errors)
    ]
    return of_its_type[0] if len(of_its_type) == 1 else None


def _message(validator: str, instance: Any, expected: Any, schema: dict[str, Any], default: str) -> str:
    if validator == "type":
        names = {"object": "mapping", "array": "list", "null": "empty value"}
        expected_types: list[str] = expected if isinstance(expected, list) else [expected]
        wanted = " or ".join(names.get(e, e) for e in expected_types)
        article = "an" if str(wanted)[0] in "aeiou" else "a"
        return f"expected {article} {wanted}, got {_describe(instance)}"
    if validator == "enum":
        return f"must be one of {', '.join(map(str, expected))}; got {_describe(instance)}"
    if validator == "const":
        return f"must be {expected!r}; got {_describe(instance)}"
    if validator == "pattern":
        return f"invalid value {instance!r}: {_pattern_hint(schema)}"
    if validator in ("minProperties", "maxProperties") and "set_weight" in schema.get("properties", {}):
        return "each step must have exactly one of set_weight, bake, shadow, analysis"
    if validator == "oneOf" and "feature" in schema.get("properties", {}):
        return "a slice needs exactly one of `feature` or `cross`"
    if validator == "anyOf" and "metric" in schema.get("properties", {}):
        return "a metric check needs a `value` threshold, a `change` threshold, or both"
    if validator == "dependentRequired":
        return "`buckets` applies to a `feature` slice only"
    if validator == "minItems" and expected == 1:
        return "must not be empty"
    if validator == "minProperties" and expected == 1:
        return "must set at least one key"
    if validator == "uniqueItems":
        return "items must be unique"
    return default


def _pattern_hint(schema: dict[str, Any]) -> str:
    description = schema.get("description")
    pattern = schema.get("pattern", "")
    return f"{description} (pattern {pattern})" if description else f"must match {pattern}"
