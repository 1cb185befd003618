"""The GitHub REST API adapter, over github3.py.

Small and typed: callers get frozen dataclasses, never github3 objects. Every failure is a
`cd.errors.GitHubError` naming the call, e.g.
`GitHub API: create release churn-v2 in acme/models -> 422 Validation Failed: Release.tag_name already_exists`.
Rate limits (403 with X-RateLimit-Remaining: 0, 429 with Retry-After) are waited out and retried within
`RetryPolicy` by the transport (cd.github.ratelimit). github3 is imported in the constructor only.

Where github3.py lacks an endpoint (team membership by slug, collaborator permission, deployment statuses
with log_url/environment_url, combined status) the adapter calls github3's session directly, with the
same error handling.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cd.errors import GitHubError
from cd.github.ratelimit import RateLimitAdapter, RetryPolicy
from cd.github.settings import PUBLIC_API_URL, GitHubSettings

HINTS = {
    401: "check GITHUB_TOKEN (missing, expired or revoked)",
    403: "the token lacks a permission this call needs; grant it in the workflow's `permissions:`",
    404: "check GITHUB_REPOSITORY and that the token can see it",
}


# Values -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AssetInfo:
    id: int
    name: str
    size: int
    state: str  # "uploaded" or "open" (interrupted upload)
    digest: str | None  # "sha256:<hex>" when GitHub reports it
    content_type: str
    download_url: str


@dataclass(frozen=True)
class ReleaseInfo:
    id: int
    tag: str
    name: str | None
    body: str
    draft: bool
    prerelease: bool
    target_commitish: str
    html_url: str
    assets: tuple[AssetInfo, ...]


@dataclass(frozen=True)
class PullInfo:
    number: int
    title: str
    body: str
    author: str
    state: str
    head_ref: str
    head_sha: str
    base_ref: str
    html_url: str
    merged: bool = False
    merge_commit_sha: str | None = None


@dataclass(frozen=True)
class ReviewInfo:
    id: int
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    commit_id: str
    submitted_at: str | None


@dataclass(frozen=True)
class CommentInfo:
    id: int
    user: str
    body: str
    html_url: str
    created_at: str = ""
    user_type: str = "User"  # "Bot" for GITHUB_TOKEN and GitHub App comments


@dataclass(frozen=True)
class IssueInfo:
    number: int
    title: str
    body: str
    state: str
    labels: tuple[str, ...]
    html_url: str


@dataclass(frozen=True)
class StatusInfo:
    context: str
    state: str
    description: str | None
    target_url: str | None


@dataclass(frozen=True)
class DeploymentInfo:
    id: int
    ref: str
    sha: str
    environment: str
    description: str | None


@dataclass(frozen=True)
class FileInfo:
    path: str
    sha: str  # blob sha, needed to update the file
    content: bytes


# Errors -------------------------------------------------------------------------------------------
class TeamsUnreadable(GitHubError):
    """Team membership cannot be read with this token: a refusal, never a silent "not a member"."""


def describe_failure(call: str, status: int, message: str, errors: Any, headers: Mapping[str, str]) -> str:
    """`GitHub API: CALL -> STATUS MESSAGE: details (hint)`: the text of every GitHubError."""
    text = f"GitHub API: {call} -> {status} {message or '(no message)'}"
    details = _error_details(errors)
    if details:
        text += f": {details}"
    secondary = status in (403, 429) and "secondary rate limit" in (message or "").lower()
    if status == 429 or secondary or (status == 403 and headers.get("X-RateLimit-Remaining") == "0"):
        reset = headers.get("Retry-After") or headers.get("X-RateLimit-Reset")
        when = f"retry after {reset}" if reset else "retry in a few minutes"
        text += f" (rate limited; modelcd waited as GitHub asks and gave up: {when})"
    elif status in (500, 502, 503, 504):
        text += " (a GitHub server error that persisted through retries; try again later)"
    elif status in HINTS:
        text += f" ({HINTS[status]})"
    return text


def _error_details(errors: Any) -> str:
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors:
        if isinstance(error, dict):
            if error.get("message"):
                parts.append(str(error["message"]))
            else:
                where = ".".join(str(error[k]) for k in ("resource", "field") if error.get(k))
                parts.append(f"{where} {error.get('code', '')}".strip())
        else:
            parts.append(str(error))
    return "; ".join(parts)


@contextmanager
def api_call(call: str) -> Iterator[None]:
    """Turn github3/requests failures inside the block into a GitHubError naming CALL."""
    import github3.exceptions as gh_errors
    import requests

    try:
        yield
    except gh_errors.GitHubError as exc:
        response = exc.response
        message = exc.msg if isinstance(exc.msg, str) else str(response.reason)
        raise GitHubError(describe_failure(call, exc.code, message, exc.errors, response.headers)) from exc
    except (gh_errors.TransportError, requests.RequestException) as exc:
        cause = getattr(exc, "exception", exc)
        raise GitHubError(f"GitHub API: {call} -> connection failed: {cause}") from exc
    except gh_errors.IncompleteResponse as exc:
        raise GitHubError(f"GitHub API: {call} -> unexpected response: {exc}") from exc


def response_failure(call: str, response: Any) -> GitHubError:
    """The error for an unexpected HTTP response to CALL, with GitHub's message and hint."""
    body = _body_json(response)
    message = str(body.get("message", response.reason))
    return GitHubError(
        describe_failure(call, response.status_code, message, body.get("errors"), response.headers)
    )


def _body_json(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# The client ---------------------------------------------------------------------------------------
class GitHubClient:
    """One repository on one GitHub (github.com or Enterprise), authenticated with a token."""

    def __init__(self, settings: GitHubSettings, retry: RetryPolicy | None = None) -> None:
        import github3

        self.settings = settings
        if settings.api_url == PUBLIC_API_URL:
            self._gh = github3.GitHub(token=settings.token)
        else:
            root = settings.api_url.removesuffix("/api/v3")
            self._gh = github3.GitHubEnterprise(root, token=settings.token)
            self._gh.session.base_url = settings.api_url  # any API root (GHES, a test double)
        adapter = RateLimitAdapter(retry or RetryPolicy())
        self._gh.session.mount("https://", adapter)
        self._gh.session.mount("http://", adapter)
        self._repo_obj: Any = None
        self._releases: dict[int, Any] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, retry: RetryPolicy | None = None) -> GitHubClient:
        return cls(GitHubSettings.from_env(env), retry)

    @property
    def repository(self) -> str:
        return self.settings.repository

    def _in(self) -> str:
        return f"in {self.repository}"

    @property
    def _repo(self) -> Any:
        if self._repo_obj is None:
            with api_call(f"get repository {self.repository}"):
                self._repo_obj = self._gh.repository(self.settings.owner, self.settings.name)
        return self._repo_obj

    def _request(
        self, method: str, path: str, call: str, expected: tuple[int, ...] = (200,), json: Any = None
    ) -> Any:
        """A raw API call through github3's session (auth, retries); returns parsed JSON or None."""
        url = f"{self.settings.api_url}{path}"
        with api_call(call):
            response = self._gh.session.request(method, url, json=json)
        if response.status_code not in expected:
            raise response_failure(call, response)
        return None if response.status_code == 204 or not response.content else response.json()

    def _repo_path(self) -> str:
        return f"/repos/{self.repository}"

    # Identity and permissions ---------------------------------------------------------------------
    def authenticated_user(self) -> str:
        with api_call("get the authenticated user"):
            return str(self._gh.me().login)

    def team_member(self, org: str, team_slug: str, username: str, *, absence_is_proof: bool = True) -> bool:
        """True when USERNAME is an active member (or maintainer) of ORG/TEAM_SLUG.

        GitHub answers 404 both for "not a member" and for a team the token cannot see. With
        `absence_is_proof` False (a token that may not see organisation teams, like GITHUB_TOKEN), a 404
        proves nothing and raises TeamsUnreadable, as a 403 always does."""
        call = f"get membership of {username} in team {org}/{team_slug}"
        url = f"{self.settings.api_url}/orgs/{org}/teams/{team_slug}/memberships/{username}"
        with api_call(call):
            response = self._gh.session.request("GET", url)
        status = response.status_code
        if status == 200:
            return bool(_body_json(response).get("state") == "active")
        if status == 404 and absence_is_proof:
            return False
        if status in (403, 404):
            seen = "cannot read it" if status == 403 else "may not see the team"
            raise TeamsUnreadable(
                f"cannot tell whether @{username} is in team {org}/{team_slug}: GitHub answered {status} "
                f"({_body_json(response).get('message', response.reason)}), and this token {seen}; "
                "GITHUB_TOKEN cannot read organisation teams: set MODELCD_ORG_TOKEN to a token that can read "
                "the organisation's members (docs/github-setup.md)"
            )
        raise response_failure(call, response)

    def collaborator_permission(self, username: str) -> str:
        """admin, maintain, write, triage, read or none (the role name, more precise than `permission`)."""
        call = f"get permission of {username} {self._in()}"
        data = self._request("GET", f"{self._repo_path()}/collaborators/{username}/permission", call)
        return str(data.get("role_name") or data.get("permission") or "none")

    # Pull requests --------------------------------------------------------------------------------
    def pull_request(self, number: int) -> PullInfo:
        with api_call(f"get pull request #{number} {self._in()}"):
            pull = self._repo.pull_request(number)
            if pull is None:
                raise GitHubError(f"GitHub API: get pull request #{number} {self._in()} -> 404 Not Found")
            return _pull_info(pull)

    def pull_files(self, number: int) -> list[str]:
        with api_call(f"list files of pull request #{number} {self._in()}"):
            return [f.filename for f in self._pull_obj(number).files()]

    def pull_reviews(self, number: int) -> list[ReviewInfo]:
        with api_call(f"list reviews of pull request #{number} {self._in()}"):
            return [
                ReviewInfo(
                    id=r.id,
                    user=r.user.login if r.user else "",
                    state=r.state,
                    commit_id=r.commit_id,
                    submitted_at=r.submitted_at.isoformat() if r.submitted_at else None,
                )
                for r in self._pull_obj(number).reviews()
            ]

    def find_open_pull(self, head: str, base: str) -> PullInfo | None:
        with api_call(f"list open pull requests {head} -> {base} {self._in()}"):
            for pull in self._repo.pull_requests(
                state="open", head=f"{self.settings.owner}:{head}", base=base
            ):
                return _pull_info(pull)
        return None

    def merged_pull_for_commit(self, sha: str) -> PullInfo | None:
        """The merged pull request whose merge commit is `sha` (GitHub's "pull requests associated with
        a commit", which names it for merge, squash and rebase merges alike); None for a direct push."""
        call = f"list pull requests of commit {sha[:12]} {self._in()}"
        data = self._request("GET", f"{self._repo_path()}/commits/{sha}/pulls?per_page=100", call)
        for pull in data or []:
            if pull.get("merged_at") and pull.get("merge_commit_sha") == sha:
                return _pull_info_json(pull)
        return None

    def create_pull(self, title: str, head: str, base: str, body: str) -> PullInfo:
        with api_call(f"create pull request {head} -> {base} {self._in()}"):
            return _pull_info(self._repo.create_pull(title=title, base=base, head=head, body=body))

    def _pull_obj(self, number: int) -> Any:
        pull = self._repo.pull_request(number)
        if pull is None:
            raise GitHubError(f"GitHub API: get pull request #{number} {self._in()} -> 404 Not Found")
        return pull

    # Issues and comments --------------------------------------------------------------------------
    def issue_comments(self, number: int) -> list[CommentInfo]:
        call = f"list comments of #{number} {self._in()}"
        data = self._paginate(f"{self._repo_path()}/issues/{number}/comments", call)
        return [_comment_info(c) for c in data]

    def create_comment(self, number: int, body: str) -> CommentInfo:
        call = f"comment on #{number} {self._in()}"
        data = self._request(
            "POST", f"{self._repo_path()}/issues/{number}/comments", call, (201,), {"body": body}
        )
        return _comment_info(data)

    def edit_comment(self, comment_id: int, body: str) -> CommentInfo:
        call = f"edit comment {comment_id} {self._in()}"
        data = self._request(
            "PATCH", f"{self._repo_path()}/issues/comments/{comment_id}", call, json={"body": body}
        )
        return _comment_info(data)

    def issues(self, state: str = "open", labels: tuple[str, ...] = ()) -> list[IssueInfo]:
        """Issues only (GitHub's issue list also returns pull requests; they are left out)."""
        with api_call(f"list {state} issues {self._in()}"):
            found = self._repo.issues(state=state, labels=",".join(labels) or None)
            return [_issue_info(i) for i in found if not i.pull_request_urls]

    def create_issue(self, title: str, body: str, labels: tuple[str, ...] = ()) -> IssueInfo:
        with api_call(f"create issue {title!r} {self._in()}"):
            return _issue_info(self._repo.create_issue(title=title, body=body, labels=list(labels)))

    def update_issue(
        self, number: int, *, title: str | None = None, body: str | None = None, state: str | None = None
    ) -> IssueInfo:
        fields = {k: v for k, v in {"title": title, "body": body, "state": state}.items() if v is not None}
        call = f"update issue #{number} {self._in()}"
        return _issue_info_json(
            self._request("PATCH", f"{self._repo_path()}/issues/{number}", call, json=fields)
        )

    # Commit statuses ------------------------------------------------------------------------------
    def create_status(
        self, sha: str, state: str, context: str, description: str = "", target_url: str | None = None
    ) -> StatusInfo:
        with api_call(f"set status {context!r}={state} on {sha[:12]} {self._in()}"):
            status = self._repo.create_status(
                sha, state, target_url=target_url, description=description[:140], context=context
            )
        return StatusInfo(status.context, status.state, status.description, status.target_url)

    def combined_status(self, ref: str) -> tuple[str, list[StatusInfo]]:
        call = f"get combined status of {ref} {self._in()}"
        data = self._request("GET", f"{self._repo_path()}/commits/{ref}/status", call)
        statuses = [
            StatusInfo(s["context"], s["state"], s.get("description"), s.get("target_url"))
            for s in data["statuses"]
        ]
        return str(data["state"]), statuses

    # Deployments ----------------------------------------------------------------------------------
    def create_deployment(
        self,
        ref: str,
        environment: str,
        description: str,
        payload: Mapping[str, Any] | None = None,
        task: str = "deploy",
    ) -> DeploymentInfo:
        call = f"create deployment of {ref} to {environment} {self._in()}"
        body = {
            "ref": ref,
            "task": task,
            "environment": environment,
            "description": description,
            "payload": dict(payload or {}),
            "auto_merge": False,
            "required_contexts": [],
            "production_environment": environment == "production",
        }
        data = self._request("POST", f"{self._repo_path()}/deployments", call, (201,), body)
        return DeploymentInfo(
            data["id"], data["ref"], data["sha"], data["environment"], data.get("description")
        )

    def create_deployment_status(
        self,
        deployment_id: int,
        state: str,
        description: str = "",
        log_url: str = "",
        environment_url: str = "",
        auto_inactive: bool = True,
    ) -> None:
        call = f"set deployment {deployment_id} status {state} {self._in()}"
        body: dict[str, Any] = {"state": state, "description": description[:140]}
        if not auto_inactive:
            body["auto_inactive"] = False
        if log_url:
            body["log_url"] = log_url
        if environment_url:
            body["environment_url"] = environment_url
        self._request("POST", f"{self._repo_path()}/deployments/{deployment_id}/statuses", call, (201,), body)

    def deployment_state(self, deployment_id: int) -> str | None:
        """The latest status of a deployment (None: it has none)."""
        call = f"list statuses of deployment {deployment_id} {self._in()}"
        data = self._request(
            "GET", f"{self._repo_path()}/deployments/{deployment_id}/statuses?per_page=1", call
        )
        return str(data[0]["state"]) if data else None

    def deployments(self, environment: str | None = None, task: str | None = None) -> list[DeploymentInfo]:
        filters = {k: v for k, v in (("environment", environment), ("task", task)) if v}
        query = ("?" + "&".join(f"{k}={v}" for k, v in filters.items())) if filters else ""
        data = self._paginate(f"{self._repo_path()}/deployments{query}", f"list deployments {self._in()}")
        return [
            DeploymentInfo(d["id"], d["ref"], d["sha"], d["environment"], d.get("description")) for d in data
        ]

    # Branches, contents ---------------------------------------------------------------------------
    def branch_sha(self, branch: str) -> str:
        call = f"get branch {branch} {self._in()}"
        return str(self._request("GET", f"{self._repo_path()}/git/ref/heads/{branch}", call)["object"]["sha"])

    def create_branch(self, branch: str, sha: str) -> None:
        with api_call(f"create branch {branch} at {sha[:12]} {self._in()}"):
            self._repo.create_ref(f"refs/heads/{branch}", sha)

    def file(self, path: str, ref: str) -> FileInfo | None:
        call = f"get {path}@{ref} {self._in()}"
        data = self._request("GET", f"{self._repo_path()}/contents/{path}?ref={ref}", call, (200, 404))
        if data is None or "content" not in data:
            return None
        return FileInfo(path=path, sha=str(data["sha"]), content=base64.b64decode(data["content"]))

    def put_file(self, path: str, content: bytes, message: str, branch: str, sha: str | None) -> str:
        """Create or update PATH on BRANCH; returns the new commit sha. SHA is the blob sha being replaced."""
        body: dict[str, Any] = {
            "message": message,
            "content": base64.b64encode(content).decode(),
            "branch": branch,
        }
        if sha:
            body["sha"] = sha
        call = f"write {path} on {branch} {self._in()}"
        data = self._request("PUT", f"{self._repo_path()}/contents/{path}", call, (200, 201), body)
        return str(data["commit"]["sha"])

    # Releases -------------------------------------------------------------------------------------
    def releases(self) -> list[ReleaseInfo]:
        """Every release, drafts included (GET /releases/tags/{tag} does not find drafts)."""
        with api_call(f"list releases {self._in()}"):
            found = list(self._repo.releases())
        for release in found:
            self._releases[release.id] = release
        return [self._release_info(r) for r in found]

    def create_release(self, tag: str, target: str, name: str, body: str, draft: bool = True) -> ReleaseInfo:
        with api_call(f"create release {tag} {self._in()}"):
            release = self._repo.create_release(
                tag, target_commitish=target, name=name, body=body, draft=draft, prerelease=False
            )
        self._releases[release.id] = release
        return self._release_info(release)

    def update_release(
        self, release_id: int, *, body: str | None = None, name: str | None = None, draft: bool | None = None
    ) -> ReleaseInfo:
        release = self._release_obj(release_id)
        call = f"update release {release.tag_name} {self._in()}"
        with api_call(call):
            if not release.edit(body=body, name=name, draft=draft):
                raise GitHubError(f"GitHub API: {call} -> 404 Not Found (deleted meanwhile?)")
        return self._release_info(release)

    def delete_release(self, release_id: int) -> None:
        release = self._release_obj(release_id)
        with api_call(f"delete release {release.tag_name} {self._in()}"):
            release.delete()
        self._releases.pop(release_id, None)

    def release_assets(self, release_id: int) -> list[AssetInfo]:
        release = self._release_obj(release_id)
        with api_call(f"list assets of release {release.tag_name} {self._in()}"):
            return [_asset_info(a) for a in release.assets()]

    def upload_asset(self, release_id: int, path: Path, name: str, content_type: str) -> AssetInfo:
        release = self._release_obj(release_id)
        with api_call(f"upload {name} to release {release.tag_name} {self._in()}"), path.open("rb") as stream:
            return _asset_info(release.upload_asset(content_type, name, stream))

    def download_asset(self, asset_id: int, target: Path, name: str = "") -> Path:
        """The asset's bytes, written atomically to `target`. GitHub answers 302 to a storage URL
        (fetched without the token, as the docs require) or streams the bytes itself (200)."""
        from cd.files import write_chunks_atomic

        call = f"download asset {name or asset_id} {self._in()}"
        url = f"{self.settings.api_url}{self._repo_path()}/releases/assets/{asset_id}"
        accept = {"Accept": "application/octet-stream"}
        session = self._gh.session
        with api_call(call):
            response = session.get(url, headers=accept, allow_redirects=False, stream=True)
            if response.status_code in (301, 302, 307) and response.headers.get("Location"):
                with session.no_auth():
                    response = session.get(response.headers["Location"], headers=accept, stream=True)
            if response.status_code != 200:
                raise response_failure(call, response)
            return write_chunks_atomic(target, response.iter_content(1 << 20))

    def rename_asset(self, asset_id: int, name: str) -> None:
        call = f"rename asset {asset_id} to {name} {self._in()}"
        self._request(
            "PATCH", f"{self._repo_path()}/releases/assets/{asset_id}", call, (200,), {"name": name}
        )

    def delete_asset(self, asset_id: int, name: str = "") -> None:
        call = f"delete asset {name or asset_id} {self._in()}"
        self._request("DELETE", f"{self._repo_path()}/releases/assets/{asset_id}", call, (204,))

    def _release_obj(self, release_id: int) -> Any:
        if release_id not in self._releases:
            with api_call(f"get release {release_id} {self._in()}"):
                self._releases[release_id] = self._repo.release(release_id)
        return self._releases[release_id]

    def _release_info(self, release: Any) -> ReleaseInfo:
        return ReleaseInfo(
            id=release.id,
            tag=release.tag_name,
            name=release.name,
            body=release.body or "",
            draft=release.draft,
            prerelease=release.prerelease,
            target_commitish=release.target_commitish,
            html_url=release.html_url,
            assets=tuple(_asset_info(a) for a in release.original_assets),
        )

    # Helpers --------------------------------------------------------------------------------------
    def _paginate(self, path: str, call: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url: str | None = f"{self.settings.api_url}{path}"
        separator = "&" if "?" in path else "?"
        url = f"{url}{separator}per_page=100"
        while url:
            with api_call(call):
                response = self._gh.session.get(url)
            if response.status_code != 200:
                raise response_failure(call, response)
            items.extend(response.json())
            url = response.links.get("next", {}).get("url")
        return items


def _pull_info(pull: Any) -> PullInfo:
    return PullInfo(
        number=pull.number,
        title=pull.title,
        body=pull.body or "",
        author=pull.user.login if pull.user else "",
        state=pull.state,
        head_ref=pull.head.ref,
        head_sha=pull.head.sha,
        base_ref=pull.base.ref,
        html_url=pull.html_url,
        merged=bool(pull.merged_at),
        merge_commit_sha=pull.merge_commit_sha,
    )


def _pull_info_json(data: Mapping[str, Any]) -> PullInfo:
    return PullInfo(
        number=int(data["number"]),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        author=str((data.get("user") or {}).get("login", "")),
        state=str(data["state"]),
        head_ref=str(data["head"]["ref"]),
        head_sha=str(data["head"]["sha"]),
        base_ref=str(data["base"]["ref"]),
        html_url=str(data["html_url"]),
        merged=bool(data.get("merged_at")),
        merge_commit_sha=data.get("merge_commit_sha"),
    )


def _comment_info(data: Mapping[str, Any]) -> CommentInfo:
    user = data.get("user") or {}
    return CommentInfo(
        int(data["id"]),
        str(user.get("login", "")),
        str(data.get("body") or ""),
        str(data["html_url"]),
        str(data.get("created_at") or ""),
        str(user.get("type") or "User"),
    )


def _issue_info(issue: Any) -> IssueInfo:
    return IssueInfo(
        number=issue.number,
        title=issue.title,
        body=issue.body or "",
        state=issue.state,
        labels=tuple(label.name for label in issue.original_labels),
        html_url=issue.html_url,
    )


def _issue_info_json(data: Mapping[str, Any]) -> IssueInfo:
    return IssueInfo(
        number=int(data["number"]),
        title=str(data["title"]),
        body=str(data.get("body") or ""),
        state=str(data["state"]),
        labels=tuple(str(label["name"]) for label in data.get("labels", [])),
        html_url=str(data["html_url"]),
    )


def _asset_info(asset: Any) -> AssetInfo:
    raw = asset.as_dict() if hasattr(asset, "as_dict") else dict(asset)
    return AssetInfo(
        id=int(raw["id"]),
        name=str(raw["name"]),
        size=int(raw["size"]),
        state=str(raw.get("state", "uploaded")),
        digest=raw.get("digest"),
        content_type=str(raw.get("content_type", "application/octet-stream")),
        download_url=str(raw.get("browser_download_url", "")),
    )
