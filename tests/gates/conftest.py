"""Gate fixtures: the churn example trained once per session and registered in a sqlite MLflow store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cd.examples import churn
from tests.helpers import GitRepo, make_template_repo


@dataclass(frozen=True)
class ChurnRegistry:
    tracking_uri: str
    versions: dict[str, int]  # role -> version


@pytest.fixture(scope="session")
def churn_data(tmp_path_factory: pytest.TempPathFactory) -> churn.Datasets:
    return churn.write_datasets(tmp_path_factory.mktemp("churn-data"))


@pytest.fixture(scope="session")
def churn_models(churn_data: churn.Datasets) -> dict[str, Any]:
    return churn.train_versions(churn_data.train)


@pytest.fixture(scope="session")
def churn_registry(
    tmp_path_factory: pytest.TempPathFactory, churn_data: churn.Datasets, churn_models: dict[str, Any]
) -> ChurnRegistry:
    root = tmp_path_factory.mktemp("churn-mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    return ChurnRegistry(uri, churn.register_versions(uri, churn_models, churn_data.test))


def set_version(repo: GitRepo, env: str, version: int | None) -> None:
    """Point `env`'s churn deployment at `version` (None: no churn in that environment)."""
    path = f"environments/{env}.yaml"
    text = repo.read(path)
    if version is None:
        text = re.sub(r"\nmodels:\n(  .*\n|    .*\n)*", "\nmodels: {}\n", text)
    else:
        text = re.sub(r"(\n  churn:\n    version: )\d+", rf"\g<1>{version}", text)
    repo.write(path, text)


@pytest.fixture
def churn_repo(tmp_path: Path, churn_data: churn.Datasets) -> GitRepo:
    """The template in a real git repo with the generated test set committed (as after
    `python models/churn/train.py` and a commit: CI sees only git)."""
    repo = make_template_repo(tmp_path / "repo")
    repo.write(churn.TEST_PATH, "")
    (repo.path / churn.TEST_PATH).write_bytes(
        churn.to_csv_bytes(churn.generate(churn.TEST_ROWS, churn.TEST_SEED))
    )
    repo.commit("the evaluation dataset")
    return repo


def open_pr(repo: GitRepo, base_version: int, head_version: int, env: str = "staging") -> None:
    """`main` has `env` at base_version; branch `pr` bumps it to head_version (checked out)."""
    set_version(repo, env, base_version)
    repo.commit(f"{env} at v{base_version}")
    repo.git("checkout", "-q", "-b", "pr")
    set_version(repo, env, head_version)
    repo.commit(f"promote {env} to v{head_version}")
