"""The promotion plan: what changes between two git refs, per environment and model.

`compute_plan` is a pure function of two parsed trees; `plan_between_refs` reads them from git.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cd.config.model import Environment, ModelDeployment, RepoConfig
from cd.errors import ConfigError, Problem

if TYPE_CHECKING:
    from cd.workspace import Workspace

# "challenger": a version that joins an experiment beside the environment's version (`challengers:`)
ChangeKind = Literal["added", "removed", "promoted", "reconfigured", "challenger"]
DEPLOYABLE: frozenset[str] = frozenset({"added", "promoted", "reconfigured", "challenger"})
# A version new to an environment: its gate judges it (against the base's version) before it serves.
GATED_KINDS: tuple[str, ...] = ("added", "promoted", "challenger")
CONFIG_PREFIXES = ("environments/", "gates/", "models/")


@dataclass(frozen=True)
class Change:
    env: str
    model: str
    kind: ChangeKind
    from_version: int | None
    to_version: int | None
    details: tuple[str, ...] = ()  # e.g. "serving.instance_count: 1 -> 2"
    challengers: tuple[int, ...] = ()  # the environment's challengers beside `to_version` (an experiment)

    def describe(self) -> str:
        if self.kind == "added":
            return f"{self.model} v{self.to_version} (added)"
        if self.kind == "removed":
            return f"{self.model} v{self.from_version} (removed)"
        if self.kind == "promoted":
            return f"{self.model} v{self.from_version} -> v{self.to_version}"
        if self.kind == "challenger":
            return f"{self.model} v{self.to_version} (challenger)"
        return f"{self.model} v{self.to_version} (reconfigured)"


@dataclass(frozen=True)
class Plan:
    base: str
    head: str
    changes: tuple[Change, ...]
    changed_files: tuple[str, ...]  # config files (environments/, gates/, models/) that differ
    environment_changes: tuple[str, ...]  # environment-level settings that differ, e.g. "production: rollout"
    problems: tuple[Problem, ...]  # promotion-order violations (promote_from)

    @property
    def is_empty(self) -> bool:
        return not self.changes and not self.changed_files

    def deployable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind in DEPLOYABLE)

    def matrix(self) -> dict[str, list[dict[str, Any]]]:
        """A GitHub Actions `strategy.matrix` with one entry per deployable change."""
        return {
            "include": [
                {"env": c.env, "model": c.model, "from": c.from_version, "to": c.to_version, "change": c.kind}
                for c in self.deployable()
            ]
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "empty": self.is_empty,
            "changes": [asdict(c) for c in self.changes],
            "changed_files": list(self.changed_files),
            "environment_changes": list(self.environment_changes),
            "problems": [asdict(p) for p in self.problems],
        }


def compute_plan(
    base: RepoConfig,
    head: RepoConfig,
    *,
    base_ref: str = "",
    head_ref: str = "",
    changed_files: tuple[str, ...] = (),
) -> Plan:
    changes: list[Change] = []
    env_changes: list[str] = []
    for env_name in sorted(set(base.environments) | set(head.environments)):
        before, after = base.environments.get(env_name), head.environments.get(env_name)
        changes += _model_changes(env_name, before.models if before else {}, after.models if after else {})
        env_changes += _environment_setting_changes(env_name, before, after)
    return Plan(
        base=base_ref,
        head=head_ref,
        changes=tuple(changes),
        changed_files=tuple(f for f in changed_files if f.startswith(CONFIG_PREFIXES)),
        environment_changes=tuple(env_changes),
        problems=tuple(_promotion_order_problems(changes, base, head)),
    )


def _model_changes(
    env: str, before: Mapping[str, ModelDeployment], after: Mapping[str, ModelDeployment]
) -> list[Change]:
    out: list[Change] = []
    for model in sorted(set(before) | set(after)):
        old, new = before.get(model), after.get(model)
        if old is None:
            assert new is not None
            out.append(Change(env, model, "added", None, new.version, challengers=new.challengers))
        elif new is None:
            out.append(Change(env, model, "removed", old.version, None))
        else:
            details = _serving_diff(old, new) + _challengers_diff(old, new)
            if old.version != new.version:
                note = ("downgrade",) if new.version < old.version else ()
                out.append(
                    Change(env, model, "promoted", old.version, new.version, note + details, new.challengers)
                )
            elif details:
                out.append(
                    Change(env, model, "reconfigured", old.version, new.version, details, new.challengers)
                )
        if new is not None:
            served = old.versions if old is not None else ()
            incumbent = old.version if old is not None else None
            out += [
                Change(env, model, "challenger", incumbent, c, (f"beside v{new.version}",))
                for c in new.challengers
                if c not in served
            ]
    return out


def _challengers_diff(old: ModelDeployment, new: ModelDeployment) -> tuple[str, ...]:
    if old.challengers == new.challengers:
        return ()
    return (f"challengers: {list(old.challengers)} -> {list(new.challengers)}",)


def _serving_diff(old: ModelDeployment, new: ModelDeployment) -> tuple[str, ...]:
    return tuple(
        f"serving.{f.name}: {getattr(old.serving, f.name)} -> {getattr(new.serving, f.name)}"
        for f in fields(old.serving)
        if getattr(old.serving, f.name) != getattr(new.serving, f.name)
    )


def _environment_setting_changes(
    name: str, before: Environment | None, after: Environment | None
) -> list[str]:
    if before is None or after is None:
        return [f"{name}: environment {'added' if before is None else 'removed'}"]
    settings = ("target", "rollout", "approvals", "promote_from")
    return [f"{name}: {s}" for s in settings if getattr(before, s) != getattr(after, s)]


def _promotion_order_problems(changes: list[Change], base: RepoConfig, head: RepoConfig) -> list[Problem]:
    problems = []
    for change in changes:
        if change.kind not in GATED_KINDS:
            continue
        env = head.environments[change.env]
        upstream_name = env.promote_from
        if upstream_name is None:
            continue
        upstream = base.environments.get(upstream_name)
        live = upstream.models.get(change.model) if upstream else None
        # a challenger may come from the upstream's own experiment (one of its versions there)
        there = () if live is None else live.versions if change.kind == "challenger" else (live.version,)
        if change.to_version not in there:
            where = f"runs {' and '.join(f'v{v}' for v in there)}" if live else f"does not run {change.model}"
            problems.append(
                Problem(
                    env.path,
                    env.models[change.model].line_of(change.to_version or 0),
                    env.models[change.model].key_of(change.to_version or 0),
                    f"v{change.to_version} is not live in {upstream_name!r} ({upstream_name} {where} at the base ref); "
                    f"promote it through {upstream_name} first",
                )
            )
    return problems


def plan_between_refs(repo: Path, base: str, head: str = "HEAD") -> Plan:
    """Read both trees from git (no checkout) and compute the plan."""
    from cd.config.load import CONFIG_DIRS, build_repo_config
    from cd.gitrepo import changed_files, read_tree, rev_parse

    base_sha, head_sha = rev_parse(repo, base), rev_parse(repo, head)
    configs = []
    for ref, sha in ((base, base_sha), (head, head_sha)):
        tree = read_tree(repo, sha, CONFIG_DIRS)
        try:
            configs.append(build_repo_config(tree))
        except ConfigError as exc:
            raise ConfigError(
                [Problem(f"{p.file} (at {ref})", p.line, p.key, p.message) for p in exc.problems]
            ) from exc
    return compute_plan(
        configs[0],
        configs[1],
        base_ref=base_sha,
        head_ref=head_sha,
        changed_files=tuple(changed_files(repo, base_sha, head_sha)),
    )


def plan_workspace(ws: Workspace, base: str, head: str = "HEAD", *, live: bool = False) -> Plan:
    """`modelcd plan`: the plan between two commits. When `head` is HEAD, uncommitted edits to the
    configuration are not part of it, and the workspace is told so (plan and gate read commits).
    `live`: also check each promotion against what its upstream endpoint serves now (`cd.live`)."""
    if head == "HEAD":
        note_uncommitted(ws)
    plan = plan_between_refs(ws.root, base, head)
    if not live:
        return plan
    from dataclasses import replace

    from cd.live import live_plan_problems, observer_for

    problems = live_plan_problems(plan, ws.config_at(head), observer_for(ws))
    return replace(plan, problems=plan.problems + tuple(problems))


def note_uncommitted(ws: Workspace) -> None:
    """Say which configuration files have uncommitted changes that a command reading HEAD ignores."""
    from cd.config.load import CONFIG_DIRS
    from cd.gitrepo import uncommitted

    dirty = [f for f in uncommitted(ws.root, CONFIG_DIRS) if f.endswith((".yaml", ".yml"))]
    if dirty:
        ws.say(
            f"uncommitted changes to {', '.join(dirty)} are not included: plan and gate read commits "
            "(commit them first)"
        )
