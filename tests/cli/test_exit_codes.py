"""The CLI's error contract: 0 ok, 1 user-facing failure, 2 usage, 3 unexpected (hint to use --debug)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from cd import cli
from cd.errors import RegistryError


@click.command()
@click.argument("what")
def probe(what: str) -> None:
    """A command that fails the way it is told to."""
    if what == "user":
        raise RegistryError("model 'churn' version 9: not found")
    if what == "bug":
        raise KeyError("oops")
    click.echo("fine")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setitem(cli.COMMANDS, "probe", f"{__name__}:probe")
    return CliRunner()


def test_success_exits_0(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["probe", "ok"])
    assert (result.exit_code, result.output) == (0, "fine\n")


def test_user_facing_failure_exits_1_with_the_message(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["probe", "user"])
    assert result.exit_code == 1
    assert result.output == "error: model 'churn' version 9: not found\n"


def test_unexpected_error_exits_3_with_a_hint(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["probe", "bug"])
    assert result.exit_code == 3
    assert result.output == "unexpected error: KeyError: 'oops'\nrerun with --debug for the full traceback\n"


def test_debug_shows_the_traceback(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["--debug", "probe", "bug"])
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.output


def test_unknown_command_is_a_usage_error(runner: CliRunner) -> None:
    assert runner.invoke(cli.main, ["no-such-command"]).exit_code == 2


def test_missing_argument_is_a_usage_error(runner: CliRunner) -> None:
    assert runner.invoke(cli.main, ["probe"]).exit_code == 2


def test_every_registered_command_imports() -> None:
    group = cli.main
    assert isinstance(group, click.Group)
    ctx = click.Context(group)
    for name in cli.COMMANDS:
        assert isinstance(group.get_command(ctx, name), click.Command), name
