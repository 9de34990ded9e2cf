"""The main command, `confpy [flags]`: its flags and what it does with them, for both of its
parsers (Go's rules in confpy.cli.main, typer's in confpy.cli.app)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

from confpy._version import __version__
from confpy.cli.goflags import Spec
from confpy.config.settings import SETTINGS

__all__ = ["MAIN_FLAGS", "VERSION", "Flag", "run"]


class Flag(NamedTuple):
    """A boolean flag of the main command that is no setting (a NamedTuple, as the settings
    table's rows are: a dataclass's generated methods are compiled at every start)."""

    flag: str
    help: str
    metavar: str = ""
    takes_value: bool = False
    repeatable: bool = False

    @property
    def name(self) -> str:
        return self.flag.replace("-", "_")


VERSION = Flag("version", "print the version and exit")
#: A flag per setting, as the settings table declares them (their order is --help's), and -version.
MAIN_FLAGS: tuple[Spec, ...] = (*SETTINGS, VERSION)


def run(flags: Mapping[str, Any]) -> int:
    """Print the version, or run as `flags` (the given ones, by name) say; the exit status."""
    if flags.get(VERSION.name):
        sys.stdout.write(f"confpy {__version__}\n")
        return 0
    from confpy.runtime.launch import run_from_flags

    return run_from_flags({name: value for name, value in flags.items() if name != VERSION.name})
