"""The identity chain: every artifact that crosses a stage names what it is, and every consumer checks
that against git's desired state before using it. Pure: records in, problems out.

An identity is the model (directory under models/), its registered model, the version and the model's
content sha256. The gate verdict carries it (with the dataset's and the gate file's sha256); the build
record carries it (with the Bento's sha256 and, once pushed, the image digest); release and deploy
refuse an artifact whose identity differs from what they are asked to publish or roll out, naming both
sides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cd.errors import CustodyError

SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Identity:
    """What git wants: `model` (models/<model>/) as `registered_model` version `version`."""

    model: str
    registered_model: str
    version: int

    def describe(self) -> str:
        return f"{self.model} v{self.version} (registered model {self.registered_model!r})"


def _real_sha256(value: object) -> bool:
    return isinstance(value, str) and bool(SHA256.match(value)) and set(value) != {"0"}


def build_record_problems(record: Mapping[str, Any], wanted: Identity, where: str) -> list[str]:
    """A build record is of the wanted identity and names real content hashes."""
    problems = []
    for key, expected in (
        ("model", wanted.model),
        ("registered_model", wanted.registered_model),
        ("version", wanted.version),
    ):
        if record.get(key) != expected:
            problems.append(f"{where}: {key} is {record.get(key)!r}, but git wants {expected!r}")
    for key in ("bento_sha256", "model_sha256"):
        if not _real_sha256(record.get(key)):
            problems.append(f"{where}: {key} {record.get(key)!r} is not a content sha256")
    return problems


def verdict_problems(
    verdict: Mapping[str, Any],
    wanted: Identity,
    environment: str | None,
    where: str,
    *,
    overridden: bool = False,
) -> list[str]:
    """A gate verdict judged this identity in this environment, and passed (or was overridden)."""
    candidate = verdict.get("candidate") or {}
    problems = []
    for what, found, expected in (
        ("model", verdict.get("model"), wanted.model),
        ("registered model", candidate.get("name"), wanted.registered_model),
        ("version", candidate.get("version"), wanted.version),
    ):
        if found != expected:
            problems.append(f"{where}: the verdict judged {what} {found!r}, not {expected!r}")
    if environment is not None and verdict.get("environment") != environment:
        problems.append(
            f"{where}: the verdict is for environment {verdict.get('environment')!r}, not {environment!r}"
        )
    outcome = verdict.get("verdict")
    if outcome != "pass" and not (overridden or verdict.get("override")):
        problems.append(
            f"{where}: the gate verdict is {str(outcome).upper()}; a release needs a passing gate or a "
            "recorded override (`/modelcd override <reason>` on the pull request)"
        )
    return problems


def build_matches_verdict(record: Mapping[str, Any], verdict: Mapping[str, Any], where: str) -> list[str]:
    """The model the build packaged is, byte for byte, the model the gate judged."""
    judged = (verdict.get("candidate") or {}).get("sha256")
    built = record.get("model_sha256")
    if judged and built != judged:
        return [
            f"{where}: the build packaged model sha256 {str(built)[:12]}…, but the gate judged "
            f"{str(judged)[:12]}…: not the model that passed"
        ]
    return []


def refuse(problems: list[str]) -> None:
    if problems:
        raise CustodyError("\n".join(problems))
