"""`deploy` trusts no build record: it must be the build of what git wants, and the Bento in the store
must still be what the build recorded. Refusals name both sides; nothing is deployed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cd.config import load_repo
from cd.config.model import Environment, RepoConfig
from cd.errors import CustodyError
from cd.package.bento import stored_bento_sha256
from cd.rollout.deploy import image_from_record, wanted_identity
from tests.helpers import PROJECT_ROOT

TAG = "churn:v2-aaaaaaaaaaaa"


@pytest.fixture
def config() -> RepoConfig:
    return load_repo(PROJECT_ROOT)


@pytest.fixture
def local_env(config: RepoConfig) -> Environment:
    from dataclasses import replace

    from cd.config.model import LocalTargetConfig

    staging = config.environments["staging"]
    return replace(staging, target=LocalTargetConfig(endpoint_prefix="demo-staging"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A BentoML store holding one Bento (and no models)."""
    bento = tmp_path / "bentoml" / "bentos" / "churn" / "v2-aaaaaaaaaaaa"
    (bento / "src").mkdir(parents=True)
    (bento / "bento.yaml").write_text("name: churn\nmodels: []\nservices: []\n")
    (bento / "src" / "service.py").write_text("# the service\n")
    return tmp_path / "bentoml"


def record(tmp_path: Path, home: Path, **changes: Any) -> Path:
    data = {
        "model": "churn",
        "registered_model": "churn",
        "version": 1,  # what the template's staging wants
        "bento_tag": TAG,
        "bento_sha256": "b" * 64,
        "model_sha256": "a" * 64,
        "bento_content_sha256": stored_bento_sha256(home, TAG),
        **changes,
    }
    path = tmp_path / f"churn-v{data['version']}.build.json"
    path.write_text(json.dumps(data))
    return path


def test_a_verified_record_names_the_bento_to_serve(
    tmp_path: Path, home: Path, local_env: Environment, config: RepoConfig
) -> None:
    wanted = wanted_identity(local_env, config, "churn")
    assert image_from_record(record(tmp_path, home), wanted, local_env, home) == TAG


def test_a_record_of_another_version_than_git_wants_is_refused(
    tmp_path: Path, home: Path, local_env: Environment, config: RepoConfig
) -> None:
    path = record(tmp_path, home, version=4)
    with pytest.raises(CustodyError) as err:
        image_from_record(path, wanted_identity(local_env, config, "churn"), local_env, home)
    assert str(err.value) == f"build record {path}: version is 4, but git wants 1"


def test_a_record_with_zeroed_hashes_is_refused(
    tmp_path: Path, home: Path, local_env: Environment, config: RepoConfig
) -> None:
    path = record(tmp_path, home, bento_sha256="0" * 64, model_sha256="0" * 64)
    with pytest.raises(CustodyError) as err:
        image_from_record(path, wanted_identity(local_env, config, "churn"), local_env, home)
    assert "bento_sha256" in str(err.value) and "model_sha256" in str(err.value)


def test_a_bento_edited_in_the_store_after_its_build_is_refused(
    tmp_path: Path, home: Path, local_env: Environment, config: RepoConfig
) -> None:
    path = record(tmp_path, home)
    (home / "bentos" / "churn" / "v2-aaaaaaaaaaaa" / "src" / "service.py").write_text("# edited\n")
    with pytest.raises(CustodyError) as err:
        image_from_record(path, wanted_identity(local_env, config, "churn"), local_env, home)
    assert "it changed after the build; rebuild it" in str(err.value)


def test_a_sagemaker_image_must_be_pinned_by_digest(tmp_path: Path, home: Path, config: RepoConfig) -> None:
    staging = config.environments["staging"]
    path = record(tmp_path, home, image_digest="123.dkr.ecr/modelcd:churn-v1")
    with pytest.raises(CustodyError, match="is not pinned by digest"):
        image_from_record(path, wanted_identity(staging, config, "churn"), staging, None)


def _with_challenger(env: Environment, version: int = 1, challenger: int = 2) -> Environment:
    from dataclasses import replace

    churn = replace(env.models["churn"], version=version, challengers=(challenger,))
    return replace(env, models={**env.models, "churn": churn})


def test_each_challenger_is_read_from_its_own_verified_build_record(
    tmp_path: Path, home: Path, local_env: Environment, config: RepoConfig
) -> None:
    from cd.rollout.deploy import challenger_images

    env = _with_challenger(local_env)
    record(tmp_path, home, version=2)
    assert challenger_images(tmp_path, env, ["churn"], config, home) == {"churn": {2: TAG}}


def test_a_challenger_without_a_build_record_stops_the_deploy_naming_the_file(
    tmp_path: Path, home: Path, local_env: Environment, config: RepoConfig
) -> None:
    from cd.errors import RolloutError
    from cd.rollout.deploy import challenger_images

    with pytest.raises(RolloutError) as err:
        challenger_images(tmp_path, _with_challenger(local_env), ["churn"], config, home)
    assert str(err.value) == (
        f"environments/staging.yaml: models.churn.challengers names v2, but {tmp_path} has no build record "
        "churn-v2.build.json: build it (`modelcd build --model churn --version 2`); nothing was changed"
    )


def test_a_challengers_record_of_another_version_is_refused(
    tmp_path: Path, home: Path, local_env: Environment, config: RepoConfig
) -> None:
    from cd.rollout.deploy import challenger_images

    path = record(tmp_path, home, version=2)
    path.write_text(path.read_text().replace('"version": 2', '"version": 5'))
    with pytest.raises(CustodyError) as err:
        challenger_images(tmp_path, _with_challenger(local_env), ["churn"], config, home)
    assert str(err.value) == f"build record {path}: version is 5, but git wants 2"


def test_an_experiment_with_challengers_cannot_be_deployed_from_one_image(
    local_env: Environment, config: RepoConfig
) -> None:
    from cd.errors import UsageError
    from cd.rollout.deploy import read_images

    with pytest.raises(UsageError) as err:
        read_images(None, "churn:v1", ["churn"], _with_challenger(local_env), config)
    assert str(err.value) == (
        "environments/staging.yaml: models.churn.challengers: an experiment deploys each of its versions; "
        "pass --build-dir with the build record of every one"
    )
