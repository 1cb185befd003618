"""Proposals as pull requests: the promotion PR (`modelcd promote`) and the rollback PR that sets git
back to what is live (`modelcd rollback`, also called by deploy after an automatic rollback).

The edit is the round-trip version edit of `cd.promote`; the commit is made on a new branch with git
plumbing (the working tree is not touched). Then, in order of preference:
- GitHub settings and a git remote `origin`: `git push origin BRANCH`, then open the PR via the API;
- GitHub settings, no remote: create the branch and commit the file through the API, then open the PR;
- no GitHub settings: the local branch only, and the result says so (the demo uses this).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cd.config.model import Environment
from cd.github.api import DeploymentInfo, GitHubClient, PullInfo, ReleaseInfo
from cd.gitwrite import commit_file_on_new_branch, push_branch, read_text_at_ref, remote_url
from cd.promote import Promotion, Rollback, plan_promotion, plan_rollback, set_model_version

if TYPE_CHECKING:
    from cd.workspace import Workspace


@dataclass(frozen=True)
class Proposal:
    branch: str
    commit: str
    how: str  # "local branch only" | "pushed to origin" | "committed through the GitHub API"
    pull: PullInfo | None = None

    def describe(self) -> str:
        text = f"branch {self.branch} ({self.how}) at {self.commit[:7]}"
        if self.pull is not None:
            text += f"; pull request #{self.pull.number}: {self.pull.html_url}"
        return text


@dataclass(frozen=True)
class Evidence:
    """What the source environment proves about the version being promoted."""

    release: ReleaseInfo | None = None
    deployments: tuple[DeploymentInfo, ...] = ()
    rollout_record: Mapping[str, str] | None = None


def render_promotion_body(promotion: Promotion, evidence: Evidence) -> str:
    lines = [
        f"Promotes **{promotion.model} v{promotion.version}** from `{promotion.from_env}` to `{promotion.to_env}`"
        + (
            f" (replacing v{promotion.previous_version})."
            if promotion.previous_version is not None
            else " (first deploy)."
        ),
        "",
        f"v{promotion.version} is live in `{promotion.from_env}` (checked on the endpoint before opening this PR).",
        "",
        f"### Evidence from {promotion.from_env}",
        "",
    ]
    if evidence.release is not None:
        lines.append(
            f"- Release: [{evidence.release.tag}]({evidence.release.html_url}) (gate verdict, model card, checksums)"
        )
    else:
        lines.append(f"- Release: none found for `{promotion.model}-v{promotion.version}`")
    for deployment in evidence.deployments:
        lines.append(
            f"- Deployment {deployment.id} to `{deployment.environment}` at `{deployment.sha[:7]}`: {deployment.description or ''}"
        )
    if evidence.rollout_record:
        lines += ["", "<details><summary>Rollout record</summary>", "", "| key | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in sorted(evidence.rollout_record.items())]
        lines += ["", "</details>"]
    if evidence.release is not None and evidence.release.body:
        lines += [
            "",
            "<details><summary>Release notes (gate verdict)</summary>",
            "",
            evidence.release.body.strip(),
            "",
            "</details>",
        ]
    lines += [
        "",
        "_Opened by `modelcd promote`. The diff is the version line (and the `challengers` of an experiment, which a new version ends)._",
    ]
    return "\n".join(lines) + "\n"


def render_rollback_body(rollback: Rollback, reason: str) -> str:
    return (
        f"Sets `{rollback.model}` in `{rollback.env}` back to **v{rollback.version}**, which is what the endpoint "
        f"serves, from v{rollback.previous_version} in git.\n\n{reason}\n\n"
        "Merging makes git and reality agree again; the next deploy is then a no-op for this model.\n\n"
        "_Opened by `modelcd rollback`. The diff is the version line (and the `challengers` of an experiment, which a new version ends)._\n"
    )


def gather_evidence(
    client: GitHubClient | None, promotion: Promotion, rollout_record: Mapping[str, str] | None
) -> Evidence:
    if client is None:
        return Evidence(rollout_record=rollout_record)
    tag = f"{promotion.model}-v{promotion.version}"
    release = next((r for r in client.releases() if r.tag == tag and not r.draft), None)
    wanted = f"{promotion.model} v{promotion.version}"
    deployments = tuple(
        d
        for d in client.deployments(environment=promotion.from_env)
        if (d.description or "").startswith(wanted)
    )[:5]
    return Evidence(release=release, deployments=deployments, rollout_record=rollout_record)


def propose_version(
    repo: Path,
    env: Environment,
    *,
    model: str,
    version: int,
    branch: str,
    title: str,
    body: str,
    base: str,
    client: GitHubClient | None,
) -> Proposal:
    """Commit the version edit of `env`'s file on `branch` (from `base`) and open the PR when possible."""
    path = env.path or f"environments/{env.name}.yaml"
    if client is not None:
        existing = client.find_open_pull(branch, base)
        if existing is not None:
            return Proposal(branch, existing.head_sha, "already proposed", existing)
    before = read_text_at_ref(repo, base, path)
    after = set_model_version(before, model, version, path)
    commit = commit_file_on_new_branch(
        repo, base=base, branch=branch, path=path, content=after, message=title
    )
    if client is None:
        return Proposal(branch, commit, "local branch only")
    if remote_url(repo) is not None:
        push_branch(repo, branch, token=client.settings.token)
        how = "pushed to origin"
    else:
        commit = _commit_through_api(client, path, model, version, branch=branch, base=base, title=title)
        how = "committed through the GitHub API"
    return Proposal(branch, commit, how, client.create_pull(title, branch, base, body))


def _commit_through_api(
    client: GitHubClient, path: str, model: str, version: int, *, branch: str, base: str, title: str
) -> str:
    """The version edit made on GitHub's copy of the file: the branch is new, made from the remote
    `base`, and the edit applies to the file as it is there (a teammate's later edit on `base` is kept,
    never reverted by a file computed from a local checkout that is behind)."""
    from cd.errors import GitHubError

    if client.file(path, branch) is not None:
        raise GitHubError(
            f"branch {branch} already exists on GitHub: it may hold someone's edits, so it is not "
            "overwritten; merge or delete it, then run again"
        )
    client.create_branch(branch, client.branch_sha(base))
    remote = client.file(path, branch)
    if remote is None:
        raise GitHubError(f"{path} does not exist on {base} on GitHub")
    after = set_model_version(remote.content.decode("utf-8"), model, version, path)
    return client.put_file(path, after.encode(), title, branch, remote.sha)


def propose_promotion(
    repo: Path,
    target_env: Environment,
    promotion: Promotion,
    *,
    base: str,
    client: GitHubClient | None,
    rollout_record: Mapping[str, str] | None = None,
) -> Proposal:
    body = render_promotion_body(promotion, gather_evidence(client, promotion, rollout_record))
    return propose_version(
        repo,
        target_env,
        model=promotion.model,
        version=promotion.version,
        branch=promotion.branch,
        title=promotion.title,
        body=body,
        base=base,
        client=client,
    )


def propose_rollback(
    repo: Path,
    env: Environment,
    rollback: Rollback,
    *,
    base: str,
    client: GitHubClient | None,
    reason: str = "The rollout was rolled back automatically.",
) -> Proposal:
    """The library entry point deploy calls after an automatic rollback."""
    return propose_version(
        repo,
        env,
        model=rollback.model,
        version=rollback.version,
        branch=rollback.branch,
        title=rollback.title,
        body=render_rollback_body(rollback, reason),
        base=base,
        client=client,
    )


# ---------------------------------------------------------------- `modelcd promote` and `rollback`


def _live(ws: Workspace, env: Environment, model: str) -> tuple[int | None, dict[str, str]]:
    """The version `model`'s endpoint in `env` serves alone, and its rollout record."""
    from cd.drift import live_version

    observed = ws.target(env).observe(env.endpoint_name(model))
    return live_version(observed), dict(observed.record) if observed is not None else {}


def promote(ws: Workspace, model: str, from_env: str, to_env: str, base: str | None) -> Proposal:
    """Propose promoting the version of `model` that is desired and live in `from_env` to `to_env`."""
    base = base or ws.current_branch()
    config = ws.config_at(base)
    source, target = ws.environment(from_env, config), ws.environment(to_env, config)
    live, record = _live(ws, source, model)
    promotion = plan_promotion(source, target, model, live)
    return propose_promotion(
        ws.root, target, promotion, base=base, client=ws.proposal_github(), rollout_record=record
    )


def rollback(ws: Workspace, env_name: str, model: str, to_version: int | None, base: str | None) -> Proposal:
    """Propose setting git back to what `model`'s endpoint serves (or to `to_version`)."""
    base = base or ws.current_branch()
    env = ws.environment(env_name, ws.config_at(base))
    live = _live(ws, env, model)[0] if to_version is None else None
    plan = plan_rollback(env, model, live, to_version)
    reason = (
        "Requested with `modelcd rollback`."
        if to_version is not None
        else "The endpoint serves this version."
    )
    return propose_rollback(ws.root, env, plan, base=base, client=ws.proposal_github(), reason=reason)
