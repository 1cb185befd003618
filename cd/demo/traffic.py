"""Traffic for the demo's canaries: replays rows of the churn test set through the local router with
boto3's `sagemaker-runtime` client while `modelcd deploy` runs, as production traffic would."""

from __future__ import annotations

from typing import Any

from cd.demo.workspace import Workspace

STATE_DIR = ".modelcd/local"


class DemoTraffic:
    """Rows of the churn test set, each request with an inference id (`<prefix>-<row>`) that data capture
    keeps; `charge_shift` moves every customer's monthly charges (the drift the monitor must find)."""

    def __init__(
        self,
        ws: Workspace,
        endpoint: str,
        *,
        max_seconds: float,
        concurrency: int = 2,
        prefix: str = "demo",
        charge_shift: float = 0.0,
    ) -> None:
        self.ws = ws
        self.endpoint = endpoint
        self.max_seconds = max_seconds
        self.concurrency = concurrency
        self.prefix = prefix
        self.charge_shift = charge_shift
        self._traffic: Any = None
        self._report: Any = None

    def start(self) -> None:
        import pandas as pd

        from cd.rollout.local.runtime import status
        from cd.rollout.local.traffic import BackgroundTraffic, rows_from

        router = status(self.ws.root / STATE_DIR).router_url
        if router is None:
            raise RuntimeError(f"no local router in {self.ws.root / STATE_DIR}: deploy something first")
        test = pd.read_csv(self.ws.root / "data" / "churn_test.csv").drop(columns=["churned"])
        test["monthly_charges"] = (test["monthly_charges"] + self.charge_shift).round(2)
        rows = rows_from(test)
        self._traffic = BackgroundTraffic(
            router,
            self.endpoint,
            rows,
            max_requests=len(rows),  # every inference id once
            max_seconds=self.max_seconds,
            concurrency=self.concurrency,
            inference_ids=[f"{self.prefix}-{i}" for i in range(len(rows))],
        ).start()

    def write_labels(self, path: Any) -> int:
        """The outcomes of the rows sent so far, joined later by inference id (as a feedback table would)."""
        import pandas as pd

        test = pd.read_csv(self.ws.root / "data" / "churn_test.csv")
        sent = int(self.report().get("sent", len(test)))
        labels = pd.DataFrame(
            {"inference_id": [f"{self.prefix}-{i}" for i in range(len(test))], "churned": test["churned"]}
        )
        labels.head(sent).to_csv(path, index=False)
        return sent

    def stop(self) -> None:
        if self._traffic is not None:
            self._report = self._traffic.stop()

    def wait(self) -> None:
        """Until every row was sent once, or max_seconds passed."""
        if self._traffic is not None:
            self._report = self._traffic.wait()

    def report(self) -> dict[str, Any]:
        """What was sent and answered, by variant (after `stop`)."""
        return {} if self._report is None else dict(self._report.to_json())

    def summary(self) -> str:
        data = self.report()
        if not data:
            return "no traffic"
        parts = [
            f"{name}: {tally['succeeded']} ok, {tally['model_errors']} failed"
            for name, tally in data["by_variant"].items()
        ]
        return f"{data['sent']} requests in {data['seconds']:.0f} s ({'; '.join(parts)})"
