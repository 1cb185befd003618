"""Shared rendering helpers for CLI commands (output formats, GitHub annotations)."""

from __future__ import annotations

import os

import click


def default_format() -> str:
    """`github` inside GitHub Actions, `text` elsewhere."""
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"

