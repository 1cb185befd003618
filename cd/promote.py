"""Promotion and rollback edits of `environments/<env>.yaml`, and the decisions behind them. Pure.

The edit is a round-trip edit: ruamel.yaml parses the file (comments, order and formatting kept) and
locates the exact `version:` scalar of the model; only that token is replaced, so the diff is that one
line (and the model's `challengers` lines, which any new version ends). The result is parsed again and
checked to differ from the original in those values only.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from cd.config.model import Environment
from cd.errors import ConfigError, Problem, PromotionError

_INT_TOKEN = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Promotion:
    model: str
    from_env: str
    to_env: str
    version: int
    previous_version: int | None  # what `to_env` had in git; None: first deploy there

    @property
    def branch(self) -> str:
        return f"modelcd/promote-{self.model}-v{self.version}-to-{self.to_env}"

    @property
    def title(self) -> str:
        return f"Promote {self.model} v{self.version} from {self.from_env} to {self.to_env}"


@dataclass(frozen=True)
class Rollback:
    model: str
    env: str
    version: int  # the version git is set back to (what is live)
    previous_version: int  # what git said

    @property
    def branch(self) -> str:
        return f"modelcd/rollback-{self.model}-{self.env}-to-v{self.version}"

    @property
    def title(self) -> str:
        return f"Roll back {self.model} in {self.env} to v{self.version} (what is live)"


def plan_promotion(
    source: Environment, target: Environment, model: str, live_in_source: int | None
) -> Promotion:
    """Promote the version of `model` that is desired AND live in `source`; refuse otherwise."""
    if model not in source.models:
        raise PromotionError(
            f"{source.path or source.name}: model {model!r} is not deployed in {source.name}"
        )
    desired = source.models[model].version
    if live_in_source is None:
        raise PromotionError(
            f"{model} is not live in {source.name} (no endpoint serves it at 100%): "
            f"nothing proven there to promote to {target.name}"
        )
    if live_in_source != desired:
        raise PromotionError(
            f"{model} v{desired} is desired in {source.name} but v{live_in_source} is live: "
            f"wait for the {source.name} rollout to finish (or fix it) before promoting"
        )
    current = target.models[model].version if model in target.models else None
    if current == desired:
        raise PromotionError(
            f"{target.path or target.name}: {model} is already at v{desired} in {target.name}"
        )
    if target.promote_from and target.promote_from != source.name:
        raise PromotionError(
            f"{target.path or target.name}: {target.name} takes promotions from {target.promote_from}, not {source.name}"
        )
    return Promotion(model, source.name, target.name, desired, current)


def plan_rollback(env: Environment, model: str, live_version: int | None, to_version: int | None) -> Rollback:
    """Set git back to what is live (or to `to_version`); refuse when git already says so."""
    if model not in env.models:
        raise PromotionError(f"{env.path or env.name}: model {model!r} is not deployed in {env.name}")
    desired = env.models[model].version
    version = to_version if to_version is not None else live_version
    if version is None:
        raise PromotionError(f"{model} has no live version in {env.name}: pass --to VERSION")
    if version == desired:
        raise PromotionError(f"{env.path or env.name}: git already has {model} at v{version} in {env.name}")
    return Rollback(model, env.name, version, desired)


def _round_trip_load(text: str, path: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="rt").load(io.StringIO(text))
    except YAMLError as exc:
        raise ConfigError(Problem(path, None, "", f"not valid YAML: {exc}")) from exc


def _version_node(doc: Any, model: str, path: str) -> Any:
    models: Any = doc.get("models") if hasattr(doc, "get") else None
    entry: Any = models.get(model) if hasattr(models, "get") else None
    if entry is None or not hasattr(entry, "get") or "version" not in entry:
        raise ConfigError(Problem(path, None, f"models.{model}.version", "not found"))
    return entry


def set_model_version(text: str, model: str, version: int, path: str = "environment") -> str:
    """`text` with `models.<model>.version` set to `version`, and the model's `challengers` (an
    experiment's other versions) removed when it has any; every other byte unchanged."""
    doc = _round_trip_load(text, path)
    entry = _version_node(doc, model, path)
    line, col = entry.lc.value("version")
    lines = text.splitlines(keepends=True)
    token = _INT_TOKEN.match(lines[line], col)
    if token is None:
        raise ConfigError(
            Problem(path, line + 1, f"models.{model}.version", "expected a plain integer to edit in place")
        )
    lines[line] = lines[line][: token.start()] + str(version) + lines[line][token.end() :]
    if "challengers" in entry:
        first, last = _challengers_lines(entry, model, path)
        del lines[first : last + 1]
    edited = "".join(lines)
    _check_only_version_changed(text, edited, model, version, path)
    return edited


def _challengers_lines(entry: Any, model: str, path: str) -> tuple[int, int]:
    """The first and last line (0-based) of the entry's `challengers:` key and its list."""
    first = entry.lc.key("challengers")[0]
    if entry.fa.flow_style():
        raise ConfigError(
            Problem(
                path,
                first + 1,
                f"models.{model}.challengers",
                "the model is written in flow style ({version: ..., challengers: [...]}); write it in block "
                "style so that the edit can remove its challengers line",
            )
        )
    value = entry["challengers"]
    last = first
    if hasattr(value, "lc") and len(value):
        last = max(first, value.lc.item(len(value) - 1)[0])
    return first, last


def _check_only_version_changed(before: str, after: str, model: str, version: int, path: str) -> None:
    old, new = _round_trip_load(before, path), _round_trip_load(after, path)
    new_entry = _version_node(new, model, path)
    if new_entry["version"] != version or "challengers" in new_entry:
        raise ConfigError(Problem(path, None, f"models.{model}.version", "the edit did not take"))
    old_entry = _version_node(old, model, path)
    new_entry["version"] = old_entry["version"]
    old_entry.pop("challengers", None)
    if _plain(old) != _plain(new):
        raise ConfigError(
            Problem(path, None, f"models.{model}.version", "the edit changed more than the version")
        )


def _plain(node: Any) -> Any:
    if hasattr(node, "items"):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
