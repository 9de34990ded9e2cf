"""Go's flag spellings and messages on click, in-process: confpy.cli.clickflags on a small app."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.testing import CliRunner

from confpy.cli.app import app
from confpy.cli.clickflags import GoCommand, GoGroup, bool_flags, normalize, option, value_flags
from confpy.config.settings import SETTINGS


def test_go_boolean_spellings_are_accepted() -> None:
    root = typer.main.get_command(app)
    bools = bool_flags(root.make_context("confpy", [], resilient_parsing=True))
    assert bools == {"onetime", "watch", "noop", "sync-only", "keep-stage-file", "basic-auth", "version"}
    assert normalize(["-onetime=true", "--noop=false", "-node=http://x", "-watch=1"], bools) == [
        "-onetime",
        "-node=http://x",
        "-watch",
    ]


def test_a_value_flag_s_value_is_left_alone() -> None:
    # `-prefix -noop=true` was read as `-prefix -noop`: the prefix "-noop", where Go's is "-noop=true".
    root = typer.main.get_command(app)
    valued = value_flags(root.make_context("confpy", [], resilient_parsing=True))
    assert valued == {s.flag for s in SETTINGS if s.takes_value}
    assert normalize(["-prefix", "-noop=true", "-noop=1"], {"noop"}, valued) == [
        "-prefix",
        "-noop=true",
        "-noop",
    ]
    assert normalize(["-prefix=-x", "-noop=true"], {"noop"}, valued) == ["-prefix=-x", "-noop"]


def test_a_command_s_own_arguments_after_the_double_dash_are_left_alone() -> None:
    assert normalize(["-noop=TRUE", "--", "-noop=true"], {"noop"}) == ["-noop", "--", "-noop=true"]
    assert normalize(["-noop=maybe", "-other=true"], {"noop"}) == ["-noop=maybe", "-other=true"]


def _tiny() -> typer.Typer:
    tiny = typer.Typer(
        cls=GoGroup, add_completion=False, context_settings={"help_option_names": ["-h", "--help"]}
    )

    @tiny.callback(invoke_without_command=True)
    def main(
        node: Annotated[list[str] | None, option("node", "a node", "URL")] = None,
        dry: Annotated[bool, option("dry", "change nothing")] = False,
    ) -> None:
        typer.echo(f"node={node} dry={dry}")

    @tiny.command(cls=GoCommand)
    def sub(confdir: Annotated[str, option("confdir", "a dir", "DIR")] = "/etc") -> None:
        typer.echo(f"confdir={confdir}")

    return tiny


def test_go_spellings_of_values_and_bools_reach_the_command() -> None:
    runner = CliRunner()
    result = runner.invoke(_tiny(), ["-node=a", "--node", "b", "-dry=true"])
    assert result.exit_code == 0, result.output
    assert result.output == "node=['a', 'b'] dry=True\n"
    assert runner.invoke(_tiny(), ["-dry=false"]).output == "node=None dry=False\n"


def test_unknown_and_valueless_flags_read_as_go_says_them() -> None:
    runner = CliRunner()
    cases = [
        (["-nodes", "x"], "flag provided but not defined: -nodes (did you mean -node?)"),
        (["--dryy"], "flag provided but not defined: -dryy (did you mean -dry?)"),
        (["-n"], "flag provided but not defined: -n (did you mean -node?)"),
        (["sub", "-confdirr", "/x"], "flag provided but not defined: -confdirr (did you mean -confdir?)"),
        (["-node"], "flag needs an argument: -node"),
    ]
    for args, message in cases:
        result = runner.invoke(_tiny(), args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
