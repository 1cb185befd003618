"""`modelcd validate`: exit codes, formats, and a light start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.config.conftest import TemplateTree
from tests.helpers import PROJECT_ROOT, run_modelcd

HEAVY_MODULES = ("mlflow", "bentoml", "sklearn", "boto3", "botocore", "pandas", "github3")


def test_clean_tree_exits_0(tree: TemplateTree) -> None:
    done = run_modelcd("validate", "--repo", str(tree.root), cwd=tree.root)
    assert (done.returncode, done.stdout.strip()) == (0, "ok: 2 environments, 1 model, 1 gate")


def test_problems_exit_1_and_are_all_listed(tree: TemplateTree) -> None:
    tree.replace("environments/staging.yaml", "    version: 1", "    version: 0")
    tree.replace("gates/churn.yaml", "confidence: 0.95", "confidence: 2")
    done = run_modelcd("validate", "--repo", str(tree.root), cwd=tree.root)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "environments/staging.yaml:35: models.churn.version: 0 is less than the minimum of 1",
        "gates/churn.yaml:29: confidence: 2 is greater than or equal to the maximum of 1",
    ]
    assert done.stderr.strip() == "2 problems in 2 files"


def test_github_format_prints_error_annotations(tree: TemplateTree) -> None:
    tree.replace("environments/staging.yaml", "region: eu-west-1", "region: no")
    done = run_modelcd("validate", "--repo", str(tree.root), "--format", "github", cwd=tree.root)
    assert done.stdout.splitlines() == [
        "::error file=environments/staging.yaml,line=5,title=modelcd validate::target.region: ambiguous value "
        "'no': YAML 1.1 reads it as a boolean; write true/false, or quote it"
    ]


def test_github_format_is_the_default_inside_actions(tree: TemplateTree) -> None:
    tree.replace("environments/staging.yaml", "region: eu-west-1", "region: no")
    done = run_modelcd("validate", "--repo", str(tree.root), cwd=tree.root, env={"GITHUB_ACTIONS": "true"})
    assert done.stdout.startswith("::error file=environments/staging.yaml,line=5,")


def test_json_format_lists_problems(tree: TemplateTree) -> None:
    tree.replace("environments/staging.yaml", "    version: 1", "    version: 0")
    done = run_modelcd("validate", "--repo", str(tree.root), "--format", "json", cwd=tree.root)
    assert json.loads(done.stdout) == {
        "ok": False,
        "problems": [
            {
                "file": "environments/staging.yaml",
                "line": 35,
                "key": "models.churn.version",
                "message": "0 is less than the minimum of 1",
            }
        ],
    }


def test_unknown_option_is_a_usage_error(tree: TemplateTree) -> None:
    assert run_modelcd("validate", "--bogus", cwd=tree.root).returncode == 2


def test_validate_imports_no_heavy_library(tree: TemplateTree) -> None:
    code = (
        "import sys\nfrom cd.cli import main\n"
        "try:\n    main(['validate', '--repo', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tree.root)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines()[-1] == "HEAVY="


def test_validate_defaults_to_the_git_top_level(tmp_path: Path) -> None:
    from tests.helpers import make_template_repo

    repo = make_template_repo(tmp_path / "r")
    (repo.path / "models" / "churn").mkdir(exist_ok=True)
    done = run_modelcd("validate", cwd=repo.path / "models" / "churn")
    assert done.returncode == 0, done.stdout + done.stderr
