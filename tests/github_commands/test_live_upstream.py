"""Live state first: production takes a version only once staging's endpoint serves it (moto server, real
repository, the real CLI)."""

from __future__ import annotations

from tests.github_commands.conftest import Sagemaker
from tests.helpers import GitRepo, run_modelcd
from tests.rollout.conftest import image

STAGING, PRODUCTION = "modelcd-staging-churn", "modelcd-production-churn"


def set_versions(repo: GitRepo, **versions: int) -> str:
    for env, version in versions.items():
        path = f"environments/{env}.yaml"
        lines = repo.read(path).splitlines(keepends=True)
        at = max(i for i, line in enumerate(lines) if line.startswith("    version: "))
        lines[at] = f"    version: {version}\n"
        repo.write(path, "".join(lines))
    return repo.commit(f"versions {versions}")


def deploy_production(repo: GitRepo, sagemaker: Sagemaker, version: int) -> tuple[int, str]:
    done = run_modelcd(
        "deploy", "--env", "production", "--model", "churn", "--image", image(version),
        cwd=repo.path, env=sagemaker.env(),
    )  # fmt: skip
    return done.returncode, done.stderr


def test_production_refuses_the_version_staging_rolled_back(
    template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    set_versions(template_repo, staging=4, production=4)  # git still says v4 in staging
    sagemaker.serve(STAGING, {2: 1.0})  # staging rolled v4 back: v2 serves
    sagemaker.serve(PRODUCTION, {1: 1.0})
    code, err = deploy_production(template_repo, sagemaker, 4)
    assert code == 1
    assert (
        f"production wants churn v4, but staging ({STAGING}) serves v2: v4 must be live in staging first; "
        "nothing was changed"
    ) in err
    variants = sagemaker.client.describe_endpoint(EndpointName=PRODUCTION)["ProductionVariants"]
    assert [v["VariantName"] for v in variants] == ["v1"]


def test_production_takes_the_version_staging_serves(template_repo: GitRepo, sagemaker: Sagemaker) -> None:
    set_versions(template_repo, staging=2, production=2)
    sagemaker.serve(STAGING, {2: 1.0})
    code, err = deploy_production(template_repo, sagemaker, 2)
    assert "must be live in staging" not in err, err
    assert code == 0, err


def test_a_production_rollback_to_an_older_version_needs_nothing_from_staging(
    template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    set_versions(template_repo, staging=3, production=1)
    sagemaker.serve(STAGING, {3: 1.0})
    sagemaker.serve(PRODUCTION, {2: 1.0})
    _, err = deploy_production(template_repo, sagemaker, 1)
    assert "must be live in staging" not in err, err
    arn = sagemaker.client.describe_endpoint(EndpointName=PRODUCTION)["EndpointArn"]
    tags = {t["Key"]: t["Value"] for t in sagemaker.client.list_tags(ResourceArn=arn)["Tags"]}
    assert tags["modelcd:version"] == "1"  # past the check: the rollout of v1 started


def test_plan_live_flags_a_promotion_of_what_staging_does_not_serve(
    template_repo: GitRepo, sagemaker: Sagemaker
) -> None:
    base = set_versions(template_repo, staging=4)
    set_versions(template_repo, production=4)
    sagemaker.serve(STAGING, {2: 1.0})
    git_only = run_modelcd("plan", "--base", base, cwd=template_repo.path, env=sagemaker.env())
    assert git_only.returncode == 0, git_only.stderr  # git alone cannot see the rollback
    live = run_modelcd("plan", "--base", base, "--live", cwd=template_repo.path, env=sagemaker.env())
    assert live.returncode == 1
    assert "environments/production.yaml:" in live.stderr
    assert f"production wants churn v4, but staging ({STAGING}) serves v2" in live.stderr


def _observer(served: dict[str, dict[int, float]]):  # type: ignore[no-untyped-def]
    """(environment, model) -> an endpoint serving `served[env]` (version -> weight)."""
    from cd.rollout.target import ObservedEndpoint, ObservedVariant

    def observe(env, model):  # type: ignore[no-untyped-def]
        variants = tuple(
            ObservedVariant(f"v{v}", v, image(v), w, w, "ml.m5.large", 1) for v, w in served[env.name].items()
        )
        return ObservedEndpoint(env.endpoint_name(model), "InService", "cfg", variants, {})

    return observe


def test_a_production_challenger_may_be_live_in_stagings_own_experiment(template_repo: GitRepo) -> None:
    from cd.config import load_repo
    from cd.live import upstream_refusal

    config = load_repo(template_repo.path)
    production = config.environments["production"]
    observe = _observer({"staging": {1: 40.0, 2: 30.0, 3: 30.0}, "production": {1: 100.0}})
    assert upstream_refusal(config, production, "churn", 3, observe, challenger=True) is None
    # the environment's own version still needs staging to serve it alone
    assert upstream_refusal(config, production, "churn", 3, observe) == (
        f"production wants churn v3, but staging ({STAGING}) serves no version alone (InService): "
        "v3 must be live in staging first"
    )


def test_a_production_challenger_that_staging_does_not_serve_is_refused(template_repo: GitRepo) -> None:
    from cd.config import load_repo
    from cd.live import upstream_refusal

    config = load_repo(template_repo.path)
    observe = _observer({"staging": {2: 100.0}, "production": {1: 100.0}})
    assert upstream_refusal(
        config, config.environments["production"], "churn", 3, observe, challenger=True
    ) == (
        f"production wants churn v3, but staging ({STAGING}) serves v2: v3 must be live in staging "
        "(alone, or in its experiment) first"
    )
