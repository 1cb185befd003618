"""The local target's running pieces: the router process (start or reuse), its control API, status, down.

Everything started here is registered in the state file before we wait for it, so `down` finds it even
if the command that started it was killed half-way.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cd.errors import TargetError
from cd.rollout.local import processes
from cd.rollout.local.statefile import LocalState, ManagedProcess, ProcessRef, RouterState, StateFile
from cd.rollout.target import TargetTransientError

ROUTER_READY_TIMEOUT = 30.0
CONTROL_TIMEOUT = 10.0


class RouterClient:
    """The router's control API (`/_modelcd/...`) over loopback HTTP."""

    def __init__(self, url: str, *, timeout: float = CONTROL_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout

    def _call(self, method: str, path: str) -> Any:
        import urllib3

        try:
            response = urllib3.request(method, f"{self.url}{path}", timeout=self.timeout, retries=False)
        except urllib3.exceptions.HTTPError as exc:
            raise TargetTransientError(
                f"local router at {self.url} did not answer {method} {path}: {exc}"
            ) from exc
        if response.status != 200:
            raise TargetError(
                f"local router at {self.url}: {method} {path} -> {response.status} "
                f"{response.data.decode(errors='replace')[:300]}"
            )
        return json.loads(response.data)

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_modelcd/health")
        return result

    def reload(self) -> dict[str, dict[str, dict[str, float]]]:
        """Make the router re-read the state file now; returns the routes it then uses."""
        result: dict[str, dict[str, dict[str, float]]] = self._call("POST", "/_modelcd/reload")
        return result

    def routes(self) -> dict[str, dict[str, dict[str, float]]]:
        result: dict[str, dict[str, dict[str, float]]] = self._call("GET", "/_modelcd/routes")
        return result

    def metrics(
        self, endpoint: str, variant: str, start: float, end: float, *, samples: bool = False
    ) -> dict[str, Any]:
        from urllib.parse import urlencode

        fields = {"endpoint": endpoint, "variant": variant, "start": repr(start), "end": repr(end)}
        query = urlencode({**fields, "samples": "1"} if samples else fields)
        result: dict[str, Any] = self._call("GET", f"/_modelcd/metrics?{query}")
        return result


def router_is_up(router: RouterState) -> bool:
    """The recorded router process is alive and the server on its port is that process."""
    if not processes.is_alive(router.process):
        return False
    try:
        health = RouterClient(router.url, timeout=2.0).health()
    except TargetError:
        return False
    return bool(health.get("pid") == router.process.pid)


def router_argv(state_dir: Path, port: int, *, seed: int | None, upstream_timeout: float) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "cd.rollout.local.router",
        "--state-dir",
        str(state_dir),
        "--port",
        str(port),
    ]
    argv += ["--upstream-timeout", repr(upstream_timeout)]
    return argv + ([] if seed is None else ["--seed", str(seed)])


# How long a restart waits for the dead router's port (its last connections closing) before it says
# the port is taken.
PORT_RELEASE_SECONDS = 10.0


def ensure_router(
    state_file: StateFile, state: LocalState, *, seed: int | None = None, upstream_timeout: float = 60.0
) -> LocalState:
    """Return `state` with a running router, starting one if the recorded one is not up.

    The caller holds `state_file.locked()`; the new router is registered in the file before we wait.
    """
    if state.router is not None and router_is_up(state.router):
        return state
    recorded: int | None = None
    if state.router is not None:  # restarted on the port it had: the endpoints' address never moves
        recorded = state.router.port
        processes.stop(state.router.process, grace_seconds=2.0)
        state = state.without_processes([str(state.router.process.pid)])
        if not processes.port_frees(recorded, within=PORT_RELEASE_SECONDS):
            raise TargetError(
                f"the local router's port {recorded} (the address every local endpoint is served at, "
                f"recorded in {state_file.path}) is taken by another process; stop that process, or run "
                "`modelcd local down` to start again on a new port"
            )
    project_root = Path(__file__).resolve().parents[3]
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(project_root), os.environ.get("PYTHONPATH")) if p)}
    log = state_file.dir / "logs" / "router.log"
    last_error: TargetError | None = None
    for _attempt in range(1 if recorded else 3):  # a free port may be taken between choosing and binding it
        port = recorded or processes.stable_port(str(state_file.dir.resolve()))
        argv = router_argv(state_file.dir.resolve(), port, seed=seed, upstream_timeout=upstream_timeout)
        proc = processes.start_detached(argv, log, env=env, marker=state_file.dir)
        router = RouterState(port=port, process=proc, log=str(log))
        state = replace(state, router=router).with_process(
            ManagedProcess(role="router", port=port, process=proc, log=str(log), argv=tuple(argv))
        )
        state_file.write_unlocked(state)
        try:
            processes.wait_ready(proc, router.url, timeout=ROUTER_READY_TIMEOUT, log_path=log)
            return state
        except TargetError as exc:
            last_error = exc
            processes.stop(proc, grace_seconds=1.0)
            state = replace(state, router=None).without_processes([str(proc.pid)])
            state_file.write_unlocked(state)
    raise TargetError(f"could not start the local router: {last_error}")


def register_router(state_file: StateFile, port: int, process: ProcessRef) -> None:
    """Record an already-running router (e.g. one a test runs in-process with an injected clock)."""
    state_file.update(lambda s: replace(s, router=RouterState(port=port, process=process)))


# ---------------------------------------------------------------- status and down


@dataclass(frozen=True)
class ProcessStatus:
    role: str
    endpoint: str
    variant: str
    pid: int
    port: int
    alive: bool
    weight: float | None  # variants only
    model_version: int | None
    image: str
    log: str


@dataclass(frozen=True)
class LocalStatus:
    state_dir: str
    router_url: str | None
    router_up: bool
    processes: tuple[ProcessStatus, ...]
    records: dict[str, dict[str, str]]  # endpoint -> rollout record

    def to_json(self) -> dict[str, Any]:
        return {
            "state_dir": self.state_dir,
            "router": {"url": self.router_url, "up": self.router_up},
            "processes": [p.__dict__ for p in self.processes],
            "records": self.records,
        }


def status(state_dir: Path) -> LocalStatus:
    """What the state file says runs, checked against the live processes."""
    state = StateFile(state_dir).read()
    rows: list[ProcessStatus] = []
    for managed in state.processes.values():
        variant = None
        if managed.role == "variant":
            ep = state.endpoint(managed.endpoint)
            variant = ep.variants.get(managed.variant) if ep is not None else None
            if variant is not None and variant.process.pid != managed.process.pid:
                variant = None  # a leftover process of a replaced variant
        rows.append(
            ProcessStatus(
                role=managed.role,
                endpoint=managed.endpoint,
                variant=managed.variant,
                pid=managed.process.pid,
                port=managed.port,
                alive=processes.is_alive(managed.process),
                weight=None if variant is None else variant.weight,
                model_version=None if variant is None else variant.model_version,
                image="" if variant is None else variant.image,
                log=managed.log,
            )
        )
    rows.sort(key=lambda r: (r.role != "router", r.endpoint, r.variant, r.pid))
    router = state.router
    return LocalStatus(
        state_dir=str(state_dir),
        router_url=None if router is None else router.url,
        router_up=router is not None and router_is_up(router),
        processes=tuple(rows),
        records={name: dict(ep.tags) for name, ep in state.endpoints.items()},
    )


def down(state_dir: Path) -> tuple[ProcessRef, ...]:
    """Stop every process the local target started (variants first, then the router); clear the state.

    Returns the processes that were stopped. Safe to run again, and when nothing runs.
    """
    state_file = StateFile(state_dir)
    if not state_file.path.exists():
        return _stop_marked(state_dir)
    with state_file.locked():
        try:
            state = state_file.read()
        except TargetError:
            return _recover(state_file)
        managed = sorted(state.processes.values(), key=lambda p: p.role == "router")
        refs = [p.process for p in managed]
        if state.router is not None and state.router.process not in refs:
            refs.append(state.router.process)
        for ep in state.endpoints.values():
            refs.extend(v.process for v in ep.variants.values() if v.process not in refs)
        stopped = []
        for ref in refs:
            if processes.is_ourselves(ref.pid):
                continue  # an in-process router (tests): never signal our own process group
            if processes.is_alive(ref):
                stopped.append(ref)
            processes.stop(ref)
        state_file.write_unlocked(LocalState())
    return tuple(stopped)


def _stop_marked(state_dir: Path) -> tuple[ProcessRef, ...]:
    """Stop every process that names `state_dir` in its environment (whatever the state file says)."""
    found = processes.marked(state_dir)
    groups = {group for group in map(processes.group_of, (r.pid for r in found)) if group is not None}
    for group in sorted(groups - {os.getpgrp()}):  # each leader with its workers; never our own group
        processes.stop(ProcessRef(group, processes.process_start_time(group)), grace_seconds=5.0)
    return found


def _recover(state_file: StateFile) -> tuple[ProcessRef, ...]:
    """The state file is unreadable: stop what it would have listed (found by their marker), keep the
    bad file aside for a look, and start from an empty state. The caller holds the lock."""
    import time

    aside = state_file.path.with_name(f"{state_file.path.name}.unreadable-{int(time.time())}")
    state_file.path.replace(aside)
    stopped = _stop_marked(state_file.dir)
    state_file.write_unlocked(LocalState())
    return stopped


DEFAULT_STATE_DIR = ".modelcd/local"


def state_dirs_of_repo(root: Path) -> tuple[Path, ...]:
    """The state directories of every local-target environment in the repository at `root`.

    Falls back to the default `.modelcd/local` when the configuration cannot be loaded (so `down`
    still works in a broken checkout) or names no local environment.
    """
    from cd.config import load_repo
    from cd.config.model import LocalTargetConfig
    from cd.errors import ModelcdError

    try:
        config = load_repo(root)
    except ModelcdError:
        return (root / DEFAULT_STATE_DIR,)
    dirs = sorted(
        {
            (root / env.target.state_dir).resolve()
            for env in config.environments.values()
            if isinstance(env.target, LocalTargetConfig)
        }
    )
    return tuple(dirs) or (root / DEFAULT_STATE_DIR,)
