"""Rendering helpers shared by CLI commands: output formats and GitHub workflow-command annotations."""

from __future__ import annotations

import os
from collections.abc import Iterable

from cd.errors import Problem


def default_format() -> str:
    """`github` inside GitHub Actions, `text` elsewhere."""
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    level: str, message: str, *, file: str | None = None, line: int | None = None, title: str | None = None
) -> str:
    """A `::error file=..,line=..,title=..::message` workflow command, escaped as the runner expects."""
    props = []
    if file:
        props.append(f"file={_escape_property(file)}")
    if line:
        props.append(f"line={line}")
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{_escape_data(message)}"


def problem_annotations(problems: Iterable[Problem], title: str) -> list[str]:
    return [
        annotation(
            "error", f"{p.key}: {p.message}" if p.key else p.message, file=p.file, line=p.line, title=title
        )
        for p in problems
    ]
