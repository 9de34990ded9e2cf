"""Go's flag rules (confpy.cli.goflags) on click, for what the typer app parses.

Every place where click and Go's flag package differ is redone here, and only here:
- a flag is `-name` or `--name`, and takes its value as `-name value` or `-name=value` (`option`);
- a boolean flag is also spelt `-name=true` / `-name=false` (`normalize`);
- an unknown flag is named as Go names it (goflags.unknown_flag); click would read `-nodes` as the
  short options `-n -o -d ...` and say "No such option: -n";
- a flag without its value reads as in Go (goflags.needs_argument);
- the help flags are listed in one order (click keeps them in a set, whose order changes from run
  to run).
The app (confpy.cli.app) builds its commands with `GoGroup`, `GoCommand` and `option`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from confpy.cli.goflags import bool_value, needs_argument, unknown_flag

__all__ = ["GoCommand", "GoGroup", "bool_flags", "normalize", "option", "value_flags"]


def option(flag: str, help: str, metavar: str = "VALUE") -> Any:
    """A typer option spelt as confd spells it, `-flag`, and also `--flag`."""
    return typer.Option(f"-{flag}", f"--{flag}", help=help, show_default=False, metavar=metavar)


class _GoFlags:
    """What GoGroup and GoCommand add to typer's classes."""

    def get_help_option_names(self, ctx: Any) -> list[str]:
        names: list[str] = super().get_help_option_names(ctx)  # type: ignore[misc]
        return sorted(names, key=ctx.help_option_names.index)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = normalize(args, bool_flags(ctx), value_flags(ctx))
        given = list(args)  # click's parser consumes the list it is given
        try:
            return super().parse_args(ctx, args)  # type: ignore[misc, no-any-return]
        except Exception as exc:
            better = _unknown_flag_error(exc, ctx, given)
            if better is None:
                raise
            raise better from None


class GoGroup(_GoFlags, TyperGroup):
    """A typer group (the main command) with Go's flag spellings and messages."""


class GoCommand(_GoFlags, TyperCommand):
    """A typer subcommand with Go's flag spellings and messages."""


def bool_flags(ctx: Any) -> frozenset[str]:
    """The names (without dash) of the command's boolean flags: those that take no value and
    reach the command (not the help and completion options, which click handles itself)."""
    return frozenset(
        opt[1:]
        for param in ctx.command.get_params(ctx)
        if getattr(param, "is_flag", False) and param.expose_value
        for opt in param.opts
        if not opt.startswith("--")
    )


def value_flags(ctx: Any) -> frozenset[str]:
    """The names (without dash) of the command's flags that take a value."""
    return frozenset(
        opt[1:]
        for param in ctx.command.get_params(ctx)
        if param.param_type_name == "option"
        and not getattr(param, "is_flag", False)
        and not getattr(param, "count", False)
        for opt in param.opts
        if not opt.startswith("--")
    )


def normalize(argv: list[str], bools: Collection[str], valued: Collection[str] = ()) -> list[str]:
    """Go's `-flag=true` / `-flag=false` (also `1` / `0`, and with two dashes) of the boolean
    flags `bools`, as click takes them: `-flag`, or nothing. The value of a flag in `valued` is
    left as it is, whatever it looks like (`-prefix -noop=true`)."""
    out: list[str] = []
    value_next = False
    for index, arg in enumerate(argv):
        if value_next:
            value_next = False
            out.append(arg)
            continue
        if arg == "--":  # what follows is a command's own arguments (`confpy exec -- ...`)
            return out + argv[index:]
        name, sep, value = arg.lstrip("-").partition("=")
        value_next = arg.startswith("-") and not sep and name in valued
        given = bool_value(value) if arg.startswith("-") and sep and name in bools else None
        if given is None:
            out.append(arg)
        elif given:
            out.append(f"-{name}")
    return out


def _unknown_flag_error(exc: Exception, ctx: Any, args: list[str]) -> Exception | None:
    """click's NoSuchOption or missing value, redone in the words of Go's flag package."""
    option: str = getattr(exc, "option_name", "") or ""
    # Matched by name: recent typer vendors click (typer._click), older ones that confpy also
    # allows use click itself, so the class lives in one module or the other.
    kind = type(exc).__name__
    if kind == "BadOptionUsage" and "requires an argument" in str(getattr(exc, "message", "")):
        return type(exc)(option, needs_argument(option), ctx=ctx)  # type: ignore[call-arg]
    if kind != "NoSuchOption" or not option:
        return None
    takes_no_value: dict[str, bool] = {}
    for param in ctx.command.get_params(ctx):
        for opt in (*param.opts, *param.secondary_opts):
            takes_no_value[opt] = bool(getattr(param, "is_flag", False) or getattr(param, "count", False))
    name = option if option.startswith("--") else _short_option_arg(option, args, takes_no_value)
    if name is None:
        return None
    known = [opt for opt in takes_no_value if not opt.startswith("--")]
    flag = "-" + name.lstrip("-")
    return type(exc)(flag, message=unknown_flag(name, known), ctx=ctx)  # type: ignore[call-arg]


def _short_option_arg(short: str, args: list[str], takes_no_value: dict[str, bool]) -> str | None:
    """The argument that click split into the short options of which `short` is unknown."""
    value_next = False
    for arg in args:
        if arg == "--":
            break
        if value_next:  # the value of the option before it, even if it starts with a dash
            value_next = False
            continue
        name, sep, _ = arg.partition("=")
        if name in takes_no_value:
            value_next = not takes_no_value[name] and not sep
        elif arg.startswith(short) and not arg.startswith("--"):
            return name
    return None
