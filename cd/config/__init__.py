"""Configuration: strict YAML, JSON Schemas shipped in the package, frozen dataclasses, cross-file checks."""

from cd.config.load import build_repo_config, load_repo, load_repo_at_ref, parse_duration
from cd.config.model import (
    Analysis,
    AnalysisPolicy,
    Approvals,
    Bake,
    ChangeThreshold,
    Column,
    DatasetSpec,
    Environment,
    Gate,
    LocalTarget,
    MetricCheck,
    ModelDeployment,
    ModelSpec,
    RepoConfig,
    RolloutPolicy,
    SageMakerTarget,
    Serving,
    SetWeight,
    SliceSpec,
    Step,
    Target,
    ValueThreshold,
)

__all__ = [
    "Analysis", "AnalysisPolicy", "Approvals", "Bake", "ChangeThreshold", "Column", "DatasetSpec", "Environment",
    "Gate", "LocalTarget", "MetricCheck", "ModelDeployment", "ModelSpec", "RepoConfig", "RolloutPolicy",
    "SageMakerTarget", "Serving", "SetWeight", "SliceSpec", "Step", "Target", "ValueThreshold",
    "build_repo_config", "load_repo", "load_repo_at_ref", "parse_duration",
]
