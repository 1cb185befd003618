"""A stateful GitHub REST API double whose every request and response is checked against GitHub's
OpenAPI description (tests/fixtures/github-openapi/).

Faithful where clients depend on it:
- auth: `Authorization: token X` or `Bearer X` with a known token, else 401 "Requires authentication" /
  "Bad credentials";
- issues and pull requests share one number sequence, and the issues list includes pull requests
  (with a `pull_request` key), as on GitHub;
- `GET /releases/tags/{tag}` does not find draft releases (GitHub hides drafts there; list releases to
  find one); a second *published* release for a tag is 422 `already_exists`, drafts may repeat;
- uploading an asset whose name exists on the release is 422 `already_exists`; an interrupted upload
  leaves an asset in state `open` (delete it, then upload again); assets carry `digest: sha256:...`;
- statuses/deployments need a commit the repository knows (a branch head, PR head or seeded commit).
Anything the description documents but the double does not implement answers 501 and counts as a
violation, so a test never passes against behaviour that was never modelled.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.github_double import contract
from tests.github_double.server import HttpServer, _Handler
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
    Review,
    Status,
    User,
    blob_sha,
    fake_sha,
    now_iso,
)

DOCS = "https://docs.github.com/rest"
DEFAULT_TOKEN = "ghs_doubletoken"
DEFAULT_LOGIN = "modelcd-bot"


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": self.message,
            "documentation_url": DOCS,
            "status": str(self.status),
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body


@dataclass
class Fault:
    operation_id: str  # "*" for any
    status: int
    remaining: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    interrupt_after: int | None = None  # bytes of the request body read before the connection drops
    passing: int = 0  # calls that go through before the fault starts


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    operation_id: str | None
    status: int  # 0 when the connection was dropped
    body: Any  # parsed JSON, or the byte count for binary uploads
    login: str | None

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} ({self.operation_id})"


Response = tuple[int, Any, dict[str, str]]
HANDLERS: dict[str, Callable[[GitHubDouble, Ctx], Response]] = {}


def handles(operation_id: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    contract.operation(operation_id)  # fail at import if the description has no such operation

    def register(fn: Callable[..., Response]) -> Callable[..., Response]:
        HANDLERS[operation_id] = fn
        return fn

    return register


@dataclass
class Ctx:
    op: contract.Operation
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    raw: bytes
    login: str
    headers: dict[str, str]

    def int_param(self, name: str) -> int:
        return int(self.params[name])


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return status, body, headers or {}


class GitHubDouble:
    """The double: state, seed helpers, fault injection, request log; serves HTTP via `start()`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(1000)
        self.repos: dict[str, Repo] = {}
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}
        self.teams: dict[tuple[str, str], dict[str, str]] = {}  # (org, slug) -> login -> role
        self.faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []
        self.violations: list[str] = []
        self._http: HttpServer | None = None
        self.add_token(DEFAULT_TOKEN, DEFAULT_LOGIN, type="Bot")

    # Lifecycle ---------------------------------------------------------------------------------
    def start(self) -> GitHubDouble:
        self._http = HttpServer(self)
        self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    @property
    def url(self) -> str:
        """The API root, e.g. http://127.0.0.1:PORT (use it as GITHUB_API_URL)."""
        assert self._http is not None, "start() the double first"
        return f"http://127.0.0.1:{self._http.port}"

    @property
    def token(self) -> str:
        return DEFAULT_TOKEN

    def env(self, repo: str, sha: str | None = None) -> dict[str, str]:
        """GITHUB_* settings pointing a client at this double for REPO."""
        settings = {"GITHUB_API_URL": self.url, "GITHUB_TOKEN": self.token, "GITHUB_REPOSITORY": repo}
        if sha:
            settings["GITHUB_SHA"] = sha
        return settings

    # Seeding -------------------------------------------------------------------------------------
    def add_user(self, login: str, type: str = "User") -> User:
        with self._lock:
            if login not in self.users:
                self.users[login] = User(login=login, id=next(self._ids), type=type)
            return self.users[login]

    def add_token(self, token: str, login: str, type: str = "User") -> None:
        self.add_user(login, type=type)
        self.tokens[token] = login

    def create_repo(self, full_name: str, default_branch: str = "main", head_sha: str | None = None) -> Repo:
        owner, name = full_name.split("/")
        self.add_user(owner, type="Organization")
        sha = head_sha or fake_sha(full_name, "initial")
        repo = Repo(id=next(self._ids), owner=owner, name=name, default_branch=default_branch)
        repo.refs[f"heads/{default_branch}"] = sha
        repo.commit_messages[sha] = "initial commit"
        repo.files[default_branch] = {}
        self.repos[full_name.lower()] = repo
        return repo

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name.lower()]

    def add_commit(self, full_name: str, sha: str, message: str = "commit", branch: str | None = None) -> str:
        repo = self.repo(full_name)
        repo.commit_messages[sha] = message
        if branch is not None:
            repo.refs[f"heads/{branch}"] = sha
            repo.files.setdefault(branch, dict(repo.files.get(repo.default_branch, {})))
        return sha

    def put_file(self, full_name: str, path: str, content: str | bytes, branch: str | None = None) -> None:
        repo = self.repo(full_name)
        data = content.encode() if isinstance(content, str) else content
        repo.files.setdefault(branch or repo.default_branch, {})[path] = data

    def add_pull(
        self,
        full_name: str,
        *,
        head_sha: str,
        user: str = "data-scientist",
        head_ref: str = "feature",
        base_ref: str = "main",
        title: str = "Promote a model",
        body: str = "",
        files: list[str] | list[dict[str, Any]] | None = None,
    ) -> Pull:
        repo = self.repo(full_name)
        self.add_user(user)
        number = next(repo.numbers)
        entries = [{"filename": f, "status": "modified"} if isinstance(f, str) else f for f in files or []]
        pull = Pull(
            number=number,
            title=title,
            body=body,
            user=user,
            head_ref=head_ref,
            head_sha=head_sha,
            base_ref=base_ref,
            base_sha=repo.refs.get(f"heads/{base_ref}", fake_sha(base_ref)),
            files=entries,
        )
        repo.pulls[number] = pull
        repo.issues[number] = Issue(number=number, title=title, body=body, user=user)
        repo.commit_messages.setdefault(head_sha, title)
        repo.refs.setdefault(f"heads/{head_ref}", head_sha)
        return pull

    def merge_pull(self, full_name: str, number: int, merge_commit_sha: str) -> Pull:
        """Merge as GitHub does on the merge button: the PR closes as merged and its merge commit
        becomes the head of the base branch."""
        repo = self.repo(full_name)
        pull = repo.pulls[number]
        self.add_commit(full_name, merge_commit_sha, f"Merge pull request #{number}", branch=pull.base_ref)
        pull.state, pull.merged, pull.merge_commit_sha, pull.updated_at = (
            "closed",
            True,
            merge_commit_sha,
            now_iso(),
        )
        return pull

    def add_review(
        self,
        full_name: str,
        number: int,
        *,
        user: str,
        state: str = "APPROVED",
        commit_id: str,
        body: str = "",
    ) -> Review:
        repo = self.repo(full_name)
        self.add_user(user)
        review = Review(
            id=next(self._ids), user=user, state=state, commit_id=commit_id, body=body, submitted_at=now_iso()
        )
        repo.reviews.setdefault(number, []).append(review)
        return review

    def add_team_member(self, org: str, team_slug: str, login: str, role: str = "member") -> None:
        self.add_user(login)
        self.teams.setdefault((org, team_slug), {})[login] = role

    def add_collaborator(self, full_name: str, login: str, permission: str = "write") -> None:
        self.add_user(login)
        self.repo(full_name).collaborators[login] = permission

    # Fault injection -----------------------------------------------------------------------------
    def fail(
        self,
        operation_id: str,
        status: int,
        *,
        times: int = 1,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        after: int = 0,
    ) -> None:
        """After AFTER calls that go through, the next TIMES calls to OPERATION_ID ("*" for any) answer
        STATUS with MESSAGE."""
        default = {401: "Bad credentials", 403: "Resource not accessible by integration", 404: "Not Found"}
        self.faults.append(
            Fault(
                operation_id,
                status,
                times,
                message or default.get(status, "Validation Failed"),
                headers or {},
                passing=after,
            )
        )

    def rate_limit(self, operation_id: str, *, times: int = 1, reset_in: int = 30) -> None:
        """Primary rate limit: 403 with X-RateLimit-Remaining: 0 and X-RateLimit-Reset = now + RESET_IN."""
        headers = {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Used": "5000",
            "X-RateLimit-Reset": str(int(time.time()) + reset_in),
            "X-RateLimit-Resource": "core",
        }
        self.fail(
            operation_id,
            403,
            times=times,
            message="API rate limit exceeded for installation.",
            headers=headers,
        )

    def too_many_requests(self, operation_id: str, *, times: int = 1, retry_after: int = 7) -> None:
        """Secondary rate limit: 429 with Retry-After seconds."""
        message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        self.fail(operation_id, 429, times=times, message=message, headers={"Retry-After": str(retry_after)})

    def interrupt_upload(self, after_bytes: int, *, times: int = 1) -> None:
        """The next TIMES asset uploads drop the connection after AFTER_BYTES of the body, leaving an
        asset in state `open` behind, as an interrupted upload does on GitHub."""
        self.faults.append(
            Fault("repos/upload-release-asset", 0, times, "interrupted", interrupt_after=after_bytes)
        )

    def _take_fault(self, operation_id: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.operation_id in (operation_id, "*"):
                if fault.passing > 0:
                    fault.passing -= 1
                    return None
                fault.remaining -= 1
                return fault
        return None

    # Assertions ----------------------------------------------------------------------------------
    def calls(self, operation_id: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if operation_id is None or r.operation_id == operation_id]

    def take_violations(self) -> list[str]:
        """Return and forget the violations seen so far (for tests that provoke one on purpose)."""
        with self._lock:
            found, self.violations = self.violations, []
            return found

    def asset_bytes(self, full_name: str, tag: str, name: str) -> bytes:
        repo = self.repo(full_name)
        release = next(r for r in repo.releases.values() if r.tag_name == tag)
        return next(a.data for a in repo.assets.values() if a.release_id == release.id and a.name == name)

    # Asset storage (not the API: where a 302 of get-release-asset points) -------------------------
    STORAGE = "/storage/"

    def storage_url(self, repo: Repo, asset: Asset) -> str:
        return f"{self.url}{self.STORAGE}{repo.full_name}/{asset.id}"

    def _serve_storage(self, request: _Handler, method: str, path: str) -> None:
        """The bytes of an asset, to anyone holding the URL (GitHub's storage URLs are signed, and
        refuse a request that carries the API token)."""
        request.read_body()
        full_name, _, asset_id = path.removeprefix(self.STORAGE).rpartition("/")
        with self._lock:
            repo = self.repos.get(full_name.lower())
            asset = repo.assets.get(int(asset_id)) if repo is not None and asset_id.isdigit() else None
        self._record(method, path, {}, None, 200 if asset else 404, None, None)
        if method != "GET" or asset is None:
            request.send(404, {"message": "Not Found"}, {})
            return
        if request.headers.get("Authorization"):
            self._violation(f"{method} {path}: the storage URL was fetched with the API token")
            request.send(400, {"message": "Only one auth mechanism allowed"}, {})
            return
        request.send_bytes(200, asset.data, asset.content_type)

    # HTTP entry ----------------------------------------------------------------------------------
    def handle_http(self, request: _Handler) -> None:
        path, query = request.split_target()
        method = request.command
        if path.startswith(self.STORAGE):
            self._serve_storage(request, method, path)
            return
        matched = contract.match_operation(method, path)
        if matched is None:
            request.read_body()
            self._record(method, path, query, None, 404, None, None)
            self._violation(f"{method} {path}: no operation in GitHub's OpenAPI description matches")
            request.send(404, {"message": "Not Found", "documentation_url": DOCS}, {})
            return
        op, params = matched
        login = self._authenticate(request.headers.get("Authorization", ""))
        if login is None:
            request.read_body()
            message = (
                "Requires authentication" if not request.headers.get("Authorization") else "Bad credentials"
            )
            self._reply(
                request, op, method, path, query, None, None, (401, ApiError(401, message).body(), {})
            )
            return
        with self._lock:
            fault = self._take_fault(op.operation_id)
        if fault is not None and fault.interrupt_after is not None:
            self._interrupt(request, op, params, query, login, fault.interrupt_after)
            return
        raw = request.read_body()
        body = self._parse(raw, request.headers.get("Content-Type", ""))
        if fault is not None:
            response = (fault.status, ApiError(fault.status, fault.message).body(), dict(fault.headers))
            self._reply(request, op, method, path, query, body, login, response)
            return
        problems = contract.check_parameters(op, params, query)
        problems += contract.check_request_body(op, request.headers.get("Content-Type", ""), raw)
        if problems:
            self._violation(f"{method} {path} ({op.operation_id}) request: " + "; ".join(problems))
            self._record(method, path, query, op.operation_id, 500, body, login)
            request.send(500, {"message": "contract violation in request: " + "; ".join(problems)}, {})
            return
        ctx = Ctx(op, params, query, body, raw, login, dict(request.headers.items()))
        self._reply(request, op, method, path, query, body, login, self._run(ctx))

    def _run(self, ctx: Ctx) -> Response:
        handler = HANDLERS.get(ctx.op.operation_id)
        if handler is None:
            self._violation(f"{ctx.op.operation_id}: documented by GitHub but not implemented by the double")
            return 501, {"message": f"github double does not implement {ctx.op.operation_id}"}, {}
        with self._lock:
            try:
                return handler(self, ctx)
            except ApiError as exc:
                return exc.status, exc.body(), {}

    def _reply(
        self,
        request: _Handler,
        op: contract.Operation,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        login: str | None,
        response: Response,
    ) -> None:
        status, payload, headers = response
        headers = dict(headers)
        if isinstance(payload, list) and status == 200:
            payload, link = self._paginate(path, query, payload)
            if link:
                headers["Link"] = link
        if status < 300 and payload is not None:
            schema = op.response_schema(status)
            if schema:
                payload = contract.fill(schema, payload, self.url)
            payload = with_body_media(payload, request.headers.get("Accept", ""))
        if status < 500 or status == 501:
            problems = contract.check_response(op, status, payload)
            if problems:
                self._violation(f"{method} {path} ({op.operation_id}) response: " + "; ".join(problems))
                status, payload = 500, {"message": "contract violation in response: " + "; ".join(problems)}
        headers.setdefault("X-RateLimit-Limit", "5000")
        headers.setdefault("X-RateLimit-Remaining", "4999")
        headers.setdefault("X-GitHub-Request-Id", f"DOUBLE:{len(self.requests)}")
        self._record(method, path, query, op.operation_id, status, body, login)
        request.send(status, payload, headers)

    def _interrupt(
        self,
        request: _Handler,
        op: contract.Operation,
        params: dict[str, str],
        query: dict[str, str],
        login: str,
        after: int,
    ) -> None:
        partial = request.read_body(limit=after)
        with self._lock:
            repo = self.repos.get(f"{params['owner']}/{params['repo']}".lower())
            release_id = int(params["release_id"])
            if repo is not None and release_id in repo.releases and "name" in query:
                stamp = now_iso()
                asset = Asset(
                    id=next(self._ids),
                    release_id=release_id,
                    name=query["name"],
                    label=query.get("label"),
                    content_type=request.headers.get("Content-Type", "application/octet-stream"),
                    data=partial,
                    state="open",
                    uploader=login,
                    created_at=stamp,
                    updated_at=stamp,
                )
                repo.assets[asset.id] = asset
        self._record(request.command, urlpath(request), query, op.operation_id, 0, len(partial), login)
        request.drop_connection()

    def _authenticate(self, header: str) -> str | None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token.strip():
            return None
        return self.tokens.get(token.strip())

    @staticmethod
    def _parse(raw: bytes, content_type: str) -> Any:
        if not raw:
            return None
        if "json" in content_type or raw[:1] in (b"{", b"["):
            try:
                return json.loads(raw)
            except ValueError:
                return None
        return len(raw)

    def _paginate(self, path: str, query: dict[str, str], items: list[Any]) -> tuple[list[Any], str]:
        per_page = min(int(query.get("per_page", "30")), 100)
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        if page * per_page >= len(items):
            return chunk, ""
        rest = "&".join(f"{k}={v}" for k, v in query.items() if k not in ("page", "per_page"))
        link = f"{self.url}{path}?{rest + '&' if rest else ''}per_page={per_page}&page={page + 1}"
        return chunk, f'<{link}>; rel="next"'

    def _record(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        operation_id: str | None,
        status: int,
        body: Any,
        login: str | None,
    ) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, operation_id, status, body, login))

    def _violation(self, message: str) -> None:
        with self._lock:
            self.violations.append(message)

    # Lookups used by handlers --------------------------------------------------------------------
    def _repo(self, ctx: Ctx) -> Repo:
        repo = self.repos.get(f"{ctx.params['owner']}/{ctx.params['repo']}".lower())
        if repo is None:
            raise ApiError(404, "Not Found")
        return repo

    def _next_id(self) -> int:
        return next(self._ids)

    # JSON shapes ---------------------------------------------------------------------------------
    def user_json(self, login: str) -> dict[str, Any]:
        user = self.add_user(login)
        base = f"{self.url}/users/{login}"
        return {
            "login": login,
            "id": user.id,
            "node_id": f"U_{user.id}",
            "avatar_url": f"{self.url}/avatars/{login}",
            "gravatar_id": "",
            "url": base,
            "html_url": f"{self.url}/html/{login}",
            "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}",
            "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs",
            "repos_url": f"{base}/repos",
            "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events",
            "type": user.type,
            "site_admin": False,
        }

    def repo_url(self, repo: Repo) -> str:
        return f"{self.url}/repos/{repo.full_name}"

    def repo_json(self, repo: Repo) -> dict[str, Any]:
        url = self.repo_url(repo)
        return {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.user_json(repo.owner),
            "private": repo.private,
            "html_url": f"{self.url}/html/{repo.full_name}",
            "url": url,
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "archive_url": f"{url}/{{archive_format}}{{/ref}}",
            "releases_url": f"{url}/releases{{/id}}",
            "pulls_url": f"{url}/pulls{{/number}}",
            "issues_url": f"{url}/issues{{/number}}",
            "statuses_url": f"{url}/statuses/{{sha}}",
            "contents_url": f"{url}/contents/{{+path}}",
            "git_refs_url": f"{url}/git/refs{{/sha}}",
            "deployments_url": f"{url}/deployments",
            "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        }

    def release_json(self, repo: Repo, release: Release) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/releases/{release.id}"
        assets = [a for a in repo.assets.values() if a.release_id == release.id]
        return {
            "url": url,
            "html_url": f"{self.url}/html/{repo.full_name}/releases/tag/{release.tag_name}",
            "assets_url": f"{url}/assets",
            "upload_url": f"{url}/assets{{?name,label}}",
            "tarball_url": f"{self.repo_url(repo)}/tarball/{release.tag_name}",
            "zipball_url": f"{self.repo_url(repo)}/zipball/{release.tag_name}",
            "id": release.id,
            "node_id": f"RE_{release.id}",
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "body": release.body,
            "draft": release.draft,
            "prerelease": release.prerelease,
            "created_at": release.created_at,
            "published_at": release.published_at,
            "author": self.user_json(release.author),
            "assets": [self.asset_json(repo, a) for a in assets],
        }

    def asset_json(self, repo: Repo, asset: Asset) -> dict[str, Any]:
        release = repo.releases[asset.release_id]
        return {
            "url": f"{self.repo_url(repo)}/releases/assets/{asset.id}",
            "browser_download_url": (
                f"{self.url}/html/{repo.full_name}/releases/download/{release.tag_name}/{asset.name}"
            ),
            "id": asset.id,
            "node_id": f"RA_{asset.id}",
            "name": asset.name,
            "label": asset.label,
            "state": asset.state,
            "content_type": asset.content_type,
            "size": len(asset.data),
            "digest": asset.digest,
            "download_count": 0,
            "created_at": asset.created_at,
            "updated_at": asset.updated_at,
            "uploader": self.user_json(asset.uploader),
        }

    def branch_json(self, repo: Repo, ref: str) -> dict[str, Any]:
        sha = repo.refs.get(f"heads/{ref}", fake_sha(ref))
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user_json(repo.owner),
            "repo": self.repo_json(repo),
        }

    def pull_json(self, repo: Repo, pull: Pull) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/pulls/{pull.number}"
        head = self.branch_json(repo, pull.head_ref) | {"sha": pull.head_sha}
        base = self.branch_json(repo, pull.base_ref) | {"sha": pull.base_sha}
        closed = pull.state == "closed"
        return {
            "url": url,
            "id": 10_000 + pull.number,
            "node_id": f"PR_{pull.number}",
            "html_url": f"{self.url}/html/{repo.full_name}/pull/{pull.number}",
            "diff_url": f"{self.url}/html/{repo.full_name}/pull/{pull.number}.diff",
            "patch_url": f"{self.url}/html/{repo.full_name}/pull/{pull.number}.patch",
            "issue_url": f"{self.repo_url(repo)}/issues/{pull.number}",
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{self.repo_url(repo)}/pulls/comments{{/number}}",
            "comments_url": f"{self.repo_url(repo)}/issues/{pull.number}/comments",
            "statuses_url": f"{self.repo_url(repo)}/statuses/{pull.head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.user_json(pull.user),
            "body": pull.body,
            "labels": [],
            "milestone": None,
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.updated_at if closed else None,
            "merged_at": pull.updated_at if pull.merged else None,
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": head,
            "base": base,
            "author_association": "CONTRIBUTOR",
            "auto_merge": None,
            "draft": pull.draft,
            "merged": pull.merged,
            "mergeable": True,
            "mergeable_state": "clean",
            "merged_by": None,
            "comments": sum(1 for c in repo.comments.values() if c.issue_number == pull.number),
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": sum(int(f.get("additions", 1)) for f in pull.files),
            "deletions": sum(int(f.get("deletions", 1)) for f in pull.files),
            "changed_files": len(pull.files),
            "_links": {
                name: {"href": href}
                for name, href in {
                    "self": url,
                    "html": f"{self.url}/html/{repo.full_name}/pull/{pull.number}",
                    "issue": f"{self.repo_url(repo)}/issues/{pull.number}",
                    "comments": f"{self.repo_url(repo)}/issues/{pull.number}/comments",
                    "review_comments": f"{url}/comments",
                    "review_comment": f"{self.repo_url(repo)}/pulls/comments{{/number}}",
                    "commits": f"{url}/commits",
                    "statuses": f"{self.repo_url(repo)}/statuses/{pull.head_sha}",
                }.items()
            },
        }

    def label_json(self, repo: Repo, name: str) -> dict[str, Any]:
        label_id = abs(hash((repo.full_name, name))) % 10**9
        return {
            "id": label_id,
            "node_id": f"LA_{label_id}",
            "url": f"{self.repo_url(repo)}/labels/{name}",
            "name": name,
            "description": None,
            "color": "ededed",
            "default": False,
        }

    def issue_json(self, repo: Repo, issue: Issue) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/issues/{issue.number}"
        data: dict[str, Any] = {
            "id": 20_000 + issue.number,
            "node_id": f"I_{issue.number}",
            "url": url,
            "repository_url": self.repo_url(repo),
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.url}/html/{repo.full_name}/issues/{issue.number}",
            "number": issue.number,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "title": issue.title,
            "body": issue.body,
            "user": self.user_json(issue.user),
            "labels": [self.label_json(repo, name) for name in issue.labels],
            "assignee": self.user_json(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user_json(a) for a in issue.assignees],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": sum(1 for c in repo.comments.values() if c.issue_number == issue.number),
            "closed_at": issue.closed_at,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "author_association": "OWNER",
        }
        if issue.number in repo.pulls:
            html = f"{self.url}/html/{repo.full_name}/pull/{issue.number}"
            data["pull_request"] = {
                "url": f"{self.repo_url(repo)}/pulls/{issue.number}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": None,
            }
        return data

    def comment_json(self, repo: Repo, comment: Comment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "node_id": f"IC_{comment.id}",
            "url": f"{self.repo_url(repo)}/issues/comments/{comment.id}",
            "html_url": f"{self.url}/html/{repo.full_name}/issues/{comment.issue_number}#issuecomment-{comment.id}",
            "issue_url": f"{self.repo_url(repo)}/issues/{comment.issue_number}",
            "body": comment.body,
            "body_text": comment.body,
            "body_html": comment.body,
            "user": self.user_json(comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "author_association": "MEMBER",
        }

    def review_json(self, repo: Repo, number: int, review: Review) -> dict[str, Any]:
        html = f"{self.url}/html/{repo.full_name}/pull/{number}#pullrequestreview-{review.id}"
        return {
            "id": review.id,
            "node_id": f"PRR_{review.id}",
            "user": self.user_json(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": f"{self.repo_url(repo)}/pulls/{number}",
            "_links": {
                "html": {"href": html},
                "pull_request": {"href": f"{self.repo_url(repo)}/pulls/{number}"},
            },
            "submitted_at": review.submitted_at,
            "commit_id": review.commit_id,
            "author_association": "MEMBER",
        }

    def status_json(self, repo: Repo, status: Status) -> dict[str, Any]:
        return {
            "url": f"{self.repo_url(repo)}/statuses/{status.sha}",
            "avatar_url": None,
            "id": status.id,
            "node_id": f"SC_{status.id}",
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": status.created_at,
            "updated_at": status.updated_at,
            "creator": self.user_json(status.creator),
        }

    def check_run_json(self, repo: Repo, run: CheckRun) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/check-runs/{run.id}"
        output = {"title": None, "summary": None, "text": None, **run.output}
        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": f"CR_{run.id}",
            "external_id": run.external_id,
            "url": url,
            "html_url": f"{self.url}/html/{repo.full_name}/runs/{run.id}",
            "details_url": run.details_url,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": run.started_at,
            "completed_at": run.completed_at,
            "output": {
                "title": output["title"],
                "summary": output["summary"],
                "text": output["text"],
                "annotations_count": len(output.get("annotations", []) or []),
                "annotations_url": f"{url}/annotations",
            },
            "name": run.name,
            "check_suite": {"id": 1},
            "app": None,
            "pull_requests": [],
        }

    def deployment_json(self, repo: Repo, dep: Deployment) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/deployments/{dep.id}"
        return {
            "url": url,
            "id": dep.id,
            "node_id": f"DE_{dep.id}",
            "sha": dep.sha,
            "ref": dep.ref,
            "task": dep.task,
            "payload": dep.payload,
            "original_environment": dep.environment,
            "environment": dep.environment,
            "description": dep.description,
            "creator": self.user_json(dep.creator),
            "created_at": dep.created_at,
            "updated_at": dep.updated_at,
            "statuses_url": f"{url}/statuses",
            "repository_url": self.repo_url(repo),
            "transient_environment": dep.transient_environment,
            "production_environment": dep.production_environment,
        }

    def deployment_status_json(self, repo: Repo, dep: Deployment, status: DeploymentStatus) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/deployments/{dep.id}"
        return {
            "url": f"{url}/statuses/{status.id}",
            "id": status.id,
            "node_id": f"DES_{status.id}",
            "state": status.state,
            "creator": self.user_json(status.creator),
            "description": status.description,
            "environment": status.environment,
            "target_url": status.log_url,
            "created_at": status.created_at,
            "updated_at": status.updated_at,
            "deployment_url": url,
            "repository_url": self.repo_url(repo),
            "environment_url": status.environment_url,
            "log_url": status.log_url,
        }

    def content_json(self, repo: Repo, path: str, data: bytes, ref: str) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/contents/{path}?ref={ref}"
        sha = blob_sha(data)
        git_url = f"{self.repo_url(repo)}/git/blobs/{sha}"
        html_url = f"{self.url}/html/{repo.full_name}/blob/{ref}/{path}"
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": base64.b64encode(data).decode(),
            "sha": sha,
            "url": url,
            "git_url": git_url,
            "html_url": html_url,
            "download_url": f"{self.url}/raw/{repo.full_name}/{ref}/{path}",
            "_links": {"git": git_url, "html": html_url, "self": url},
        }

    def ref_json(self, repo: Repo, ref: str) -> dict[str, Any]:
        sha = repo.refs[ref]
        return {
            "ref": f"refs/{ref}",
            "node_id": f"REF_{ref}",
            "url": f"{self.repo_url(repo)}/git/refs/{ref}",
            "object": {"type": "commit", "sha": sha, "url": f"{self.repo_url(repo)}/git/commits/{sha}"},
        }

    def commit_json(self, repo: Repo, sha: str) -> dict[str, Any]:
        url = f"{self.repo_url(repo)}/commits/{sha}"
        person = {"name": "Test Author", "email": "author@example.com", "date": now_iso()}
        return {
            "url": url,
            "sha": sha,
            "node_id": f"C_{sha[:8]}",
            "html_url": f"{self.url}/html/{repo.full_name}/commit/{sha}",
            "comments_url": f"{url}/comments",
            "commit": {
                "url": f"{self.repo_url(repo)}/git/commits/{sha}",
                "author": person,
                "committer": person,
                "message": repo.commit_messages.get(sha, "commit"),
                "comment_count": 0,
                "tree": {"sha": fake_sha(sha, "tree"), "url": f"{self.repo_url(repo)}/git/trees/{sha}"},
            },
            "author": None,
            "committer": None,
            "parents": [],
        }


def with_body_media(payload: Any, accept: str) -> Any:
    """GitHub's body media types: `application/vnd.github.v3.full+json` adds body_html and body_text
    (github3.py asks for it), `.html+json` body_html, `.text+json` body_text."""
    keys = {"full": ("body_html", "body_text"), "html": ("body_html",), "text": ("body_text",)}
    wanted = next((v for k, v in keys.items() if f".{k}+json" in accept), ())
    if not wanted:
        return payload
    if isinstance(payload, list):
        return [with_body_media(item, accept) for item in payload]
    if isinstance(payload, dict) and "body" in payload:
        body = payload["body"]
        extra = {"body_html": None if body is None else f"<p>{body}</p>", "body_text": body}
        return payload | {k: extra[k] for k in wanted}
    return payload


def urlpath(request: _Handler) -> str:
    return request.split_target()[0]


@contextmanager
def running_double() -> Iterator[GitHubDouble]:
    """A started double; on exit it stops and fails if any contract violation was recorded."""
    from tests.github_double import handlers  # noqa: F401  (registers the operation handlers)

    double = GitHubDouble().start()
    try:
        yield double
    finally:
        double.stop()
    violations = double.take_violations()
    assert not violations, "GitHub API double saw contract violations:\n" + "\n".join(violations)
