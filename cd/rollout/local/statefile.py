"""The local target's state file: router, endpoints, variants (port, pid, weight) and record tags.

One small JSON file, `<state_dir>/state.json`. Every change is a read-modify-write under an exclusive
`flock` on `<state_dir>/state.lock`, and the new content is written to a temp file in the same directory
and moved into place with `os.replace`, so a reader (the router hot-reloading weights, `modelcd local
status`) sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cd.errors import TargetError
from cd.files import write_atomic

STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ProcessRef:
    """A process we started: its pid and the kernel's start time for it (guards against pid reuse)."""

    pid: int
    start_time: int | None = None  # /proc/<pid>/stat field 22 (clock ticks since boot), when known


@dataclass(frozen=True)
class ManagedProcess:
    """A server process the local target started and owns (stopped by cleanup or `local down`)."""

    role: str  # "router" or "variant"
    port: int
    process: ProcessRef
    endpoint: str = ""
    variant: str = ""
    log: str = ""
    argv: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return str(self.process.pid)


@dataclass(frozen=True)
class VariantState:
    """One production variant of an endpoint: what it serves, where, and its traffic weight."""

    name: str
    port: int
    process: ProcessRef
    weight: float
    model_version: int | None = None
    image: str = ""  # Bento tag or path it serves
    instance_type: str = "local"
    instance_count: int = 1
    log: str = ""  # log file of the process
    shadow: bool = False  # gets a copy of the endpoint's requests; never answers a client

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class EndpointState:
    name: str
    config_name: str = ""  # content hash of the variant set last applied
    variants: Mapping[str, VariantState] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    capture_percentage: int | None = None  # the router captures this share of requests (None: none)

    def with_variant(self, variant: VariantState) -> EndpointState:
        return replace(self, variants={**self.variants, variant.name: variant})

    def without_variant(self, name: str) -> EndpointState:
        return replace(self, variants={k: v for k, v in self.variants.items() if k != name})


@dataclass(frozen=True)
class RouterState:
    port: int
    process: ProcessRef
    log: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class LocalState:
    router: RouterState | None = None
    endpoints: Mapping[str, EndpointState] = field(default_factory=dict)
    processes: Mapping[str, ManagedProcess] = field(default_factory=dict)  # by pid, every one we started

    def with_process(self, proc: ManagedProcess) -> LocalState:
        return replace(self, processes={**self.processes, proc.key: proc})

    def without_processes(self, keys: Iterable[str]) -> LocalState:
        drop = set(keys)
        return replace(self, processes={k: p for k, p in self.processes.items() if k not in drop})

    def endpoint(self, name: str) -> EndpointState | None:
        return self.endpoints.get(name)

    def with_endpoint(self, endpoint: EndpointState) -> LocalState:
        return replace(self, endpoints={**self.endpoints, endpoint.name: endpoint})

    def without_endpoint(self, name: str) -> LocalState:
        return replace(self, endpoints={k: v for k, v in self.endpoints.items() if k != name})


# ---------------------------------------------------------------- JSON (de)serialisation


def _process_to_json(p: ProcessRef) -> dict[str, Any]:
    return {"pid": p.pid, "start_time": p.start_time}


def _process_from_json(d: Mapping[str, Any]) -> ProcessRef:
    return ProcessRef(pid=int(d["pid"]), start_time=d.get("start_time"))


def _variant_to_json(v: VariantState) -> dict[str, Any]:
    return {
        "port": v.port,
        "process": _process_to_json(v.process),
        "weight": v.weight,
        "model_version": v.model_version,
        "image": v.image,
        "instance_type": v.instance_type,
        "instance_count": v.instance_count,
        "log": v.log,
        **({"shadow": True} if v.shadow else {}),
    }


def _variant_from_json(name: str, d: Mapping[str, Any]) -> VariantState:
    version = d.get("model_version")
    return VariantState(
        name=name,
        port=int(d["port"]),
        process=_process_from_json(d["process"]),
        weight=float(d["weight"]),
        model_version=None if version is None else int(version),
        image=str(d.get("image", "")),
        instance_type=str(d.get("instance_type", "local")),
        instance_count=int(d.get("instance_count", 1)),
        log=str(d.get("log", "")),
        shadow=bool(d.get("shadow", False)),
    )


def _managed_to_json(p: ManagedProcess) -> dict[str, Any]:
    return {
        "role": p.role,
        "port": p.port,
        "process": _process_to_json(p.process),
        "endpoint": p.endpoint,
        "variant": p.variant,
        "log": p.log,
        "argv": list(p.argv),
    }


def _managed_from_json(d: Mapping[str, Any]) -> ManagedProcess:
    return ManagedProcess(
        role=str(d["role"]),
        port=int(d["port"]),
        process=_process_from_json(d["process"]),
        endpoint=str(d.get("endpoint", "")),
        variant=str(d.get("variant", "")),
        log=str(d.get("log", "")),
        argv=tuple(d.get("argv", ())),
    )


def state_to_json(state: LocalState) -> dict[str, Any]:
    router = state.router
    return {
        "format": FORMAT_VERSION,
        "router": None
        if router is None
        else {"port": router.port, "process": _process_to_json(router.process), "log": router.log},
        "endpoints": {
            name: {
                "config_name": ep.config_name,
                "tags": dict(ep.tags),
                "variants": {v.name: _variant_to_json(v) for v in ep.variants.values()},
                **({"capture": ep.capture_percentage} if ep.capture_percentage is not None else {}),
            }
            for name, ep in state.endpoints.items()
        },
        "processes": {key: _managed_to_json(p) for key, p in state.processes.items()},
    }


def state_from_json(data: Mapping[str, Any]) -> LocalState:
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"format {data.get('format')!r}, expected {FORMAT_VERSION}")
    r = data.get("router")
    router = (
        None
        if r is None
        else RouterState(port=int(r["port"]), process=_process_from_json(r["process"]), log=r.get("log", ""))
    )
    endpoints = {
        name: EndpointState(
            name=name,
            config_name=str(ep.get("config_name", "")),
            tags={str(k): str(v) for k, v in ep.get("tags", {}).items()},
            variants={vname: _variant_from_json(vname, v) for vname, v in ep.get("variants", {}).items()},
            capture_percentage=None if ep.get("capture") is None else int(ep["capture"]),
        )
        for name, ep in data.get("endpoints", {}).items()
    }
    processes = {str(k): _managed_from_json(p) for k, p in data.get("processes", {}).items()}
    return LocalState(router=router, endpoints=endpoints, processes=processes)


# ---------------------------------------------------------------- the file


class StateFile:
    """`<state_dir>/state.json`, read lock-free (it is replaced atomically) and updated under a lock."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / STATE_FILE
        self.lock_path = self.dir / LOCK_FILE

    def read(self) -> LocalState:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return LocalState()
        try:
            return state_from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise TargetError(
                f"{self.path}: unreadable local target state ({exc}); "
                "`modelcd local down` stops what it started (found by their environment) and starts afresh"
            ) from exc

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock (blocking) for a read-modify-write across several steps."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def update(self, change: Callable[[LocalState], LocalState]) -> LocalState:
        """Apply `change` to the current state under the lock and write the result atomically."""
        with self.locked():
            new = change(self.read())
            self.write_unlocked(new)
            return new

    def write_unlocked(self, state: LocalState) -> None:
        """Write `state` atomically. Callers hold `locked()`."""
        write_atomic(self.path, json.dumps(state_to_json(state), indent=2, sort_keys=True) + "\n")
