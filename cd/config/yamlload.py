"""The one YAML loader: safe, strict, and with a line number for every key.

PyYAML composes the node tree (libyaml's C parser when available); we then build plain Python values
ourselves with YAML 1.2-style rules, refusing what a reader could misread:

- duplicate keys, explicit tags, anchors/aliases and merge keys, multi-document files;
- YAML 1.1 surprises: `yes/no/on/off/y/n` booleans, `010` octal, `1_000`, `0x1f`, `1:30` sexagesimal;
- `.nan`/`.inf` numbers; files over `MAX_BYTES`; nesting deeper than `MAX_DEPTH`.

Each problem becomes a `Problem(file, line, key path, message)`; callers get a `ConfigError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cd.errors import ConfigError, Problem

MAX_BYTES = 1 << 20
MAX_DEPTH = 24

KeyPath = tuple[str | int, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"

_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_YAML11_BOOL = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9]+$")
_OTHER_BASE = re.compile(r"^[-+]?0[xXoObB][0-9a-fA-F_]+$")
_UNDERSCORE_NUMBER = re.compile(r"^[-+]?[0-9][0-9_]*_[0-9_]*(\.[0-9_]*)?$")
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_NONFINITE = re.compile(r"^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$")


def format_key(path: Sequence[str | int]) -> str:
    """`models.churn.version`, `rollout.steps[2].bake`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: its data and the line of every key path."""

    file: str
    data: Any
    lines: Mapping[KeyPath, int]

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        key = tuple(path)
        while True:
            if key in self.lines:
                return self.lines[key]
            if not key:
                return None
            key = key[:-1]

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        return Problem(self.file, self.line_of(path), format_key(path), message)


def _loader_class() -> Any:
    import yaml

    return getattr(yaml, "CBaseLoader", None) or yaml.BaseLoader


def parse_yaml(raw: bytes | str, file: str) -> Document:
    """Parse one YAML document strictly. Raises ConfigError naming the file, line and key."""
    import yaml

    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_BYTES:
        raise ConfigError(Problem(file, None, "", f"file is {size} bytes; the limit is {MAX_BYTES} bytes"))
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                Problem(file, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            ) from exc
    else:
        text = raw
    loader = _loader_class()(text)
    builder = _Builder(file)
    try:
        data = builder.run(loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            Problem(file, line, "", f"YAML syntax error: {exc.problem or exc.context}")
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(file, None, "", f"YAML error: {exc}")) from exc
    finally:
        loader.dispose()
    if builder.problems:
        raise ConfigError(builder.problems)
    return Document(file, data, builder.lines)


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any]
    path: KeyPath
    key: str | None = None  # for mappings: the key whose value comes next (None: a key comes next)
    drop: bool = False  # the value of `key` is discarded (duplicate or merge key)


class _Builder:
    """Builds values from parser events with an explicit stack: no recursion, whatever the input."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[Problem] = []

    def fail(self, line: int | None, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.file, line, format_key(path), message))

    def run(self, loader: Any) -> Any:
        import yaml

        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # DocumentStart
        data = self._document(loader)
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            line = loader.peek_event().start_mark.line + 1
            raise ConfigError(
                Problem(
                    self.file, line, "", "more than one YAML document (`---`) in the file; keep exactly one"
                )
            )
        return data

    def _document(self, loader: Any) -> Any:
        import yaml

        stack: list[_Frame] = []
        while True:
            event = loader.get_event()
            line = event.start_mark.line + 1
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                done = stack.pop()
                if not stack:
                    return done.container
                continue
            top = stack[-1] if stack else None
            if top is not None and isinstance(top.container, dict) and top.key is None:
                self._key(event, top, line)
                continue
            path, drop = self._slot(top, line)
            value = self._value(event, path, line)
            if top is not None:
                self._place(top, value, drop)
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise ConfigError(
                        Problem(self.file, line, format_key(path), f"nesting deeper than {MAX_DEPTH} levels")
                    )
                stack.append(_Frame(value, path))
            elif top is None:
                return value

    def _key(self, event: Any, frame: _Frame, line: int) -> None:
        import yaml

        if not isinstance(event, yaml.ScalarEvent) or event.tag not in (None, "!"):
            raise ConfigError(
                Problem(self.file, line, format_key(frame.path), "mapping keys must be plain strings")
            )
        key = event.value
        child = (*frame.path, key)
        frame.key, frame.drop = key, True
        assert isinstance(frame.container, dict)
        if key == "<<" and event.style in (None, ""):
            self.fail(line, frame.path, "YAML merge keys (<<) are not supported; write the keys out")
        elif key in frame.container or child in self.lines:
            self.fail(line, child, f"duplicate key {key!r} (first defined on line {self.lines.get(child)})")
        else:
            frame.drop = False
            self.lines[child] = line

    def _slot(self, top: _Frame | None, line: int) -> tuple[KeyPath, bool]:
        if top is None:
            self.lines[()] = line
            return (), False
        if isinstance(top.container, dict):
            assert top.key is not None
            return (*top.path, top.key), top.drop
        path = (*top.path, len(top.container))
        self.lines[path] = line
        return path, False

    @staticmethod
    def _place(top: _Frame, value: Any, drop: bool) -> None:
        if isinstance(top.container, dict):
            assert top.key is not None
            if not drop:
                top.container[top.key] = value
            top.key = None
        else:
            top.container.append(value)

    def _value(self, event: Any, path: KeyPath, line: int) -> Any:
        import yaml

        if isinstance(event, yaml.AliasEvent):
            self.fail(
                self.lines.get(path, line),
                path,
                "YAML anchors and aliases (&name / *name) are not supported; write the value out",
            )
            return None
        if event.tag not in (None, "!"):
            self.fail(line, path, f"explicit YAML tag {event.tag!r} is not allowed")
        if isinstance(event, yaml.MappingStartEvent):
            return {}
        if isinstance(event, yaml.SequenceStartEvent):
            return []
        if event.tag not in (None, "!"):
            return None
        return self._scalar(event, path, line)

    def _scalar(self, event: Any, path: KeyPath, line: int) -> Any:
        value: str = event.value
        if event.style not in (None, ""):  # quoted or block scalar: always a string
            return value
        if value in _NULL:
            return None
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        if _INT.match(value):
            return int(value)
        if _FLOAT.match(value) and not _LEADING_ZERO.match(value):
            return float(value)
        message = _ambiguity(value)
        if message:
            self.fail(line, path, message)
            return None
        return value


def _ambiguity(value: str) -> str | None:
    """Why a plain scalar is refused, or None when it is an ordinary string."""
    if _YAML11_BOOL.match(value):
        return f"ambiguous value {value!r}: YAML 1.1 reads it as a boolean; write true/false, or quote it"
    if _LEADING_ZERO.match(value):
        return (
            f"ambiguous number {value!r}: YAML 1.1 reads a leading 0 as octal; "
            "drop the leading zero, or quote it if a string is meant"
        )
    if _OTHER_BASE.match(value) or _UNDERSCORE_NUMBER.match(value):
        return f"ambiguous number {value!r}: write a plain decimal number, or quote it"
    if _SEXAGESIMAL.match(value):
        return f"ambiguous value {value!r}: YAML 1.1 reads it as a base-60 number; quote it"
    if _NONFINITE.match(value):
        return f"{value!r} is not allowed: numbers must be finite"
    return None
