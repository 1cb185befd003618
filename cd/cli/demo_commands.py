"""`modelcd demo`: the whole promotion story on the embedded default, in a scratch workspace."""

from __future__ import annotations

import faulthandler
import signal
import time
from pathlib import Path

import click


@click.command()
@click.option(
    "--workspace",
    type=click.Path(file_okay=False),
    default="demo-workspace",
    show_default=True,
    help="Scratch directory (replaced on each run; nothing outside it is modified).",
)
@click.option(
    "--traffic-seconds",
    type=float,
    default=600.0,
    show_default=True,
    help="Upper bound on each canary's replayed traffic.",
)
def demo(workspace: str, traffic_seconds: float) -> None:
    """Train, gate, build, release and canary-deploy the example churn model, end to end."""
    from rich.console import Console

    from cd.demo.story import run_demo

    console = Console(highlight=False, soft_wrap=True)
    root = Path(workspace).resolve()
    # Ctrl-C and SIGTERM interrupt the story, so `finally` stops the serving processes. Installed
    # explicitly: a SIGINT ignored by the parent (a CI runner, a test worker) would stay ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>`: where is it now?
    start = time.perf_counter()
    result = run_demo(root, console.print, traffic_seconds=traffic_seconds)
    console.print(f"\n[bold]Done in {time.perf_counter() - start:.0f} s.[/] Everything is in {root}:")
    for line in result.where():
        console.print(f"  {line}")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
