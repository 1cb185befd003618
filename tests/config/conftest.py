from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cd.config import load_repo
from cd.errors import ConfigError
from tests.helpers import PROJECT_ROOT, TEMPLATE_DIRS


class TemplateTree:
    """A copy of the template in a temp dir, edited by text replacement."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def replace(self, rel: str, old: str, new: str, count: int = 1) -> None:
        path = self.root / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, count))

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def problems(self) -> list[str]:
        with pytest.raises(ConfigError) as info:
            load_repo(self.root)
        return [str(p) for p in info.value.problems]


@pytest.fixture
def tree(tmp_path: Path) -> TemplateTree:
    for name in TEMPLATE_DIRS:
        shutil.copytree(PROJECT_ROOT / name, tmp_path / name)
    return TemplateTree(tmp_path)


@pytest.fixture
def problems_after(tree: TemplateTree) -> Callable[[str, str, str], list[str]]:
    def edit(rel: str, old: str, new: str) -> list[str]:
        tree.replace(rel, old, new)
        return tree.problems()

    return edit
