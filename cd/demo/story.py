"""`modelcd demo`: the promotion story a newcomer lives through, on the embedded default.

Every step is a real `modelcd` command run in a scratch git repository (its own sqlite MLflow store,
local release folder, and Bento servers behind a weighted router on 127.0.0.1). The narrative shows the
command and the numbers that matter; every report, release folder and rollout record stays in the
workspace. Interrupting it stops the serving processes (`modelcd local down`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cd.demo.workspace import Completed, DemoError, Workspace, create

MODEL = "churn"
STAGING = "staging"
PRODUCTION = "production"


@dataclass
class StageResult:
    title: str
    seconds: float
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoResult:
    workspace: Path
    stages: list[StageResult] = field(default_factory=list)

    def where(self) -> list[str]:
        """Where the story's outputs are, relative to the workspace."""
        return [
            "gate reports:     reports/v<N>/gate-staging-churn-v<N>.{json,md,html}",
            "monitor reports:  reports/monitor/monitor-staging-churn.{json,md,html}",
            "Bentos + records: artifacts/churn-v<N>.{bento,build.json}",
            "releases:         releases/churn-v<N>/ (notes, model card, verdict, SHA256SUMS)",
            "rollout records:  .modelcd/rollouts/",
            "MLflow store:     mlflow.db (MLFLOW_TRACKING_URI=sqlite:///"
            + str(self.workspace / "mlflow.db")
            + ")",
            "git history:      git -C " + str(self.workspace) + " log --graph --oneline --all",
        ]

    def fact(self, key: str) -> Any:
        for stage in self.stages:
            if key in stage.facts:
                return stage.facts[key]
        raise KeyError(key)


Say = Callable[[str], None]


class Story:
    def __init__(self, ws: Workspace, say: Say, traffic_seconds: float, drift_seconds: float = 12.0) -> None:
        self.ws = ws
        self.say = say
        self.traffic_seconds = traffic_seconds
        self.drift_seconds = drift_seconds
        self.result = DemoResult(ws.root)
        self.versions: dict[str, int] = {}
        self.deployed_at: dict[int, float] = {}  # version -> when its deploy started (the monitor's window)

    # ------------------------------------------------------------------ narration helpers

    @contextmanager
    def stage(self, title: str) -> Iterator[dict[str, Any]]:
        self.say(f"\n[bold cyan]== {title}[/]")
        facts: dict[str, Any] = {}
        start = time.perf_counter()
        yield facts
        elapsed = time.perf_counter() - start
        self.result.stages.append(StageResult(title, elapsed, facts))
        self.say(f"[dim]   ({elapsed:.1f} s)[/]")

    def run(self, *args: str, check: bool = True) -> Completed:
        self.say(f"[green]$ modelcd {' '.join(args)}[/]")
        return self.ws.modelcd(*args, check=check)

    def show(self, text: str, limit: int = 14) -> None:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        for line in lines[:limit]:
            self.say(f"  {line}")
        if len(lines) > limit:
            self.say(f"  … ({len(lines) - limit} more lines)")

    # ------------------------------------------------------------------ building blocks

    def gate(self, version: int, out: Path) -> dict[str, Any]:
        done = self.run(
            "gate", "--env", STAGING, "--model", MODEL, "--base", "main", "--out", str(out), check=False
        )
        if done.returncode not in (0, 1):
            raise DemoError(f"modelcd gate failed to evaluate v{version}:\n{done.stderr[-3000:]}")
        self.show(done.stdout, limit=1)
        verdict_files = sorted(out.glob(f"gate-{STAGING}-{MODEL}-v{version}.json"))
        if not verdict_files:
            raise DemoError(f"modelcd gate wrote no verdict for v{version} in {out}")
        verdict: dict[str, Any] = json.loads(verdict_files[0].read_text())
        return verdict

    def build_and_release(self, version: int) -> Path:
        artifacts = self.ws.root / "artifacts"
        self.run("build", "--model", MODEL, "--version", str(version), "--out", str(artifacts))
        record = artifacts / f"{MODEL}-v{version}.build.json"
        verdicts = sorted(
            (self.ws.root / "reports").glob(f"v{version}/gate-{STAGING}-{MODEL}-v{version}.json")
        )
        extra: list[str] = []
        if verdicts:
            extra = ["--verdict", str(verdicts[0]), "--report", str(verdicts[0].with_suffix(".md"))]
        self.run(
            "release",
            "--model",
            MODEL,
            "--version",
            str(version),
            "--env",
            STAGING,
            "--publisher",
            "local",
            "--build-record",
            str(record),
            *extra,
        )
        return record

    def deploy(self, record: Path, version: int, *, traffic: bool) -> Completed:
        args = ("deploy", "--env", STAGING, "--model", MODEL, "--build-record", str(record))
        self.deployed_at[version] = time.time()
        if not traffic:
            return self.run(*args)
        with self._traffic() as report:
            done = self.run(*args, check=False)
        self.say(f"  traffic replayed during the rollout: {report()}")
        return done

    @contextmanager
    def _traffic(self) -> Iterator[Callable[[], str]]:
        from cd.demo.traffic import DemoTraffic

        traffic = DemoTraffic(self.ws, f"demo-{STAGING}-{MODEL}", max_seconds=self.traffic_seconds)
        traffic.start()
        try:
            yield traffic.summary
        finally:
            traffic.stop()

    def live(self) -> dict[str, Any]:
        done = self.run("status", "--env", STAGING, "--format", "json")
        status: dict[str, Any] = json.loads(done.stdout)
        return status

    # ------------------------------------------------------------------ the story

    def train(self) -> None:
        with self.stage("1. Train and register churn v1..v4 in MLflow") as facts:
            self.say("[green]$ python models/churn/train.py[/]")
            done = self.ws.python("models/churn/train.py", "--repo", ".")
            self.show(done.stdout)
            self.versions = _versions_by_role(done.stdout)
            self.ws.commit("Template, demo environments and the churn test set")
            facts["versions"] = dict(self.versions)

    def first_deploy(self) -> None:
        with self.stage("2. First deploy: churn v1 to staging") as facts:
            self.show(self.run("validate").stdout)
            record = self.build_and_release(1)
            done = self.deploy(record, 1, traffic=False)
            self.show(done.stdout)
            facts["first_deploy"] = done.stdout.strip()

    def promote(self, version: int, title: str, *, merge_if_passed: bool, traffic: bool) -> dict[str, Any]:
        with self.stage(title) as facts:
            branch = f"promote/{MODEL}-v{version}"
            self.ws.git("checkout", "-q", "-b", branch, "main")
            self.ws.set_version(STAGING, MODEL, version)
            self.ws.commit(f"Promote {MODEL} to v{version} in {STAGING}", f"environments/{STAGING}.yaml")
            self.say(f"  branch {branch}: environments/{STAGING}.yaml version -> {version}")
            self.run("validate")
            self.show(self.run("plan", "--base", "main").stdout)
            verdict = self.gate(version, self.ws.root / "reports" / f"v{version}")
            facts["gate"] = verdict.get("verdict")
            facts["failed_checks"] = _failed_checks(verdict)
            self.say(f"  report: reports/v{version}/gate-{STAGING}-{MODEL}-v{version}.md")
            if verdict.get("verdict") != "pass" or not merge_if_passed:
                self.say(
                    f"  [red]gate {verdict.get('verdict')}: the PR stays open; nothing is merged or deployed[/]"
                )
                for check in facts["failed_checks"][:4]:
                    self.say(f"    {check}")
                self.ws.git("checkout", "-q", "main")
                return facts
            self.ws.git("checkout", "-q", "main")
            self.ws.git("merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch)
            self.say(f"  merged {branch} into main")
            record = self.build_and_release(version)
            done = self.deploy(record, version, traffic=traffic)
            self.show(done.stdout)
            facts["deploy_exit"] = done.returncode
            facts["deploy"] = done.stdout.strip()
            facts["record"] = f".modelcd/rollouts/{STAGING}-{MODEL}-v{version}.md"
            self.say(f"  rollout record: {facts['record']}")
            rollback = next(
                (b for b in self._branches() if b.startswith(f"modelcd/rollback-{MODEL}-{STAGING}")), ""
            )
            if rollback:
                facts["rollback_branch"] = rollback
                self.say(f"  the reviewer merges {rollback}: git agrees with what is live again")
                self.ws.git("merge", "-q", "--no-ff", "-m", f"Merge {rollback}", rollback)
                self.show(self.run("diff", "--env", STAGING).stdout)
            facts["live"] = self.live_weights()
            self.say(f"  live in {STAGING}: " + ", ".join(f"{v} {w:g}%" for v, w in facts["live"].items()))
        return facts

    def _branches(self) -> list[str]:
        return self.ws.git("branch", "--list", "--format=%(refname:short)").split()

    def live_weights(self) -> dict[str, float]:
        """Variant -> weight of the staging endpoint, from the local target's status."""
        reports = json.loads(self.ws.modelcd("local", "status", "--format", "json").stdout)
        weights: dict[str, float] = {}
        for row in (p for report in reports for p in report.get("processes", [])):
            if (
                row.get("role") == "variant"
                and row.get("endpoint") == f"demo-{STAGING}-{MODEL}"
                and row.get("alive")
            ):
                weights[str(row.get("variant"))] = float(row.get("weight") or 0.0)
        return weights

    def monitor(self) -> None:
        with self.stage(
            "6. After deployment: watch v2 live (data capture, drift, live quality, lineage)"
        ) as facts:
            since = f"{int(time.time() - self.deployed_at[2]) + 5}s"
            self.say(
                "  the canaries captured each version's answers beside stable's; compare them on that window"
            )
            done = self.run("monitor", "--env", STAGING, "--since", since, check=False)
            facts["comparison_exit"] = done.returncode
            facts["comparison"] = [
                line.strip()
                for line in done.stdout.splitlines()
                if "same window" in line or "prediction:" in line
            ]
            self.show("\n".join(facts["comparison"]), limit=6)
            self.say("  now the customers change: every monthly charge is 25 higher")
            facts.update(self._drifted_traffic())
            self.show(self.run("status", "--env", STAGING, "--explain").stdout, limit=16)

    def _drifted_traffic(self) -> dict[str, Any]:
        from cd.demo.traffic import DemoTraffic

        started = time.time()
        traffic = DemoTraffic(
            self.ws,
            f"demo-{STAGING}-{MODEL}",
            max_seconds=self.drift_seconds,
            prefix="after",
            charge_shift=25.0,
        )
        traffic.start()
        traffic.wait()
        self.say(f"  traffic replayed: {traffic.summary()}")
        labels = self.ws.root / "reports" / "monitor" / "outcomes.csv"
        labels.parent.mkdir(parents=True, exist_ok=True)
        sent = traffic.write_labels(labels)
        self.say(f"  {sent} outcomes arrive later, joined by inference id: reports/monitor/outcomes.csv")
        since = f"{int(time.time() - started) + 2}s"
        out = self.ws.root / "reports" / "monitor"
        done = self.run(
            "monitor",
            "--env",
            STAGING,
            "--since",
            since,
            "--labels",
            str(labels),
            "--out",
            str(out),
            check=False,
        )
        if done.returncode not in (0, 1):
            raise DemoError(f"modelcd monitor failed:\n{done.stderr[-3000:]}")
        self.show(done.stdout, limit=12)
        report = json.loads((out / f"monitor-{STAGING}-{MODEL}.json").read_text())
        self.say(f"  report: reports/monitor/monitor-{STAGING}-{MODEL}.{{md,html,json}}")
        drifted = [f["feature"] for v in report["variants"] for f in v["features"] if f["outcome"] == "drift"]
        return {"monitor_exit": done.returncode, "drifted": drifted, "monitor": report}

    def promote_to_production(self) -> None:
        with self.stage("7. Promote staging's version to production") as facts:
            done = self.run("promote", MODEL, "--from", STAGING, "--to", PRODUCTION)
            self.show(done.stdout)
            branch = next((b for b in self._branches() if PRODUCTION in b and b not in ("main",)), "")
            diff = self.ws.git("diff", f"main...{branch}") if branch else ""
            facts["production_branch"] = branch
            facts["production_diff"] = diff
            self.show(diff, limit=20)


def _versions_by_role(text: str) -> dict[str, int]:
    versions = {}
    for line in text.splitlines():
        name, _, role = line.partition(": ")
        if name.startswith(f"{MODEL} v") and role:
            versions[role.strip()] = int(name.removeprefix(f"{MODEL} v"))
    return versions


def _failed_checks(verdict: dict[str, Any]) -> list[str]:
    """`metric on slice: reasons` for each failed check, in the verdict's order."""
    failed = [c for c in verdict.get("checks", []) if c.get("outcome") == "fail"]
    return [f"{c.get('metric')} on {c.get('slice')}: {'; '.join(c.get('reasons', []))}" for c in failed]


def run_demo(root: Path, say: Say, *, traffic_seconds: float = 90.0) -> DemoResult:
    ws = create(root)
    story = Story(ws, say, traffic_seconds)
    try:
        story.train()
        story.first_deploy()
        story.promote(
            2,
            "3. Promote churn v2 to staging: gate, merge, build, release, canary",
            merge_if_passed=True,
            traffic=True,
        )
        story.promote(3, "4. Promote churn v3: the gate blocks it", merge_if_passed=True, traffic=False)
        story.promote(
            4,
            "5. Promote churn v4: gate passes, canary analysis fails, automatic rollback",
            merge_if_passed=True,
            traffic=True,
        )
        story.monitor()
        story.promote_to_production()
    finally:
        ws.modelcd("local", "down", check=False, timeout=120)
    return story.result
