"""The `modelcd` command line. Thin: parse arguments, call the library, render.

Commands are registered by dotted path and imported only when invoked, so `modelcd validate` never
imports mlflow, bentoml or boto3.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
import traceback
from typing import Any

import click

from cd.errors import EXIT_UNEXPECTED, ModelcdError

# command name -> "module:attribute" of a click.Command. One line per command.
COMMANDS: dict[str, str] = {
    "validate": "cd.cli.config_commands:validate",
    "plan": "cd.cli.config_commands:plan",
    "deploy": "cd.cli.rollout_commands:deploy",
    "status": "cd.cli.rollout_commands:status",
    "reconcile": "cd.cli.rollout_commands:reconcile",
    "required-check": "cd.cli.github_commands:required_check",
    "abort": "cd.cli.rollout_commands:abort",
    "pause": "cd.cli.rollout_commands:pause",
    "resume": "cd.cli.rollout_commands:resume",
    "matrix": "cd.cli.github_commands:matrix",
    "comment": "cd.cli.github_commands:comment",
    "status-checks": "cd.cli.github_commands:status_checks",
    "approvals": "cd.cli.github_commands:approvals",
    "override": "cd.cli.github_commands:override",
    "promote": "cd.cli.github_commands:promote",
    "rollback": "cd.cli.github_commands:rollback",
    "diff": "cd.cli.github_commands:diff",
    "drift": "cd.cli.github_commands:drift",
    "monitor": "cd.cli.monitor_commands:monitor",
    "experiment": "cd.cli.experiment_commands:experiment",
    "local": "cd.cli.local_commands:local",
    "build": "cd.cli.package_commands:build",
    "release": "cd.cli.release_commands:release",
    "gate": "cd.cli.gate_commands:gate",
    "demo": "cd.cli.demo_commands:demo",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ModelcdError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # the last resort: never a bare traceback unless asked
            if isinstance(ctx.obj, dict) and ctx.obj.get("debug"):
                traceback.print_exc()
            else:
                click.echo(f"unexpected error: {type(exc).__name__}: {exc}", err=True)
                click.echo("rerun with --debug for the full traceback", err=True)
            ctx.exit(EXIT_UNEXPECTED)


@click.group(cls=LazyGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks for unexpected errors.")
@click.version_option(package_name="modelcd", prog_name="modelcd")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """modelcd: GitOps continuous delivery for machine-learning models."""
    ctx.obj = {"debug": debug or bool(os.environ.get("MODELCD_DEBUG"))}
    # MLflow draws a tqdm bar for every artifact download wherever tqdm is installed (shap brings it):
    # redrawn lines that fill Actions logs and job summaries. modelcd says what it downloads itself.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def entry() -> None:
    """The `modelcd` process: run the command, then leave without finalizing the interpreter.

    Finalizing clears every module and frees every object left. After a command that imported SciPy,
    pandas and pyarrow, that alone costs 0.3-0.5 s, a tenth of `modelcd monitor`'s budget. First, the
    exit handlers run (logging's flush among them) and stdout and stderr are flushed, so nothing a user
    or a file would see is skipped. While another thread still runs, or a profiler, debugger or
    coverage tracer watches (they write their results after the program returns), the process exits the
    usual way."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # a message for Python to print
        code = exc.code or 0
    if threading.active_count() > 1 or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)
