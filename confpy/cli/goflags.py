"""Go's flag package, as confd's command line uses it: its rules and its words, in one place.

confd parses its flags with Go's `flag` package (confd.go, `flag.Parse()` in main), so confpy's
flags behave as confd users type them:
- a flag is `-name` or `--name`, and takes its value as `-name value` or `-name=value`; the value
  is the next argument, whatever it looks like (`-prefix -x`);
- a boolean flag is `-name`, also `-name=true` / `-name=false` (or `1` / `0`);
- a flag given again replaces its value, but a repeatable one (`-node`) collects them;
- the flags end at the first argument that is not one, or after `--`;
- an unknown flag is named whole, with one dash, however many were typed (`flag provided but not
  defined: -nodes`), plus the closest known flag; a flag without its value reads `flag needs an
  argument: -node`.

`parse` reads a run's flags without click (confpy.cli.main); confpy.cli.clickflags makes click,
which parses everything else, follow the same rules and say the same words.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol

from confpy.errors import closest, did_you_mean

__all__ = ["Spec", "bool_value", "needs_argument", "parse", "unknown_flag"]


class Spec(Protocol):
    """A flag as the parsers read it: the settings table's rows (confpy.config.settings.Setting)
    and the flags that are no setting (confpy.cli.command.VERSION)."""

    @property
    def name(self) -> str:
        """Where its value goes: the setting's field."""

    @property
    def flag(self) -> str:
        """The flag without its dash."""

    @property
    def help(self) -> str: ...

    @property
    def metavar(self) -> str: ...

    @property
    def takes_value(self) -> bool:
        """False for a boolean flag."""

    @property
    def repeatable(self) -> bool:
        """Given once per item (`-node A -node B`)."""


_TRUE = ("true", "1")
_FALSE = ("false", "0")


def bool_value(text: str) -> bool | None:
    """A boolean flag's `=value` as confpy takes it (`true`, `false`, `1`, `0`, in any case);
    None for any other."""
    value = text.lower()
    return True if value in _TRUE else False if value in _FALSE else None


def parse(
    argv: Sequence[str], flags: Iterable[Spec], interspersed: bool = False
) -> tuple[dict[str, Any], list[str]] | None:
    """The flags at the start of `argv`, by each flag's `name` (True for a boolean flag given, a
    list for a repeatable one; `-flag=false` counts as not given), and the arguments after them.
    `interspersed`: click's rule instead, flags also among the arguments until `--` (the sidecar
    commands `register KEY VALUE -ttl 15s`, as their help and docs/sidecar.md write them).

    None where Go's flag package would fail (an unknown flag, `---x`, a missing value, a boolean
    flag given another value): the caller hands the command line to click, which says what is
    wrong in click's usage format and in these words (confpy.cli.clickflags).
    """
    by_flag = {spec.flag: spec for spec in flags}
    values: dict[str, Any] = {}
    rest = list(argv)
    arguments: list[str] = []
    while rest:
        if not rest[0].startswith("-") or len(rest[0]) == 1:
            if not interspersed:
                break
            arguments.append(rest.pop(0))
            continue
        arg = rest.pop(0)
        if arg == "--":
            break
        name, has_value, value = arg[2 if arg.startswith("--") else 1 :].partition("=")
        spec = by_flag.get(name)
        if spec is None:
            return None
        if not spec.takes_value:
            given = bool_value(value) if has_value else True
            if given is None:
                return None
            if given:
                values[spec.name] = True
            continue
        if not has_value:
            if not rest:
                return None
            value = rest.pop(0)
        if spec.repeatable:
            values.setdefault(spec.name, []).append(value)
        else:
            values[spec.name] = value
    return values, arguments + rest


def unknown_flag(typed: str, known: Collection[str]) -> str:
    """Go's words for a flag that is not defined (`typed` with its dashes), and the closest of
    `known` (flags with their dash); `-v` is too short to be near any flag by spelling, but begins
    only one."""
    flag = "-" + typed.lstrip("-")
    starting = [k for k in known if k.startswith(flag)]
    close = closest(flag, known) or (starting[0] if len(starting) == 1 else None)
    return f"flag provided but not defined: {flag}{did_you_mean(close)}"


def needs_argument(typed: str) -> str:
    """Go's words for a flag given without its value."""
    return f"flag needs an argument: -{typed.lstrip('-')}"
