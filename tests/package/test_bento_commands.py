"""How BentoML processes are started (cd/package/bento.py): argv and environment, no server needed."""

from __future__ import annotations

import os
import sys
import tarfile
from pathlib import Path

import pytest

from cd.errors import PackageError
from cd.package import entrypoint_command, serve_command, unpack_bento
from cd.package.bento import bentoml_env, scratch_bentoml_home


def fake_bento(path: Path) -> Path:
    (path / "env" / "docker").mkdir(parents=True)
    (path / "env" / "docker" / "entrypoint.sh").write_text("#!/usr/bin/env bash\n")
    (path / "bento.yaml").write_text("name: churn\n")
    return path


def test_serve_command_runs_bentoml_serve_of_a_tag_from_the_given_home(tmp_path: Path) -> None:
    command = serve_command("churn:v3-abc", 8101, bentoml_home=tmp_path / "home", max_body_bytes=1024)
    assert command.argv == [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "churn:v3-abc",
        "--host",
        "127.0.0.1",
        "--port",
        "8101",
    ]
    assert command.env == {
        "BENTOML_DO_NOT_TRACK": "true",
        "BENTOML_HOME": str(tmp_path / "home"),
        "MODELCD_MAX_BODY_BYTES": "1024",
    }
    assert command.port == 8101
    assert command.full_env({"PATH": "/bin"}) == {"PATH": "/bin", **command.env}


def test_serving_a_tag_needs_the_home_that_holds_it() -> None:
    with pytest.raises(PackageError, match="serving a Bento tag needs the BentoML home that holds it"):
        serve_command("churn:v3-abc", 8101)


def test_serving_a_bento_directory_uses_a_scratch_home_never_the_shared_one(tmp_path: Path) -> None:
    command = serve_command(fake_bento(tmp_path / "bento"), 8102)
    assert command.env["BENTOML_HOME"] == str(scratch_bentoml_home())
    assert not command.env["BENTOML_HOME"].startswith(os.path.expanduser("~"))


def test_an_archive_must_be_unpacked_before_serving(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="an exported archive; unpack it first"):
        serve_command(tmp_path / "churn-v3.bento", 8101)


def test_the_entrypoint_command_runs_the_images_entrypoint_with_serve(tmp_path: Path) -> None:
    bento = fake_bento(tmp_path / "bento")
    command = entrypoint_command(bento, bentoml_home=tmp_path / "home")
    assert command.argv == ["bash", str(bento / "env" / "docker" / "entrypoint.sh"), "serve"]
    assert command.cwd == bento
    assert command.port == 8080
    assert command.env["BENTO_PATH"] == str(bento)
    assert "SAGEMAKER_BIND_TO_PORT" not in command.env
    assert "BENTOML_HOST" not in command.env
    assert command.env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


def test_the_entrypoint_port_and_host_come_from_sagemaker_and_bentoml_variables(tmp_path: Path) -> None:
    command = entrypoint_command(fake_bento(tmp_path / "bento"), port=9001, host="127.0.0.1")
    assert (command.env["SAGEMAKER_BIND_TO_PORT"], command.env["BENTOML_HOST"], command.port) == (
        "9001",
        "127.0.0.1",
        9001,
    )


def test_the_entrypoint_command_needs_a_bento_directory(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="not a Bento directory"):
        entrypoint_command(tmp_path)


def test_bentoml_processes_get_a_home_no_telemetry_and_uv_on_path(tmp_path: Path) -> None:
    env = bentoml_env(tmp_path / "home")
    assert env["BENTOML_HOME"] == str(tmp_path / "home")
    assert env["BENTOML_DO_NOT_TRACK"] == "true"
    assert (Path(env["PATH"].split(os.pathsep)[0]) / "uv").is_file()


def test_unpacking_a_tar_without_bento_yaml_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "x.bento"
    (tmp_path / "readme.txt").write_text("hi")
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(tmp_path / "readme.txt", arcname="./readme.txt")
    with pytest.raises(PackageError, match=r"x.bento: not a Bento archive \(no bento.yaml inside\)"):
        unpack_bento(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unpacking_a_file_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "x.bento"
    archive.write_text("not a tar")
    with pytest.raises(PackageError, match="not a readable Bento archive"):
        unpack_bento(archive, tmp_path / "out")


def test_unpacking_replaces_an_earlier_copy(tmp_path: Path) -> None:
    source = fake_bento(tmp_path / "src")
    archive = tmp_path / "b.bento"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(source, arcname=".")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale").write_text("old")
    unpacked = unpack_bento(archive, tmp_path / "out")
    assert sorted(p.name for p in unpacked.iterdir()) == ["bento.yaml", "env"]


def test_a_bentos_own_environment_keeps_its_bytecode_in_the_environment_not_beside_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where PYTHONDONTWRITEBYTECODE is set, every server used to compile BentoML, MLflow and
    scikit-learn again at start-up (18 s to /ping for the churn Bento, 9 s with bytecode kept)."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    python = tmp_path / "envs" / "9d0af3b335c951bc" / "bin" / "python"
    command = serve_command("churn:v3-abc", 8101, bentoml_home=tmp_path / "home", python=python)
    env = command.full_env()
    assert env["PYTHONDONTWRITEBYTECODE"] == ""  # empty: Python writes bytecode again
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "envs" / "9d0af3b335c951bc" / "bytecode")
    assert env["PYTHONPATH"] == ""
