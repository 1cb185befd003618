"""A real Bento from a real registered model: build, export, serve (by tag and via the container
entrypoint), and SageMaker's contract on /ping and /invocations. One build per session (conftest)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from cd.errors import PackageError, RegistryError
from cd.package import build_bento, entrypoint_command, read_record, serve_command, unpack_bento
from cd.registry import Registry
from tests.helpers import run_modelcd
from tests.package.churn_model import INPUTS, churn_frame, churn_spec
from tests.package.conftest import IMAGE_REPOSITORY, BuiltChurn, RegisteredChurn
from tests.package.servers import RunningServer, free_port, running

pytestmark = pytest.mark.slow

SERVER_BODY_LIMIT = 16 * 1024
ROWS = churn_frame(20, seed=99)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def expected_answer(model: Any, frame: pd.DataFrame) -> dict[str, Any]:
    raw = model.get_raw_model()
    return {
        "predictions": raw.predict(frame).tolist(),  # labels, however the pyfunc was logged
        "probabilities": raw.predict_proba(frame).tolist(),
        "classes": raw.classes_.tolist(),
    }


@pytest.fixture(scope="module")
def server(built_churn: BuiltChurn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """`bentoml serve <tag>` from the repository's BentoML home, on a free loopback port."""
    command = serve_command(
        built_churn.record.bento_tag,
        free_port(),
        bentoml_home=built_churn.bentoml_home,
        max_body_bytes=SERVER_BODY_LIMIT,
    )
    with running(command, tmp_path_factory.mktemp("serve-log") / "serve.log") as live:
        print(f"\nbuild {built_churn.build_seconds:.1f}s; bentoml serve ready in {live.ready_seconds:.1f}s")
        yield live


@pytest.fixture(scope="module")
def unpacked(built_churn: BuiltChurn, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_bento(built_churn.archive, tmp_path_factory.mktemp("unpacked") / "bento")


@pytest.fixture(scope="module")
def container_like(unpacked: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The exported archive, unpacked and started as its image does: `entrypoint.sh serve`.

    8080 may be taken by another test worker, so the port comes from $SAGEMAKER_BIND_TO_PORT (what
    SageMaker sets for inference pipelines); `test_the_service_listens_on_8080_by_default` proves the
    default. The host is pinned to loopback (in a container BentoML binds 0.0.0.0).
    """
    logs = tmp_path_factory.mktemp("entrypoint")
    command = entrypoint_command(unpacked, port=free_port(), host="127.0.0.1", bentoml_home=logs / "home")
    with running(command, logs / "entrypoint.log") as live:
        print(f"\nentrypoint serve ready in {live.ready_seconds:.1f}s")
        yield live


def post(
    server: RunningServer, body: bytes | str, content_type: str | None, **kwargs: Any
) -> requests.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return requests.post(f"{server.url}/invocations", data=body, headers=headers, timeout=30, **kwargs)


def post_json(server: RunningServer, doc: Any) -> requests.Response:
    return post(server, json.dumps(doc), "application/json")


# ------------------------------------------------------------------------------ build and export


def test_build_exports_the_bento_and_writes_its_record(
    built_churn: BuiltChurn, registered_churn: RegisteredChurn
) -> None:
    record = built_churn.record
    model_sha = Registry(registered_churn.tracking_uri).resolve("churn", registered_churn.version).sha256
    assert record.bento_tag == f"churn:v{registered_churn.version}-{model_sha[:12]}"
    assert record.model_sha256 == model_sha
    assert record.image_tag == f"{IMAGE_REPOSITORY}:churn-v{registered_churn.version}-{model_sha[:12]}"
    assert record.image_digest is None
    assert record.locked is False
    assert record.bento_archive == f"churn-v{registered_churn.version}.bento"
    assert record.bento_sha256 == hashlib.sha256(built_churn.archive.read_bytes()).hexdigest()
    assert read_record(built_churn.out_dir / f"churn-v{registered_churn.version}.build.json") == record
    assert sorted(p.name for p in built_churn.out_dir.iterdir()) == [
        record.bento_archive,
        f"churn-v{registered_churn.version}.build.json",
    ]


def test_building_the_same_version_again_gives_the_same_bytes(
    built_churn: BuiltChurn, tmp_path: Path
) -> None:
    again = build_bento(
        built_churn.registered.repo_root,
        built_churn.registered.spec,
        built_churn.registered.version,
        tracking_uri=built_churn.registered.tracking_uri,
        out_dir=tmp_path,
        image_repository=IMAGE_REPOSITORY,
        environ={},
        smoke_test=False,  # the first build was smoke-tested; this one only compares bytes
    )
    assert again.bento_sha256 == built_churn.record.bento_sha256
    assert hashlib.sha256((tmp_path / again.bento_archive).read_bytes()).hexdigest() == again.bento_sha256


def test_the_bento_pins_the_models_own_requirements(unpacked: Path, built_churn: BuiltChurn) -> None:
    model_dir = next((unpacked / "models" / "churn").glob("v*/mlflow_model"))
    own = [line for line in (model_dir / "requirements.txt").read_text().splitlines() if line.strip()]
    frozen = (unpacked / "env" / "python" / "requirements.txt").read_text().splitlines()
    assert own == [
        *(f"{p}=={version(p)}" for p in ("mlflow", "scikit-learn", "numpy", "pandas", "skops")),
        "scipy",
    ]
    assert frozen == [*own[:-1], f"scipy=={version('scipy')}", f"bentoml=={version('bentoml')}"]
    assert list(built_churn.record.requirements) == frozen


def test_the_image_entrypoint_is_bentomls_entrypoint_script(unpacked: Path) -> None:
    dockerfile = (unpacked / "env" / "docker" / "Dockerfile").read_text()
    assert 'ENTRYPOINT [ "/home/bentoml/bento/env/docker/entrypoint.sh" ]' in dockerfile
    assert "uv venv --python 3.11" in dockerfile


def test_the_service_listens_on_8080_by_default_or_on_sagemakers_port(unpacked: Path) -> None:
    probe = (
        "import json, service;"
        "print(json.dumps([service.SageMakerService.config['http']['port'],"
        " service.listen_port({}), service.listen_port({'SAGEMAKER_BIND_TO_PORT': '9123'})]))"
    )
    env = {"PATH": "/usr/bin:/bin", "BENTOML_DO_NOT_TRACK": "true", "HOME": str(unpacked)}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=unpacked / "src",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [8080, 8080, 9123]


def test_a_missing_version_is_a_registry_error(registered_churn: RegisteredChurn, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="model 'churn' version 99: not found in the MLflow registry"):
        build_bento(
            registered_churn.repo_root,
            churn_spec(),
            99,
            tracking_uri=registered_churn.tracking_uri,
            out_dir=tmp_path,
        )
    assert list(tmp_path.iterdir()) == []


def test_model_yaml_inputs_must_match_the_mlflow_signature(
    registered_churn: RegisteredChurn, tmp_path: Path
) -> None:
    spec = churn_spec(inputs=(*INPUTS[:-1], INPUTS[-1].__class__("paperless", "boolean")))
    with pytest.raises(PackageError) as caught:
        build_bento(
            registered_churn.repo_root,
            spec,
            registered_churn.version,
            tracking_uri=registered_churn.tracking_uri,
            out_dir=tmp_path,
        )
    assert str(caught.value) == (
        f"models/churn/model.yaml: inputs do not match the MLflow signature of model 'churn' version "
        f"{registered_churn.version}; the model also needs: autopay; the model does not take: paperless"
    )


# ------------------------------------------------------------------------------ served by tag


def test_ping_answers_200_once_the_model_is_loaded(server: RunningServer, built_churn: BuiltChurn) -> None:
    response = requests.get(f"{server.url}/ping", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model": built_churn.record.bento_tag}


def test_json_records_get_the_models_own_predictions(server: RunningServer, reference_model: Any) -> None:
    response = post_json(server, records(ROWS))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected_answer(reference_model, ROWS)


def test_instances_get_the_models_own_predictions(server: RunningServer, reference_model: Any) -> None:
    response = post_json(server, {"instances": records(ROWS)})
    assert response.status_code == 200
    assert response.json() == expected_answer(reference_model, ROWS)


def test_dataframe_split_gets_the_models_own_predictions(server: RunningServer, reference_model: Any) -> None:
    split = json.loads(ROWS.to_json(orient="split", index=False, double_precision=15))
    response = post_json(server, {"dataframe_split": split})
    assert response.status_code == 200
    assert response.json() == expected_answer(reference_model, ROWS)


def test_csv_with_header_gets_the_models_own_predictions(server: RunningServer, reference_model: Any) -> None:
    response = post(server, ROWS.to_csv(index=False), "text/csv")
    assert response.status_code == 200
    assert response.json() == expected_answer(reference_model, ROWS)


def test_csv_without_header_gets_the_models_own_predictions(
    server: RunningServer, reference_model: Any
) -> None:
    response = post(server, ROWS.to_csv(index=False, header=False), "text/csv; charset=utf-8")
    assert response.status_code == 200
    assert response.json() == expected_answer(reference_model, ROWS)


def test_a_wrong_column_gets_400_naming_it(server: RunningServer) -> None:
    row = records(ROWS.head(1))[0]
    row["colour"] = row.pop("region")
    response = post_json(server, [row])
    assert response.status_code == 400
    assert response.json() == {
        "error": "row 1: missing column(s): region; unknown column(s): colour (expected: "
        "tenure_months, monthly_charges, support_calls, usage_gb, plan, region, autopay)",
        "status": 400,
    }


def test_a_wrong_type_gets_400_naming_column_and_row(server: RunningServer) -> None:
    rows = records(ROWS.head(2))
    rows[1]["support_calls"] = "many"
    response = post_json(server, rows)
    assert response.status_code == 400
    assert response.json()["error"] == "column 'support_calls' row 2: expected integer, got string 'many'"


def test_malformed_json_gets_400(server: RunningServer) -> None:
    response = post(server, '[{"tenure_months": ', "application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed JSON: Expecting value at line 1 column 20")


def test_malformed_csv_gets_400(server: RunningServer) -> None:
    response = post(server, '12,50.0,1,3.5,"basic,north,true\n', "text/csv")
    assert response.status_code == 400
    assert response.json()["error"] == "malformed CSV at line 1: unexpected end of data"


def test_an_unsupported_content_type_gets_415(server: RunningServer) -> None:
    response = post(server, "tenure_months=3", "application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["error"] == (
        "unsupported media type: Content-Type 'application/x-www-form-urlencoded'; send application/json or text/csv"
    )


def test_an_oversize_body_gets_413(server: RunningServer) -> None:
    response = post(server, "[" + " " * SERVER_BODY_LIMIT + "]", "application/json")
    assert response.status_code == 413
    assert response.json()["error"] == f"request body is larger than the {SERVER_BODY_LIMIT}-byte limit"


def test_an_oversize_chunked_body_without_length_gets_413(server: RunningServer) -> None:
    chunks = (b"x" * 4096 for _ in range(SERVER_BODY_LIMIT // 4096 + 2))
    response = post(server, chunks, "text/csv")  # type: ignore[arg-type]
    assert response.status_code == 413


# ------------------------------------------------------------------------------ the exported archive, as its container runs it


def test_exported_bento_started_by_its_entrypoint_answers_ping(
    container_like: RunningServer, built_churn: BuiltChurn
) -> None:
    response = requests.get(f"{container_like.url}/ping", timeout=10)
    assert response.status_code == 200
    assert response.json()["model"] == built_churn.record.bento_tag


def test_exported_bento_started_by_its_entrypoint_predicts_like_the_model(
    container_like: RunningServer, reference_model: Any
) -> None:
    by_json = post_json(container_like, {"instances": records(ROWS)})
    by_csv = post(container_like, ROWS.to_csv(index=False), "text/csv")
    assert by_json.status_code == by_csv.status_code == 200
    assert by_json.json() == by_csv.json() == expected_answer(reference_model, ROWS)


def test_an_exported_archive_is_a_bento(built_churn: BuiltChurn) -> None:
    with tarfile.open(built_churn.archive) as tar:
        names = set(tar.getnames())
    assert {
        "./bento.yaml",
        "./src/service.py",
        "./src/modelcd_payload.py",
        "./env/docker/entrypoint.sh",
    } <= names


# ------------------------------------------------------------------------------ the command line, image included


BASE_DIGEST = "sha256:" + "5b" * 32


def stand_in_docker(bin_dir: Path, log: Path, digest: str) -> None:
    """A `docker` CLI stand-in (no engine runs here): logs each call, answers like docker does (the
    pushed image's RepoDigests name the ECR repository; the pulled base image's, python)."""
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        'case "$1" in\n'
        '  version) echo "27.3.1";;\n'
        '  login) cat > /dev/null; echo "Login Succeeded";;\n'
        '  image) case "${@: -1}" in\n'
        f"    {IMAGE_REPOSITORY}*) echo '[\"{IMAGE_REPOSITORY}@{digest}\"]';;\n"
        f"    *) echo '[\"python@{BASE_DIGEST}\"]';;\n"
        "  esac;;\n"
        "esac\n"
    )
    (bin_dir / "docker").chmod(0o755)


def test_modelcd_build_containerize_push_records_the_image_digest(
    registered_churn: RegisteredChurn, template_repo: Any, tmp_path: Path
) -> None:
    """`modelcd build --containerize --push` as a process: Bento, record, `bentoml containerize`, ECR
    login (boto3 against a moto server on loopback), push, digest; docker is a logging stand-in."""
    from moto.server import ThreadedMotoServer

    digest = "sha256:" + "7e" * 32
    log = tmp_path / "docker.log"
    stand_in_docker(tmp_path / "bin", log, digest)
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    try:
        out = tmp_path / "artifacts"
        done = run_modelcd(
            "build",
            "--model",
            "churn",
            "--version",
            str(registered_churn.version),
            "--out",
            str(out),
            "--no-smoke-test",  # this test is about the image; the Bento's serving is tested above
            "--containerize",
            "--push",
            "--format",
            "json",
            cwd=template_repo.path,
            env={
                "MLFLOW_TRACKING_URI": registered_churn.tracking_uri,
                "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
            },
        )
    finally:
        moto.stop()
    assert done.returncode == 0, done.stderr
    record = read_record(out / f"churn-v{registered_churn.version}.build.json")
    assert json.loads(done.stdout) == json.loads(record.to_json())
    assert (out / record.bento_archive).is_file()
    assert (
        record.image_tag == f"{IMAGE_REPOSITORY}:churn-v{registered_churn.version}-{record.model_sha256[:12]}"
    )
    assert record.image_digest == f"{IMAGE_REPOSITORY}@{digest}"
    assert (template_repo.path / ".modelcd" / "bentoml" / "bentos" / "churn").is_dir()
    calls = log.read_text().splitlines()
    assert calls[0] == "version --format {{.Server.Version}}"  # modelcd's engine check, before any work
    build_call = next(c for c in calls if c.startswith("build "))
    tag = re.escape(record.image_tag)
    base = rf"python:3\.\d+-slim=docker-image://python@{BASE_DIGEST}"
    assert re.fullmatch(
        rf"build --platform linux/amd64 --build-context {base} --tag {tag} --file (\S+)/env/docker/Dockerfile \1",
        build_call,
    )  # FROM the base image by digest, through a BuildKit named context
    pulls = [
        i for i, c in enumerate(calls) if re.fullmatch(r"pull --platform linux/amd64 python:3\.\d+-slim", c)
    ]
    assert len(pulls) == 1 and pulls[0] < calls.index(build_call)  # pinned before the image is built
    assert record.base_image == f"python@{BASE_DIGEST}"
    # an image pins every package it installs: the requirements were locked, transitive ones included
    packages = [r for r in record.requirements if not r.startswith(("#", "-"))]
    assert record.locked and len(packages) > 20 and all("==" in r for r in packages), record.requirements
    assert calls[-3:] == [
        f"login --username AWS --password-stdin {IMAGE_REPOSITORY.split('/')[0]}",
        f"push {record.image_tag}",
        f"image inspect --format {{{{json .RepoDigests}}}} {record.image_tag}",
    ]


def test_a_bento_that_needs_modelcd_to_load_is_refused_at_build(tmp_path: Path) -> None:
    """The demo's old v4: its pipeline named a class of modelcd's, which the Bento does not ship. In its
    own environment (what its image runs) it cannot start; the build says so and records nothing."""
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from cd.config import load_repo
    from cd.examples import churn
    from cd.examples.modelcd_demo_fault import OnlineBatchFault  # as `cd.examples.…`: only modelcd has it
    from tests.helpers import PROJECT_ROOT

    spec = load_repo(PROJECT_ROOT).models["churn"]
    data = churn.generate(400, 1)
    x, y = data[list(churn.FEATURES)], data["churned"]
    numeric = x.select_dtypes("number")
    model = Pipeline([("online", OnlineBatchFault()), ("model", LogisticRegression(max_iter=200))])
    model.fit(numeric, y)
    registry = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with registry.fluent(), mlflow.start_run(experiment_id=registry.ensure_experiment("needs-modelcd")):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name="churn",
            input_example=numeric.head(2),
            pip_requirements=["scikit-learn", "numpy", "pandas"],
            skops_trusted_types=["numpy.dtype", "cd.examples.modelcd_demo_fault.OnlineBatchFault"],
        )
    numeric_spec = replace(spec, inputs=tuple(c for c in spec.inputs if c.name in numeric.columns))
    with pytest.raises(PackageError) as err:
        build_bento(
            tmp_path,
            numeric_spec,
            int(info.registered_model_version),
            tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
            out_dir=tmp_path / "dist",
            environ={},
        )
    assert "failed to start in its own environment" in str(err.value)
    assert "No module named 'cd" in str(err.value)
    assert not list((tmp_path / "dist").glob("*.build.json"))
