"""`LocalEndpoints`: the rollout controller's target on this machine.

Each variant is a real server process (by default `bentoml serve` of the variant's Bento) on a free
loopback port; a weighted router in front of them speaks SageMaker runtime's InvokeEndpoint protocol and
records per-variant metrics. The state file (`<state_dir>/state.json`) is this target's "control plane":
endpoints, variants, weights, and the rollout record (what SageMaker keeps in endpoint tags).

Changes are synchronous: when `apply_variants` or `set_weights` returns, the router routes by the new
weights (it was told to reload and read back). So `observe` reports `InService` at once. A variant
process that crashed is *not* a broken endpoint: the router answers its share of traffic with 5xx
`ModelError`s, which is what canary analysis must see.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cd.config.model import NativeTraffic
from cd.errors import TargetError
from cd.rollout.local import processes
from cd.rollout.local.runtime import RouterClient, ensure_router, router_is_up
from cd.rollout.local.statefile import EndpointState, LocalState, ManagedProcess, StateFile, VariantState
from cd.rollout.record import revision_of
from cd.rollout.target import (
    LatencyStatistic,
    ObservedEndpoint,
    ObservedVariant,
    RecordConflictError,
    VariantMetrics,
    VariantSpec,
)


class ServeSpec(Protocol):
    """How to start a server: `cd.package.ServeCommand` has this shape."""

    @property
    def argv(self) -> list[str]: ...

    @property
    def env(self) -> Mapping[str, str]: ...

    @property
    def cwd(self) -> Path | None: ...


if TYPE_CHECKING:
    from cd.config.model import LocalTargetConfig

# (image, port) -> how to start a process that serves `image` on 127.0.0.1:port (GET /ping,
# POST /invocations): a ServeSpec, or just an argv.
ServeCommand = Callable[[str, int], "ServeSpec | Sequence[str]"]

TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
TAG_CHARS = re.compile(r"^[A-Za-z0-9 _.:/=+\-@]*$")
STATISTIC_KEYS: Mapping[str, str] = {"Average": "average", "p50": "p50", "p90": "p90", "p99": "p99"}


class BentoServe:
    """The default serve command: `bentoml serve <Bento tag or directory>` via `cd.package`, each Bento
    in its own environment, built from its own requirements (cached under `environments`), as its
    image would run it. Without `environments`: this interpreter (tests of the serving code only)."""

    def __init__(self, bentoml_home: Path | None = None, environments: Path | None = None) -> None:
        self.bentoml_home = bentoml_home
        self.environments = environments

    def __call__(self, image: str, port: int) -> ServeSpec:
        from cd.package import serve_command
        from cd.package.environment import bento_dir, ensure_environment

        bento: str | Path = Path(image) if Path(image).is_dir() else image
        python = None
        if self.environments is not None:
            folder = bento if isinstance(bento, Path) else bento_dir(self._home(), bento)
            python = ensure_environment(folder, self.environments)
        return serve_command(bento, port, bentoml_home=self.bentoml_home, host="127.0.0.1", python=python)

    def _home(self) -> Path:
        if self.bentoml_home is None:
            raise TargetError(
                "serving a Bento tag in its own environment needs the BentoML home that holds it"
            )
        return self.bentoml_home


def config_name(variants: Sequence[VariantSpec], weights: Mapping[str, float]) -> str:
    """A content hash of a variant set and its initial weights: the same request, the same name."""
    content = [
        [v.name, v.model_version, v.image, v.instance_type, v.instance_count, float(weights.get(v.name, 0.0))]
        for v in sorted(variants, key=lambda v: v.name)
    ]
    return "local-" + hashlib.sha256(json.dumps(content).encode()).hexdigest()[:16]


class LocalEndpoints:
    """Implements `cd.rollout.target.Target` with processes on loopback. See the module docstring."""

    look_seconds = 1.0  # the router has every request as it happens

    def __init__(
        self,
        state_dir: Path,
        *,
        serve_command: ServeCommand | None = None,
        ready_timeout: float = 180.0,
        upstream_timeout: float = 60.0,
        router_seed: int | None = None,
        env: Mapping[str, str] | None = None,
        capture_percentage: int | None = None,
    ) -> None:
        self.state_file = StateFile(Path(state_dir))
        self.serve_command: ServeCommand = serve_command or BentoServe()
        self.ready_timeout = ready_timeout
        self.upstream_timeout = upstream_timeout
        self.router_seed = router_seed
        self.env = dict(env or {})
        self.capture_percentage = capture_percentage

    @classmethod
    def from_config(cls, target: LocalTargetConfig, repo_root: Path, **options: Any) -> LocalEndpoints:
        """The target an environment's `target: {kind: local, ...}` names, for the repository at `repo_root`.

        Bentos are served from the repository's BentoML home (`<repo>/.modelcd/bentoml`), where
        `modelcd build` puts them, each in its own environment (`<repo>/.modelcd/bento-envs/<hash>`).
        """
        from cd.package import default_bentoml_home
        from cd.package.environment import ENVIRONMENTS_DIR

        home = default_bentoml_home(repo_root)
        options.setdefault("serve_command", BentoServe(home, home.parent / ENVIRONMENTS_DIR))
        return cls(repo_root / target.state_dir, **options)

    # ------------------------------------------------------------------ helpers
    def _with_router(self, state: LocalState) -> LocalState:
        return ensure_router(
            self.state_file, state, seed=self.router_seed, upstream_timeout=self.upstream_timeout
        )

    def _router(self) -> RouterClient:
        state = self.state_file.read()
        if state.router is None:
            raise TargetError(f"no local router recorded in {self.state_file.path}")
        return RouterClient(state.router.url)

    def _endpoint(self, state: LocalState, endpoint: str) -> EndpointState:
        ep = state.endpoint(endpoint)
        if ep is None:
            raise TargetError(
                f"local endpoint {endpoint!r} does not exist (state file {self.state_file.path})"
            )
        return ep

    def _sync_router(self, endpoint: str, expected: Mapping[str, float]) -> None:
        """Tell the router to reload and check it now routes `endpoint` by `expected` weights."""
        routes = self._router().reload().get(endpoint, {})
        got = {name: float(v["weight"]) for name, v in routes.items()}
        if got != {k: float(w) for k, w in expected.items()}:
            raise TargetError(
                f"local router did not take the weights for {endpoint}: asked {expected}, routes {got}"
            )

    # ------------------------------------------------------------------ Target
    def observe(self, endpoint: str) -> ObservedEndpoint | None:
        state = self.state_file.read()
        ep = state.endpoint(endpoint)
        if ep is None:
            return None
        if state.router is None or not _router_up(state):
            with self.state_file.locked():
                state = self._with_router(self.state_file.read())
            ep = self._endpoint(state, endpoint)
        routes = self._router().routes().get(endpoint, {})
        dead = [
            f"{v.name} (pid {v.process.pid})"
            for v in ep.variants.values()
            if not processes.is_alive(v.process)
        ]
        observed = {
            v.name: ObservedVariant(
                name=v.name,
                model_version=v.model_version,
                image=v.image,
                desired_weight=v.weight,
                current_weight=float(routes[v.name]["weight"]) if v.name in routes else 0.0,
                instance_type=v.instance_type,
                instance_count=v.instance_count,
            )
            for v in ep.variants.values()
        }
        shadows = [v.name for v in ep.variants.values() if v.shadow]
        return ObservedEndpoint(
            name=endpoint,
            status="InService",
            config_name=ep.config_name,
            variants=tuple(observed[n] for n in sorted(observed) if n not in shadows),
            record=dict(ep.tags),
            failure_reason=f"variant processes not running: {', '.join(dead)}" if dead else "",
            shadow=observed[shadows[0]] if shadows else None,
        )

    def apply_variants(
        self,
        endpoint: str,
        variants: Sequence[VariantSpec],
        weights: Mapping[str, float],
        shadow: VariantSpec | None = None,
        traffic: NativeTraffic | None = None,
    ) -> str:
        if traffic is not None:  # as config validation says: only SageMaker shifts by itself
            raise TargetError(f"local endpoint {endpoint!r}: the local target has no native traffic shifting")
        _check_weights(weights, {v.name for v in variants}, endpoint)
        if not variants:
            raise TargetError(f"local endpoint {endpoint!r}: at least one variant is required")
        every = [*variants, *([shadow] if shadow is not None else [])]
        if len({v.name for v in every}) != len(every):
            raise TargetError(f"local endpoint {endpoint!r}: variant names must be unique")
        if shadow is not None and len(variants) != 1:
            raise TargetError(  # as SageMaker: one production variant beside a shadow
                f"local endpoint {endpoint!r}: a shadow variant needs exactly one production variant"
            )
        name = config_name(variants, weights) + (f"+shadow-{shadow.name}" if shadow is not None else "")
        with self.state_file.locked():
            state = self._with_router(self.state_file.read())
            current = state.endpoint(endpoint) or EndpointState(name=endpoint)
            new_variants: dict[str, VariantState] = {}
            for spec in every:
                in_shadow = spec is shadow
                existing = current.variants.get(spec.name)
                if (
                    existing is not None
                    and existing.image == spec.image
                    and processes.is_alive(existing.process)
                ):
                    new_variants[spec.name] = replace(
                        existing,
                        weight=float(weights.get(spec.name, 0.0)),
                        instance_type=spec.instance_type,
                        instance_count=spec.instance_count,
                        shadow=in_shadow,
                    )
                else:
                    state, started = self._start_variant(
                        state, endpoint, spec, float(weights.get(spec.name, 0.0))
                    )
                    new_variants[spec.name] = replace(started, shadow=in_shadow)
            replaced = [v for v in current.variants.values() if new_variants.get(v.name) != v]
            updated = replace(
                current, config_name=name, variants=new_variants, capture_percentage=self.capture_percentage
            )
            state = state.with_endpoint(updated)
            self.state_file.write_unlocked(state)
            self._sync_router(endpoint, {v.name: v.weight for v in new_variants.values()})
            # The router no longer sends anything to replaced or removed variants: stop them.
            live = {v.process.pid for v in new_variants.values()}
            stale = [v for v in replaced if v.process.pid not in live]
            for old in stale:
                processes.stop(old.process)
            state = state.without_processes(str(v.process.pid) for v in stale)
            self.state_file.write_unlocked(state)
        return name

    def _start_variant(
        self, state: LocalState, endpoint: str, spec: VariantSpec, weight: float
    ) -> tuple[LocalState, VariantState]:
        """Start a server for `spec`, registered in the state before we wait for it to be ready."""
        log = self.state_file.dir / "logs" / f"{endpoint}-{spec.name}.log"
        last_error: TargetError | None = None
        for _attempt in range(3):  # a free port can be taken before the server binds it
            port = processes.free_port()
            argv, env, cwd = _serve_parts(self.serve_command(spec.image, port))
            proc = processes.start_detached(
                argv, log, env={**env, **self.env}, cwd=cwd, marker=self.state_file.dir
            )
            managed = ManagedProcess("variant", port, proc, endpoint, spec.name, str(log), argv)
            state = state.with_process(managed)
            self.state_file.write_unlocked(state)
            try:
                processes.wait_ready(
                    proc, f"http://127.0.0.1:{port}", timeout=self.ready_timeout, log_path=log
                )
            except TargetError as exc:
                processes.stop(proc, grace_seconds=2.0)
                state = state.without_processes([managed.key])
                self.state_file.write_unlocked(state)
                last_error = exc
                if "address already in use" in str(exc).lower():
                    continue
                raise TargetError(
                    f"local endpoint {endpoint!r}: variant {spec.name} ({spec.image}) did not start: {exc}"
                ) from exc
            variant = VariantState(
                name=spec.name,
                port=port,
                process=proc,
                weight=weight,
                model_version=spec.model_version,
                image=spec.image,
                instance_type=spec.instance_type,
                instance_count=spec.instance_count,
                log=str(log),
            )
            return state, variant
        raise TargetError(f"local endpoint {endpoint!r}: variant {spec.name} did not start: {last_error}")

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None:
        with self.state_file.locked():
            state = self._with_router(self.state_file.read())
            ep = self._endpoint(state, endpoint)
            _check_weights(weights, {n for n, v in ep.variants.items() if not v.shadow}, endpoint)
            variants = {
                name: replace(v, weight=float(weights[name])) if name in weights else v
                for name, v in ep.variants.items()
            }
            self.state_file.write_unlocked(state.with_endpoint(replace(ep, variants=variants)))
            self._sync_router(endpoint, {name: v.weight for name, v in variants.items()})

    def write_record(
        self, endpoint: str, record: Mapping[str, str], *, expect_revision: str | None = None
    ) -> None:
        for key, value in record.items():
            _check_tag(endpoint, key, value)
        with self.state_file.locked():  # the compare and the set under one lock
            state = self.state_file.read()
            ep = self._endpoint(state, endpoint)
            current = revision_of(ep.tags)
            if expect_revision is not None and current != expect_revision:
                raise RecordConflictError(
                    f"local endpoint {endpoint}: rollout record is at revision {current}, "
                    f"not {expect_revision} as read: another writer changed it"
                )
            self.state_file.write_unlocked(state.with_endpoint(replace(ep, tags={**ep.tags, **record})))

    def read_metrics(
        self, endpoint: str, variant: str, start: datetime, end: datetime, statistic: LatencyStatistic
    ) -> VariantMetrics:
        if start.tzinfo is None or end.tzinfo is None:
            raise TargetError("read_metrics needs timezone-aware datetimes")
        data = self._router().metrics(endpoint, variant, start.timestamp(), end.timestamp(), samples=True)
        window = data["variants"][variant]
        latency = window["latency_ms"]
        return VariantMetrics(
            invocations=float(window["invocations"]),
            errors_4xx=float(window["errors_4xx"]),
            errors_5xx=float(window["errors_5xx"]),
            latency_ms=None if latency is None else float(latency[STATISTIC_KEYS[statistic]]),
            statistic=statistic,
            latencies_ms=tuple(float(v) for v in window.get("latency_samples_ms", ())),
            comparisons=_comparisons(window),
            shadow_scores=_shadow_scores(window),
        )

    def alarms_in_alarm(self, names: Sequence[str]) -> tuple[str, ...]:
        if names:
            raise TargetError(
                f"the local target has no CloudWatch alarms, but the environment names {', '.join(names)}; "
                "remove `alarms:` from the analysis policy of a local environment"
            )
        return ()

    def cleanup(self, endpoint: str, keep: Sequence[VariantSpec]) -> tuple[str, ...]:
        """Stop this endpoint's processes that serve nothing (leftovers of interrupted runs)."""
        deleted: list[str] = []
        with self.state_file.locked():
            state = self.state_file.read()
            ep = state.endpoint(endpoint)
            live = {v.process.pid for v in ep.variants.values()} if ep is not None else set()
            for managed in list(state.processes.values()):
                if managed.role != "variant" or managed.endpoint != endpoint or managed.process.pid in live:
                    continue
                processes.stop(managed.process)
                state = state.without_processes([managed.key])
                deleted.append(f"process {managed.process.pid} ({managed.variant}, port {managed.port})")
            self.state_file.write_unlocked(state)
        return tuple(deleted)


def _serve_parts(spec: ServeSpec | Sequence[str]) -> tuple[tuple[str, ...], Mapping[str, str], Path | None]:
    if isinstance(spec, Sequence):
        return tuple(spec), {}, None
    return tuple(spec.argv), dict(spec.env), spec.cwd


def _comparisons(window: Mapping[str, Any]) -> tuple[tuple[bool, float], ...] | None:
    shadow = window.get("shadow")
    if shadow is None:
        return None
    return tuple((bool(d), float(x)) for d, x in shadow["comparisons"])


def _shadow_scores(window: Mapping[str, Any]) -> tuple[tuple[float, float], ...] | None:
    shadow = window.get("shadow")
    return None if shadow is None else tuple((float(a), float(b)) for a, b in shadow["scores"])


def _router_up(state: LocalState) -> bool:
    return state.router is not None and router_is_up(state.router)


def _check_weights(weights: Mapping[str, float], variants: set[str], endpoint: str) -> None:
    unknown = sorted(set(weights) - variants)
    if unknown:
        raise TargetError(f"local endpoint {endpoint!r} has no variant {', '.join(unknown)}")
    negative = sorted(name for name, w in weights.items() if w < 0)
    if negative:
        raise TargetError(f"local endpoint {endpoint!r}: negative weight for {', '.join(negative)}")


def _check_tag(endpoint: str, key: str, value: str) -> None:
    """The record must fit where SageMaker keeps it (endpoint tags), so both targets accept the same."""
    if not key or len(key) > TAG_KEY_MAX or not TAG_CHARS.match(key):
        raise TargetError(f"local endpoint {endpoint!r}: record key {key!r} is not a valid tag key")
    if len(value) > TAG_VALUE_MAX or not TAG_CHARS.match(value):
        raise TargetError(f"local endpoint {endpoint!r}: record value for {key!r} is not a valid tag value")
