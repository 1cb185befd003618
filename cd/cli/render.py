"""Rendering helpers shared by CLI commands: output formats and GitHub workflow-command annotations."""

from __future__ import annotations

import os
from collections.abc import Iterable

from cd.errors import Problem
from cd.github.actions import annotation
from cd.humantime import describe_time

__all__ = ["default_format", "describe_time", "problem_annotations"]


def default_format() -> str:
    """`github` inside GitHub Actions, `text` elsewhere."""
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"


def problem_annotations(problems: Iterable[Problem], title: str) -> list[str]:
    """One `::error file=..,line=..,title=..::key: message` line per problem."""
    return [
        annotation(
            "error", f"{p.key}: {p.message}" if p.key else p.message, file=p.file, line=p.line, title=title
        )
        for p in problems
    ]
