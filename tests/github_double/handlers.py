"""Operation handlers of the GitHub API double, one per OpenAPI operationId."""

from __future__ import annotations

import base64
from typing import Any

from tests.github_double.double import ApiError, Ctx, GitHubDouble, Response, handles, ok
from tests.github_double.state import (
    Asset,
    CheckRun,
    Comment,
    Deployment,
    DeploymentStatus,
    Issue,
    Pull,
    Release,
    Repo,
    Status,
    blob_sha,
    fake_sha,
    now_iso,
)


def _validation_failed(resource: str, field: str, code: str, message: str = "Validation Failed") -> ApiError:
    return ApiError(422, message, [{"resource": resource, "field": field, "code": code}])


def _body(ctx: Ctx) -> dict[str, Any]:
    return dict(ctx.body) if isinstance(ctx.body, dict) else {}


# Repository, user ---------------------------------------------------------------------------------
@handles("repos/get")
def get_repo(d: GitHubDouble, ctx: Ctx) -> Response:
    return ok(d.repo_json(d._repo(ctx)))


@handles("users/get-authenticated")
def get_user(d: GitHubDouble, ctx: Ctx) -> Response:
    user = d.users[ctx.login]
    if user.type == "Bot":  # GITHUB_TOKEN and GitHub App installation tokens cannot read /user
        raise ApiError(403, "Resource not accessible by integration")
    return ok(
        d.user_json(ctx.login)
        | {"name": None, "created_at": now_iso(), "updated_at": now_iso()}
        | ({"type": user.type})
    )


@handles("repos/get-collaborator-permission-level")
def collaborator_permission(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    login = ctx.params["username"]
    if login not in d.users:
        raise ApiError(404, "Not Found")
    permission = repo.collaborators.get(login, "none")
    legacy = {"maintain": "write", "triage": "read"}.get(permission, permission)
    flags = {
        "pull": permission != "none",
        "triage": permission in ("triage", "write", "maintain", "admin"),
        "push": permission in ("write", "maintain", "admin"),
        "maintain": permission in ("maintain", "admin"),
        "admin": permission == "admin",
    }
    user = d.user_json(login) | {"permissions": flags, "role_name": permission}
    return ok({"permission": legacy, "role_name": permission, "user": user})


@handles("teams/get-membership-for-user-in-org")
def team_membership(d: GitHubDouble, ctx: Ctx) -> Response:
    org, slug, login = ctx.params["org"], ctx.params["team_slug"], ctx.params["username"]
    role = d.teams.get((org, slug), {}).get(login)
    if role is None:
        raise ApiError(404, "Not Found")
    url = f"{d.url}/organizations/1/team/{slug}/memberships/{login}"
    return ok({"url": url, "role": role, "state": "active"})


@handles("teams/add-or-update-membership-for-user-in-org")
def add_team_membership(d: GitHubDouble, ctx: Ctx) -> Response:
    role = _body(ctx).get("role", "member")
    d.add_team_member(ctx.params["org"], ctx.params["team_slug"], ctx.params["username"], role)
    return team_membership(d, ctx)


@handles("teams/remove-membership-for-user-in-org")
def remove_team_membership(d: GitHubDouble, ctx: Ctx) -> Response:
    d.teams.get((ctx.params["org"], ctx.params["team_slug"]), {}).pop(ctx.params["username"], None)
    return ok(None, 204)


# Git refs, branches, commits, contents ----------------------------------------------------------
def _known_commit(repo: Repo, ref: str) -> str:
    sha = repo.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    return sha


@handles("git/create-ref")
def create_ref(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    body = _body(ctx)
    ref = str(body["ref"])
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    short = ref.removeprefix("refs/")
    if short in repo.refs:
        raise ApiError(422, "Reference already exists")
    sha = _known_commit(repo, str(body["sha"]))
    repo.refs[short] = sha
    if short.startswith("heads/"):
        source = next(
            (b for b, s in repo.refs.items() if s == sha and b != short), f"heads/{repo.default_branch}"
        )
        repo.files[short.removeprefix("heads/")] = dict(repo.files.get(source.removeprefix("heads/"), {}))
    return ok(d.ref_json(repo, short), 201)


@handles("git/get-ref")
def get_ref(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    ref = ctx.params["ref"]
    if ref not in repo.refs:
        raise ApiError(404, "Not Found")
    return ok(d.ref_json(repo, ref))


@handles("git/update-ref")
def update_ref(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    ref = ctx.params["ref"]
    if ref not in repo.refs:
        raise ApiError(422, "Reference does not exist")
    repo.refs[ref] = _known_commit(repo, str(_body(ctx)["sha"]))
    return ok(d.ref_json(repo, ref))


@handles("git/delete-ref")
def delete_ref(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    if repo.refs.pop(ctx.params["ref"], None) is None:
        raise ApiError(422, "Reference does not exist")
    return ok(None, 204)


@handles("repos/get-branch")
def get_branch(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    name = ctx.params["branch"]
    sha = repo.refs.get(f"heads/{name}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    url = f"{d.repo_url(repo)}/branches/{name}"
    return ok(
        {
            "name": name,
            "commit": d.commit_json(repo, sha),
            "_links": {"html": f"{d.url}/html/{repo.full_name}/tree/{name}", "self": url},
            "protected": name == repo.default_branch,
            "protection_url": f"{url}/protection",
            "protection": {},
        }
    )


@handles("repos/get-commit")
def get_commit(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    sha = repo.resolve(ctx.params["ref"])
    if sha is None:
        raise ApiError(404, f"No commit found for SHA: {ctx.params['ref']}")
    return ok(d.commit_json(repo, sha))


def _branch_of(repo: Repo, ref: str | None) -> str:
    branch = ref or repo.default_branch
    branch = branch.removeprefix("refs/").removeprefix("heads/")
    if f"heads/{branch}" not in repo.refs:
        raise ApiError(404, f"No commit found for the ref {branch}")
    return branch


@handles("repos/get-content")
def get_content(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    branch = _branch_of(repo, ctx.query.get("ref"))
    path = ctx.params["path"]
    data = repo.files.get(branch, {}).get(path)
    if data is None:
        raise ApiError(404, "Not Found")
    return ok(d.content_json(repo, path, data, branch))


@handles("repos/create-or-update-file-contents")
def put_content(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    body = _body(ctx)
    branch = _branch_of(repo, body.get("branch"))
    path = ctx.params["path"]
    files = repo.files.setdefault(branch, {})
    existing = files.get(path)
    if existing is not None:
        if "sha" not in body:
            raise _validation_failed("Contents", "sha", "missing_field", '"sha" wasn\'t supplied.')
        if body["sha"] != blob_sha(existing):
            raise ApiError(409, f"{path} does not match {body['sha']}")
    try:
        data = base64.b64decode(str(body["content"]), validate=True)
    except ValueError as exc:
        raise ApiError(422, f"content is not valid Base64: {exc}") from exc
    files[path] = data
    sha = fake_sha(repo.refs[f"heads/{branch}"], path, blob_sha(data), body["message"])
    repo.refs[f"heads/{branch}"] = sha
    repo.commit_messages[sha] = str(body["message"])
    commit = d.commit_json(repo, sha)
    content = d.content_json(repo, path, data, branch)
    content.pop("content")
    content.pop("encoding")
    git_commit = commit["commit"] | {"sha": sha, "node_id": commit["node_id"], "html_url": commit["html_url"]}
    git_commit |= {
        "parents": [],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }
    return ok({"content": content, "commit": git_commit}, 200 if existing is not None else 201)


# Pull requests ------------------------------------------------------------------------------------
def _pull(repo: Repo, ctx: Ctx) -> Pull:
    pull = repo.pulls.get(ctx.int_param("pull_number"))
    if pull is None:
        raise ApiError(404, "Not Found")
    return pull


@handles("pulls/get")
def get_pull(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    return ok(d.pull_json(repo, _pull(repo, ctx)))


@handles("pulls/list")
def list_pulls(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    state = ctx.query.get("state", "open")
    head = ctx.query.get("head")
    base = ctx.query.get("base")
    found = []
    newest_first = ctx.query.get("direction", "desc") == "desc"
    if ctx.query.get("sort") == "updated":
        order = sorted(repo.pulls.values(), key=lambda p: (p.updated_at, p.number), reverse=newest_first)
    else:
        order = sorted(repo.pulls.values(), key=lambda p: p.number, reverse=newest_first)
    for pull in order:
        if state != "all" and pull.state != state:
            continue
        if head and head not in (f"{repo.owner}:{pull.head_ref}", pull.head_ref):
            continue
        if base and pull.base_ref != base:
            continue
        found.append(d.pull_json(repo, pull))
    return ok(found)


@handles("repos/list-pull-requests-associated-with-commit")
def commit_pulls(d: GitHubDouble, ctx: Ctx) -> Response:
    """GitHub: "the merged pull request that introduced the commit"; a commit not on the default branch
    only has its open pull requests."""
    repo = d._repo(ctx)
    sha = repo.resolve(ctx.params["commit_sha"]) or ctx.params["commit_sha"]
    merged = [p for p in repo.pulls.values() if p.merged and p.merge_commit_sha == sha]
    found = merged or [p for p in repo.pulls.values() if p.state == "open" and p.head_sha == sha]
    return ok([d.pull_json(repo, p) for p in sorted(found, key=lambda p: -p.number)])


@handles("pulls/create")
def create_pull(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    body = _body(ctx)
    head = str(body["head"]).split(":")[-1]
    base = str(body["base"])
    if f"heads/{head}" not in repo.refs:
        raise _validation_failed("PullRequest", "head", "invalid")
    if f"heads/{base}" not in repo.refs:
        raise _validation_failed("PullRequest", "base", "invalid")
    for pull in repo.pulls.values():
        if pull.state == "open" and pull.head_ref == head and pull.base_ref == base:
            raise ApiError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {repo.owner}:{head}.",
                    }
                ],
            )
    if "title" not in body:
        raise _validation_failed("PullRequest", "title", "missing_field")
    changed = _changed_paths(repo, head, base)
    pull = d.add_pull(
        repo.full_name,
        head_sha=repo.refs[f"heads/{head}"],
        user=ctx.login,
        head_ref=head,
        base_ref=base,
        title=str(body["title"]),
        body=str(body.get("body") or ""),
        files=changed,
    )
    pull.draft = bool(body.get("draft", False))
    return ok(d.pull_json(repo, pull), 201)


def _changed_paths(repo: Repo, head: str, base: str) -> list[dict[str, Any]]:
    head_files, base_files = repo.files.get(head, {}), repo.files.get(base, {})
    changed = []
    for path in sorted(set(head_files) | set(base_files)):
        if head_files.get(path) == base_files.get(path):
            continue
        status = "added" if path not in base_files else "removed" if path not in head_files else "modified"
        changed.append({"filename": path, "status": status})
    return changed


@handles("pulls/update")
def update_pull(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    pull = _pull(repo, ctx)
    body = _body(ctx)
    pull.title = str(body.get("title", pull.title))
    pull.body = body.get("body", pull.body)
    pull.state = str(body.get("state", pull.state))
    pull.updated_at = now_iso()
    return ok(d.pull_json(repo, pull))


@handles("pulls/list-files")
def list_pull_files(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    pull = _pull(repo, ctx)
    files = []
    for entry in pull.files:
        name = entry["filename"]
        files.append(
            {
                "sha": fake_sha(pull.head_sha, name),
                "filename": name,
                "status": entry.get("status", "modified"),
                "additions": int(entry.get("additions", 1)),
                "deletions": int(entry.get("deletions", 1)),
                "changes": int(entry.get("additions", 1)) + int(entry.get("deletions", 1)),
                "blob_url": f"{d.url}/html/{repo.full_name}/blob/{pull.head_sha}/{name}",
                "raw_url": f"{d.url}/html/{repo.full_name}/raw/{pull.head_sha}/{name}",
                "contents_url": f"{d.repo_url(repo)}/contents/{name}?ref={pull.head_sha}",
                "patch": entry.get("patch", ""),
            }
        )
    return ok(files)


@handles("pulls/list-reviews")
def list_reviews(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    pull = _pull(repo, ctx)
    return ok([d.review_json(repo, pull.number, r) for r in repo.reviews.get(pull.number, [])])


@handles("pulls/create-review")
def create_review(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    pull = _pull(repo, ctx)
    body = _body(ctx)
    state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(
        str(body.get("event", "")), "PENDING"
    )
    if state != "PENDING" and ctx.login == pull.user and state != "COMMENTED":
        raise ApiError(
            422,
            "Unprocessable Entity",
            [
                {
                    "resource": "PullRequestReview",
                    "code": "custom",
                    "message": "Can not approve your own pull request",
                }
            ],
        )
    review = d.add_review(
        repo.full_name,
        pull.number,
        user=ctx.login,
        state=state,
        commit_id=str(body.get("commit_id", pull.head_sha)),
        body=str(body.get("body", "")),
    )
    return ok(d.review_json(repo, pull.number, review))


# Issues, labels, comments -------------------------------------------------------------------------
def _issue(repo: Repo, ctx: Ctx) -> Issue:
    issue = repo.issues.get(ctx.int_param("issue_number"))
    if issue is None:
        raise ApiError(404, "Not Found")
    return issue


@handles("issues/create")
def create_issue(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    body = _body(ctx)
    issue = Issue(
        number=next(repo.numbers),
        title=str(body["title"]),
        body=body.get("body"),
        user=ctx.login,
        labels=[str(x if isinstance(x, str) else x.get("name")) for x in body.get("labels", [])],
        assignees=[str(a) for a in body.get("assignees", [])],
    )
    for login in issue.assignees:
        d.add_user(login)
    repo.issues[issue.number] = issue
    return ok(d.issue_json(repo, issue), 201)


@handles("issues/get")
def get_issue(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    return ok(d.issue_json(repo, _issue(repo, ctx)))


@handles("issues/update")
def update_issue(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    issue = _issue(repo, ctx)
    body = _body(ctx)
    if "title" in body:
        issue.title = str(body["title"])
    if "body" in body:
        issue.body = body["body"]
    if "labels" in body:
        issue.labels = [str(x if isinstance(x, str) else x.get("name")) for x in body["labels"]]
    if "state" in body and body["state"] != issue.state:
        issue.state = str(body["state"])
        issue.closed_at = now_iso() if issue.state == "closed" else None
        issue.state_reason = body.get("state_reason") or (
            "completed" if issue.state == "closed" else "reopened"
        )
    issue.updated_at = now_iso()
    return ok(d.issue_json(repo, issue))


@handles("issues/list-for-repo")
def list_issues(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    state = ctx.query.get("state", "open")
    labels = [x for x in ctx.query.get("labels", "").split(",") if x]
    creator = ctx.query.get("creator")
    found = []
    for issue in sorted(repo.issues.values(), key=lambda i: -i.number):
        if state != "all" and issue.state != state:
            continue
        if labels and not set(labels) <= set(issue.labels):
            continue
        if creator and issue.user != creator:
            continue
        found.append(d.issue_json(repo, issue))
    return ok(found)


@handles("issues/list-labels-on-issue")
def list_labels(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    return ok([d.label_json(repo, name) for name in _issue(repo, ctx).labels])


def _label_names(body: Any) -> list[str]:
    items = body.get("labels", []) if isinstance(body, dict) else body or []
    return [str(x if isinstance(x, str) else x.get("name")) for x in items]


@handles("issues/add-labels")
def add_labels(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    issue = _issue(repo, ctx)
    issue.labels += [name for name in _label_names(ctx.body) if name not in issue.labels]
    return ok([d.label_json(repo, name) for name in issue.labels])


@handles("issues/set-labels")
def set_labels(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    issue = _issue(repo, ctx)
    issue.labels = _label_names(ctx.body)
    return ok([d.label_json(repo, name) for name in issue.labels])


@handles("issues/remove-all-labels")
def remove_labels(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    _issue(repo, ctx).labels = []
    return ok(None, 204)


@handles("issues/list-comments")
def list_comments(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    issue = _issue(repo, ctx)
    return ok([d.comment_json(repo, c) for c in repo.comments.values() if c.issue_number == issue.number])


@handles("issues/create-comment")
def create_comment(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    issue = _issue(repo, ctx)
    stamp = now_iso()
    comment = Comment(d._next_id(), issue.number, ctx.login, str(_body(ctx)["body"]), stamp, stamp)
    repo.comments[comment.id] = comment
    return ok(d.comment_json(repo, comment), 201)


def _comment(repo: Repo, ctx: Ctx) -> Comment:
    comment = repo.comments.get(ctx.int_param("comment_id"))
    if comment is None:
        raise ApiError(404, "Not Found")
    return comment


@handles("issues/get-comment")
def get_comment(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    return ok(d.comment_json(repo, _comment(repo, ctx)))


@handles("issues/update-comment")
def update_comment(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    comment = _comment(repo, ctx)
    comment.body = str(_body(ctx)["body"])
    comment.updated_at = now_iso()
    return ok(d.comment_json(repo, comment))


@handles("issues/delete-comment")
def delete_comment(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    repo.comments.pop(_comment(repo, ctx).id)
    return ok(None, 204)


# Statuses, check runs -----------------------------------------------------------------------------
@handles("repos/create-commit-status")
def create_status(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    sha = _known_commit(repo, ctx.params["sha"])
    body = _body(ctx)
    stamp = now_iso()
    status = Status(
        id=d._next_id(),
        sha=sha,
        state=str(body["state"]),
        context=str(body.get("context", "default")),
        description=body.get("description"),
        target_url=body.get("target_url"),
        creator=ctx.login,
        created_at=stamp,
        updated_at=stamp,
    )
    repo.statuses.append(status)
    return ok(d.status_json(repo, status), 201)


@handles("repos/get-combined-status-for-ref")
def combined_status(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    sha = repo.resolve(ctx.params["ref"])
    if sha is None:
        raise ApiError(404, f"No commit found for SHA: {ctx.params['ref']}")
    latest: dict[str, Status] = {}
    for status in repo.statuses:
        if status.sha == sha:
            latest[status.context] = status
    states = {s.state for s in latest.values()}
    if states & {"failure", "error"}:
        state = "failure"
    elif "pending" in states or not states:
        state = "pending"
    else:
        state = "success"
    return ok(
        {
            "state": state,
            "statuses": [
                {k: v for k, v in d.status_json(repo, s).items() if k != "creator"} | {"avatar_url": None}
                for s in latest.values()
            ],
            "sha": sha,
            "total_count": len(latest),
            "repository": d.repo_json(repo),
            "commit_url": f"{d.repo_url(repo)}/commits/{sha}",
            "url": f"{d.repo_url(repo)}/commits/{sha}/status",
        }
    )


@handles("checks/create")
def create_check_run(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    body = _body(ctx)
    sha = _known_commit(repo, str(body["head_sha"]))
    conclusion = body.get("conclusion")
    status = "completed" if conclusion else str(body.get("status", "queued"))
    run = CheckRun(
        id=d._next_id(),
        name=str(body["name"]),
        head_sha=sha,
        status=status,
        conclusion=conclusion,
        output=dict(body.get("output", {})),
        details_url=body.get("details_url"),
        external_id=body.get("external_id"),
        started_at=str(body.get("started_at", now_iso())),
        completed_at=body.get("completed_at") or (now_iso() if status == "completed" else None),
    )
    repo.check_runs[run.id] = run
    return ok(d.check_run_json(repo, run), 201)


@handles("checks/get")
def get_check_run(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    run = repo.check_runs.get(ctx.int_param("check_run_id"))
    if run is None:
        raise ApiError(404, "Not Found")
    return ok(d.check_run_json(repo, run))


@handles("checks/update")
def update_check_run(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    run = repo.check_runs.get(ctx.int_param("check_run_id"))
    if run is None:
        raise ApiError(404, "Not Found")
    body = _body(ctx)
    run.name = str(body.get("name", run.name))
    run.output = {**run.output, **dict(body.get("output", {}))}
    if body.get("conclusion"):
        run.conclusion = str(body["conclusion"])
        run.status = "completed"
        run.completed_at = str(body.get("completed_at", now_iso()))
    elif "status" in body:
        run.status = str(body["status"])
    run.details_url = body.get("details_url", run.details_url)
    return ok(d.check_run_json(repo, run))


@handles("checks/list-for-ref")
def list_check_runs(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    sha = repo.resolve(ctx.params["ref"])
    name = ctx.query.get("check_name")
    runs = [
        d.check_run_json(repo, r)
        for r in repo.check_runs.values()
        if r.head_sha == sha and (name is None or r.name == name)
    ]
    return ok({"total_count": len(runs), "check_runs": runs})


# Releases and assets ------------------------------------------------------------------------------
def _release(repo: Repo, release_id: int) -> Release:
    release = repo.releases.get(release_id)
    if release is None:
        raise ApiError(404, "Not Found")
    return release


def _refuse_second_published(repo: Repo, tag: str, except_id: int | None) -> None:
    for other in repo.releases.values():
        if other.tag_name == tag and not other.draft and other.id != except_id:
            raise _validation_failed("Release", "tag_name", "already_exists")


@handles("repos/list-releases")
def list_releases(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    return ok([d.release_json(repo, r) for r in sorted(repo.releases.values(), key=lambda r: -r.id)])


@handles("repos/create-release")
def create_release(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    body = _body(ctx)
    tag = str(body["tag_name"])
    draft = bool(body.get("draft", False))
    if not draft:
        _refuse_second_published(repo, tag, None)
    target = str(body.get("target_commitish", repo.default_branch))
    if f"tags/{tag}" not in repo.refs and repo.resolve(target) is None:
        raise _validation_failed("Release", "target_commitish", "invalid")
    stamp = now_iso()
    release = Release(
        id=d._next_id(),
        tag_name=tag,
        target_commitish=target,
        name=body.get("name"),
        body=body.get("body"),
        draft=draft,
        prerelease=bool(body.get("prerelease", False)),
        author=ctx.login,
        created_at=stamp,
        published_at=None if draft else stamp,
    )
    repo.releases[release.id] = release
    if not draft:
        _tag(repo, release)
    return ok(d.release_json(repo, release), 201)


def _tag(repo: Repo, release: Release) -> None:
    sha = repo.resolve(release.target_commitish)
    if sha is not None:
        repo.refs.setdefault(f"tags/{release.tag_name}", sha)


@handles("repos/get-release")
def get_release(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    return ok(d.release_json(repo, _release(repo, ctx.int_param("release_id"))))


@handles("repos/get-release-by-tag")
def get_release_by_tag(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    for release in repo.releases.values():
        if release.tag_name == ctx.params["tag"] and not release.draft:
            return ok(d.release_json(repo, release))
    raise ApiError(404, "Not Found")


@handles("repos/get-latest-release")
def get_latest_release(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    published = [r for r in repo.releases.values() if not r.draft and not r.prerelease]
    if not published:
        raise ApiError(404, "Not Found")
    return ok(d.release_json(repo, max(published, key=lambda r: r.published_at or "")))


@handles("repos/update-release")
def update_release(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    release = _release(repo, ctx.int_param("release_id"))
    body = _body(ctx)
    tag = str(body.get("tag_name", release.tag_name))
    draft = bool(body.get("draft", release.draft))
    if not draft:
        _refuse_second_published(repo, tag, release.id)
    release.tag_name = tag
    release.target_commitish = str(body.get("target_commitish", release.target_commitish))
    release.name = body.get("name", release.name)
    release.body = body.get("body", release.body)
    release.prerelease = bool(body.get("prerelease", release.prerelease))
    if release.draft and not draft:
        release.published_at = now_iso()
        release.draft = False
        _tag(repo, release)
    release.draft = draft
    return ok(d.release_json(repo, release))


@handles("repos/delete-release")
def delete_release(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    release = _release(repo, ctx.int_param("release_id"))
    del repo.releases[release.id]
    for asset_id in [a.id for a in repo.assets.values() if a.release_id == release.id]:
        del repo.assets[asset_id]
    return ok(None, 204)


@handles("repos/list-release-assets")
def list_assets(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    release = _release(repo, ctx.int_param("release_id"))
    return ok([d.asset_json(repo, a) for a in repo.assets.values() if a.release_id == release.id])


@handles("repos/upload-release-asset")
def upload_asset(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    release = _release(repo, ctx.int_param("release_id"))
    name = ctx.query["name"]
    if any(a.release_id == release.id and a.name == name for a in repo.assets.values()):
        raise _validation_failed("ReleaseAsset", "name", "already_exists")
    if not ctx.raw:
        raise ApiError(422, "Bad Content-Length: 0")
    stamp = now_iso()
    asset = Asset(
        id=d._next_id(),
        release_id=release.id,
        name=name,
        label=ctx.query.get("label"),
        content_type=ctx.headers.get("Content-Type", "application/octet-stream"),
        data=ctx.raw,
        state="uploaded",
        uploader=ctx.login,
        created_at=stamp,
        updated_at=stamp,
    )
    repo.assets[asset.id] = asset
    return ok(d.asset_json(repo, asset), 201)


def _asset(repo: Repo, ctx: Ctx) -> Asset:
    asset = repo.assets.get(ctx.int_param("asset_id"))
    if asset is None:
        raise ApiError(404, "Not Found")
    return asset


@handles("repos/get-release-asset")
def get_asset(d: GitHubDouble, ctx: Ctx) -> Response:
    """JSON metadata; with `Accept: application/octet-stream`, a 302 to the asset's storage URL (as
    GitHub answers: the client fetches it without its token)."""
    repo = d._repo(ctx)
    asset = _asset(repo, ctx)
    if "application/octet-stream" in ctx.headers.get("Accept", ""):
        return ok(None, 302, {"Location": d.storage_url(repo, asset)})
    return ok(d.asset_json(repo, asset))


@handles("repos/update-release-asset")
def update_asset(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    asset = _asset(repo, ctx)
    body = _body(ctx)
    asset.name = str(body.get("name", asset.name))
    asset.label = body.get("label", asset.label)
    return ok(d.asset_json(repo, asset))


@handles("repos/delete-release-asset")
def delete_asset(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    del repo.assets[_asset(repo, ctx).id]
    return ok(None, 204)


# Deployments ----------------------------------------------------------------------------------------
def _deployment(repo: Repo, ctx: Ctx) -> Deployment:
    dep = repo.deployments.get(ctx.int_param("deployment_id"))
    if dep is None:
        raise ApiError(404, "Not Found")
    return dep


@handles("repos/create-deployment")
def create_deployment(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    body = _body(ctx)
    ref = str(body["ref"])
    sha = repo.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No ref found for: {ref}")
    environment = str(body.get("environment", "production"))
    stamp = now_iso()
    dep = Deployment(
        id=d._next_id(),
        ref=ref,
        sha=sha,
        task=str(body.get("task", "deploy")),
        environment=environment,
        description=body.get("description"),
        payload=body.get("payload", {}),
        creator=ctx.login,
        transient_environment=bool(body.get("transient_environment", False)),
        production_environment=bool(body.get("production_environment", environment == "production")),
        created_at=stamp,
        updated_at=stamp,
    )
    if isinstance(dep.payload, str):
        dep.payload = dep.payload or {}
    repo.deployments[dep.id] = dep
    return ok(d.deployment_json(repo, dep), 201)


@handles("repos/list-deployments")
def list_deployments(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    filters = {k: ctx.query[k] for k in ("sha", "ref", "task", "environment") if k in ctx.query}
    found = [
        d.deployment_json(repo, dep)
        for dep in sorted(repo.deployments.values(), key=lambda x: -x.id)
        if all(getattr(dep, k) == v for k, v in filters.items())
    ]
    return ok(found)


@handles("repos/get-deployment")
def get_deployment(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    return ok(d.deployment_json(repo, _deployment(repo, ctx)))


@handles("repos/delete-deployment")
def delete_deployment(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    dep = _deployment(repo, ctx)
    if dep.statuses and dep.statuses[-1].state in ("success", "in_progress", "queued"):
        raise ApiError(422, "We cannot delete an active deployment unless it is the only deployment.")
    del repo.deployments[dep.id]
    return ok(None, 204)


@handles("repos/create-deployment-status")
def create_deployment_status(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    dep = _deployment(repo, ctx)
    body = _body(ctx)
    stamp = now_iso()
    status = DeploymentStatus(
        id=d._next_id(),
        state=str(body["state"]),
        description=str(body.get("description", "")),
        environment=str(body.get("environment", dep.environment)),
        environment_url=str(body.get("environment_url", "")),
        log_url=str(body.get("log_url", body.get("target_url", ""))),
        creator=ctx.login,
        created_at=stamp,
        updated_at=stamp,
    )
    dep.statuses.append(status)
    dep.updated_at = stamp
    if status.state == "success" and body.get("auto_inactive", True):
        _auto_inactive(d, repo, dep, ctx.login, stamp)
    return ok(d.deployment_status_json(repo, dep, status), 201)


def _auto_inactive(d: GitHubDouble, repo: Repo, dep: Deployment, login: str, stamp: str) -> None:
    """GitHub's `auto_inactive` (default true): "Adds a new inactive status to all prior non-transient,
    non-production environment deployments with the same repository and environment name as the created
    status's deployment. An inactive status is only added to deployments that had a success state." (GitHub REST docs)
    """
    for other in repo.deployments.values():
        if (
            other.id < dep.id
            and other.environment == dep.environment
            and not other.transient_environment
            and not other.production_environment
            and other.statuses
            and other.statuses[-1].state == "success"
        ):
            other.statuses.append(
                DeploymentStatus(
                    id=d._next_id(),
                    state="inactive",
                    description="",
                    environment=other.environment,
                    environment_url="",
                    log_url="",
                    creator=login,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )


@handles("repos/list-deployment-statuses")
def list_deployment_statuses(d: GitHubDouble, ctx: Ctx) -> Response:
    repo = d._repo(ctx)
    dep = _deployment(repo, ctx)
    return ok([d.deployment_status_json(repo, dep, s) for s in reversed(dep.statuses)])
