"""Go's flag rules without click (confpy.cli.goflags.parse), the run path's parser, and that it
reads every command line it takes as the typer app reads it."""

from __future__ import annotations

import random
from typing import Any

import pytest
from typer.testing import CliRunner

import confpy.cli.app
from confpy.cli.command import MAIN_FLAGS
from confpy.cli.goflags import bool_value, needs_argument, parse, unknown_flag
from confpy.cli.sidecar import COMMANDS
from confpy.config.settings import SETTINGS


def test_go_spellings_of_values_bools_and_repeated_flags() -> None:
    argv = ["-node=a", "--node", "b", "-onetime=TRUE", "--noop", "-prefix", "-x", "-prefix=/p=q", "-watch=0"]
    assert parse(argv, MAIN_FLAGS) == (
        {"nodes": ["a", "b"], "onetime": True, "noop": True, "prefix": "/p=q"},
        [],
    )
    assert parse(["-node="], MAIN_FLAGS) == ({"nodes": [""]}, [])


def test_the_flags_end_at_the_first_argument_that_is_not_one_or_after_the_double_dash() -> None:
    assert parse(["-onetime", "check", "-confdir", "/x"], MAIN_FLAGS) == (
        {"onetime": True},
        ["check", "-confdir", "/x"],
    )
    assert parse(["-onetime", "--", "-noop"], MAIN_FLAGS) == ({"onetime": True}, ["-noop"])
    assert parse(["-", "-noop"], MAIN_FLAGS) == ({}, ["-", "-noop"])
    assert parse([], MAIN_FLAGS) == ({}, [])


@pytest.mark.parametrize(
    "argv",
    [["-nodes", "x"], ["-node"], ["-onetime=yes"], ["---onetime"], ["-=x"], ["-h"], ["--help"], ["-v"],
     ["--install-completion"], ["-onetime", "-bogus", "check"]],
)  # fmt: skip
def test_what_go_s_flag_package_refuses_is_left_to_click(argv: list[str]) -> None:
    assert parse(argv, MAIN_FLAGS) is None


def test_every_setting_is_a_flag_and_so_is_version() -> None:
    argv = [f"-{s.flag}" + ("=v" if s.takes_value else "") for s in SETTINGS]
    parsed = parse([*argv, "-version"], MAIN_FLAGS)
    assert parsed is not None and parsed[1] == []
    assert set(parsed[0]) == {s.name for s in SETTINGS} | {"version"}


def test_go_s_words() -> None:
    known = ["-node", "-noop", "-version", "-h"]
    assert unknown_flag("--nodes", known) == "flag provided but not defined: -nodes (did you mean -node?)"
    assert unknown_flag("-v", known) == "flag provided but not defined: -v (did you mean -version?)"
    assert unknown_flag("-bogus", known) == "flag provided but not defined: -bogus"
    assert needs_argument("--node") == "flag needs an argument: -node"
    assert [bool_value(v) for v in ("True", "1", "FALSE", "0")] == [True, True, False, False]
    assert bool_value("yes") is bool_value("") is None


def _by_click(args: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any] | None:
    """The flags the typer app hands to the main command for `args`; None if it runs none."""
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(confpy.cli.app, "run_main", lambda flags: seen.append(flags) or 0)
    CliRunner().invoke(confpy.cli.app.app, args)
    if not seen:
        return None
    return {name: list(v) if isinstance(v, tuple) else v for name, v in seen[0].items() if v is not None}


def _by_go(args: list[str]) -> dict[str, Any] | None:
    parsed = parse(args, MAIN_FLAGS)
    return parsed[0] if parsed is not None and not parsed[1] else None


_TYPED = [
    ["-onetime", "-backend", "etcdv3", "-node", "http://127.0.0.1:2379", "-confdir", "/etc/confd"],
    ["--watch", "--node=a", "-node", "b", "-log-level=debug", "-interval", "60", "-wait", "2s:10s"],
    ["-onetime=true", "-noop=1", "-sync-only=false", "-prefix", "-x", "-file", "a.yaml", "-file=b.yaml"],
    ["-prefix", "-noop=true", "-onetime"],
    ["-version"],
    ["-version=false", "-onetime", "--"],
    [],
]
_WORDS = ["-onetime", "--onetime", "-onetime=true", "-onetime=FALSE", "-onetime=yes", "-node", "-node=a",
          "--node=b", "a", "-prefix", "-x", "--", "-", "-h", "check", "-version", "-interval", "5s",
          "-backend=env", "-basic-auth=1", "-keep-stage-file", "=", "-=x", "---noop", "-log-level", "",
          "-nodes", "-prefix=-noop=true", "-noop=1", "-watch=0"]  # fmt: skip


def test_a_run_s_flags_read_as_the_typer_app_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run path must not change what a command line means: what it takes, click takes alike
    (what it refuses goes to click, so only the first half can differ)."""
    for args in _TYPED:
        assert _by_go(args) is not None, args
        assert _by_go(args) == _by_click(args, monkeypatch), args
    chance = random.Random(16)
    for _ in range(400):
        args = chance.choices(_WORDS, k=chance.randrange(7))
        taken = _by_go(args)
        if taken is not None:
            assert taken == _by_click(args, monkeypatch), args


class _Seen:
    """Stands in for a sidecar command in the typer app: records what it is run with."""

    def __init__(self) -> None:
        self.runs: list[tuple[dict[str, Any], list[str]]] = []

    def run(self, flags: dict[str, Any], args: list[str]) -> int:
        given = {name: list(v) if isinstance(v, tuple) else v for name, v in flags.items() if v is not None}
        self.runs.append((given, list(args)))
        return 0


_SIDECAR_WORDS = {
    "register": ["/k", "v", "-ttl", "20s", "-ttl=5", "-node", "a", "--node=b", "--", "-x", "-log-level",
                 "debug", "-basic-auth", "-h", "-onetime"],
    "wait": ["/a", "/b", "-timeout", "5s", "-timeout=1m", "-node", "a", "--", "-x", "-backend=env", "-h"],
    "exec": ["sh", "-c", "true", "--", "-wait-for", "/a", "--register=/k=v", "-ttl", "9s", "-reload-signal",
             "HUP", "-sync-only", "-node", "a", "-metrics-addr", ":1", "-h", "-interval", "2"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_sidecar_command_line_reads_as_the_typer_app_reads_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """confpy.cli.main parses register, wait and exec by Go's rules (click's interspersed
    arguments for the first two): what it takes, click hands the command alike."""
    command = COMMANDS[name]
    seen = _Seen()
    monkeypatch.setattr(confpy.cli.app, name.upper(), seen)
    chance = random.Random(name)
    taken = 0
    for _ in range(300):
        args = chance.choices(_SIDECAR_WORDS[name], k=chance.randrange(8))
        parsed = parse(args, command.flags, command.interspersed)
        least, most = command.arguments
        if parsed is None or not least <= len(parsed[1]) <= (most or len(parsed[1])):
            continue
        seen.runs.clear()
        CliRunner().invoke(confpy.cli.app.app, [name, *args])
        assert seen.runs == [parsed], args
        taken += 1
    assert taken > 20  # the comparison ran, not only refusals
