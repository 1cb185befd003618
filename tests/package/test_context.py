"""What goes into a Bento's build context (cd/package/context.py): pure decisions, one writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cd.config.model import Column
from cd.errors import PackageError
from cd.package import context
from cd.package.context import BentoNames
from tests.package.churn_model import churn_spec

SHA = "f506258d8d39165edf2990477aabaf472e2ecdb61cb62ce589a9d121b081ff6a"
NAMES = BentoNames("churn", 3, SHA)


def test_names_of_a_build_pin_the_model_version_and_content() -> None:
    assert NAMES.tag == "churn:v3-f506258d8d39"
    assert NAMES.archive_name == "churn-v3.bento"
    assert NAMES.record_name == "churn-v3.build.json"
    assert NAMES.image_tag("123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd") == (
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelcd:churn-v3-f506258d8d39"
    )


def test_bento_names_are_lower_case_tag_names() -> None:
    assert context.bento_name("Churn Model_v2") == "churn-model_v2"


def test_a_model_name_without_letters_or_digits_is_refused() -> None:
    with pytest.raises(PackageError, match="model name '__' gives no usable Bento name"):
        context.bento_name("__")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"GITHUB_ACTIONS": "true"}, True),
        ({"CI": "true"}, True),
        ({"GITHUB_ACTIONS": "true", "MODELCD_LOCK_PACKAGES": "0"}, False),
        ({"MODELCD_LOCK_PACKAGES": "yes"}, True),
        ({"MODELCD_LOCK_PACKAGES": "False"}, False),
    ],
)
def test_packages_are_locked_in_ci_or_when_asked(env: dict[str, str], expected: bool) -> None:
    assert context.lock_packages_default(env) is expected


def test_an_unreadable_lock_setting_is_refused() -> None:
    with pytest.raises(PackageError, match="MODELCD_LOCK_PACKAGES='sometimes': expected true or false"):
        context.lock_packages_default({"MODELCD_LOCK_PACKAGES": "sometimes"})


def test_bare_requirements_are_pinned_to_installed_versions() -> None:
    lines = ["# comment", "mlflow==3.17.2", "scikit-learn", "", "Pandas", "numpy<3", "cloudpickle  # why"]
    installed = {"scikit-learn": "1.9.1", "pandas": "3.1.1", "numpy": "2.4.6", "cloudpickle": "3.1.1"}
    assert context.pin_requirements(lines, installed) == (
        "mlflow==3.17.2",
        "scikit-learn==1.9.1",
        "Pandas==3.1.1",
        "numpy<3",
        "cloudpickle==3.1.1",
    )


def test_bentoml_is_left_to_bentoml_and_mlflow_is_added_when_missing() -> None:
    assert context.pin_requirements(["bentoml==1.0", "scikit-learn==1.9.1"], {"mlflow": "3.17.2"}) == (
        "scikit-learn==1.9.1",
        "mlflow==3.17.2",
    )


def test_the_full_mlflow_is_pinned_where_only_its_client_is_installed() -> None:
    assert context.pin_requirements(["scikit-learn==1.9.1"], {"mlflow-skinny": "3.17.2"}) == (
        "scikit-learn==1.9.1",
        "mlflow==3.17.2",
    )


def test_pip_options_and_urls_are_kept_as_written() -> None:
    lines = ["--extra-index-url https://example.invalid/simple", "pkg @ https://example.invalid/pkg.whl"]
    assert context.pin_requirements(lines, {"pkg": "1.0"}) == tuple(lines)


def test_signature_columns_map_to_model_yaml_types() -> None:
    inputs = [
        {"name": "a", "type": "long"},
        {"name": "b", "type": "double"},
        {"name": "c", "type": "string"},
        {"name": "d", "type": "boolean"},
        {"name": "e", "type": "float"},
        {"name": "f", "type": "integer"},
    ]
    assert context.columns_from_signature(inputs, "model 'x' version 1") == (
        Column("a", "integer"),
        Column("b", "number"),
        Column("c", "string"),
        Column("d", "boolean"),
        Column("e", "number"),
        Column("f", "integer"),
    )


def test_a_signature_column_without_a_servable_type_is_refused() -> None:
    with pytest.raises(
        PackageError, match=r"model 'x' version 1: signature input \{'name': 'img', 'type': 'binary'\}"
    ):
        context.columns_from_signature([{"name": "img", "type": "binary"}], "model 'x' version 1")


def test_service_config_carries_tag_schema_task_and_limit() -> None:
    spec = churn_spec()
    config = context.service_config(spec, NAMES, spec.inputs[:2], 1024)
    assert config == {
        "service_name": "churn",
        "model": "churn",
        "registered_model": "churn",
        "version": 3,
        "bento_model_tag": "churn:v3-f506258d8d39",
        "model_sha256": SHA,
        "task": "binary_classification",
        "inputs": [
            {"name": "tenure_months", "type": "integer"},
            {"name": "monthly_charges", "type": "number"},
        ],
        "max_body_bytes": 1024,
    }


def test_a_model_without_any_input_schema_is_refused() -> None:
    with pytest.raises(PackageError, match=r"models/churn/model.yaml: no input schema; list `inputs:`"):
        context.service_config(churn_spec(inputs=()), NAMES, (), 1024)


@pytest.mark.parametrize("lock", [True, False])
def test_bentofile_sets_package_locking_explicitly(lock: bool) -> None:
    build_file = context.bentofile(churn_spec(), NAMES, "3.11", lock, {"modelcd-model": "churn"})
    assert build_file["python"] == {"requirements_txt": "requirements.txt", "lock_packages": lock}
    assert build_file["service"] == "service:SageMakerService"
    assert build_file["docker"] == {"python_version": "3.11"}
    assert build_file["include"] == ["service.py", "modelcd_payload.py", "modelcd_service.json"]


def test_write_context_lays_out_every_file_the_service_needs(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "stale.txt").write_text("from an earlier build")
    spec = churn_spec()
    ctx = context.write_context(
        tmp_path / "ctx",
        context.service_config(spec, NAMES, spec.inputs, 1024),
        ("scikit-learn==1.9.1",),
        context.bentofile(spec, NAMES, "3.11", False, {}),
    )
    assert sorted(p.name for p in ctx.iterdir()) == [
        "bentofile.yaml",
        "modelcd_payload.py",
        "modelcd_service.json",
        "requirements.txt",
        "service.py",
    ]
    assert (ctx / "requirements.txt").read_text() == "scikit-learn==1.9.1\n"
    assert json.loads((ctx / "modelcd_service.json").read_text())["bento_model_tag"] == NAMES.tag
    assert yaml.safe_load((ctx / "bentofile.yaml").read_text())["python"]["lock_packages"] is False
    payload_source = Path(context.__file__).with_name("payload.py").read_text()
    assert (ctx / "modelcd_payload.py").read_text() == payload_source
    assert "from cd" not in payload_source and "import cd" not in payload_source
