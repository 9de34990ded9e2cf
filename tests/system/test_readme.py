"""README.md says what the code does: its example runs as written, its reference lists are complete."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from confpy.cli.app import app
from confpy.config.resource import _KNOWN_FIELDS
from tests.support.paths import REPO

ROOT = REPO
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no section {title!r}"
    return match.group(1)


def _blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of `text`: (language, content)."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


# --- the example --------------------------------------------------------------------------------

# The example writes under /etc and /tmp and starts an etcd on 127.0.0.1:2379, as a user would. It
# runs in namespaces of its own: /etc and /tmp are overlays whose writes land on a tmpfs that goes
# with the namespace, the network is a loopback of its own, and every process it started (the
# etcd) is killed when it ends. Files mounted over /etc's (a container's /etc/hosts, which gives
# "localhost") are copied into the overlay, or it would hide them. On failure, the logs the example
# wrote under /tmp are shown.
_ISOLATE = """
set -e
mount -t tmpfs tmpfs /mnt
mkdir /mnt/etc-upper /mnt/etc-work /mnt/tmp-upper /mnt/tmp-work
for f in $(awk '$2 ~ "^/etc/" {{ print $2 }}' /proc/self/mounts); do
    copy=/mnt/etc-upper/${{f#/etc/}}
    if [ -f "$f" ]; then mkdir -p "$(dirname "$copy")" && cp -p "$f" "$copy"; fi
done
for d in etc tmp; do
    mount -t overlay overlay -o lowerdir=/$d,upperdir=/mnt/$d-upper,workdir=/mnt/$d-work /$d
done
trap 'rc=$?; [ $rc = 0 ] || tail -n 20 /mnt/tmp-upper/*.log >&2; exit $rc' EXIT
{python} -c 'import fcntl, socket, struct
fcntl.ioctl(socket.socket(), 0x8914, struct.pack("16sH14x", b"lo", 0x41))'  # SIOCSIFFLAGS lo UP|RUNNING
cd {root}
"""


_MARK = "--- the README's output block starts here ---"


def _file_path(first_line: str) -> str:
    """The path a code block's first line names: `# /etc/x` or `{# /etc/x -#}`."""
    match = re.fullmatch(r"(?:#|\{#-?) (/\S+)(?: -?#\})?", first_line)
    assert match, f"the block's first line names no file: {first_line!r}"
    return match.group(1)


def _log_shape(line: str) -> str:
    """A log line with its time, host and pid replaced, so that two runs compare equal."""
    return re.sub(r"^\S+ \S+ confpy\[\d+\]: ", "TIME HOST confpy[PID]: ", line)


def test_the_example_runs_as_written(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("the example writes under /etc as root: needs root and unshare for a private /etc")
    if not (ROOT / ".venv" / "bin" / "confpy").exists():
        pytest.skip("the example runs .venv/bin/confpy, which `make venv` creates")
    setup, resource, template, run, output = _blocks(_section("Example: from etcd to a file"))
    assert [setup[0], resource[0], template[0], run[0], output[0]] == ["sh", "toml", "jinja", "sh", ""]
    script = _ISOLATE.format(python=shlex.quote(sys.executable), root=shlex.quote(str(ROOT)))
    script += setup[1]
    for _, text in (resource, template):
        script += (
            f"cat > {shlex.quote(_file_path(text.splitlines()[0]))} <<'END_OF_FILE'\n{text}END_OF_FILE\n"
        )
    script += f"exec 2>&1\necho {shlex.quote(_MARK)}\n" + run[1]
    namespaces = ["--mount", "--propagation", "private", "--net", "--pid", "--fork", "--kill-child"]
    try:
        result = subprocess.run(
            ["unshare", *namespaces, "--mount-proc", "bash", "-c", script],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        shown = [
            o.decode(errors="replace") if isinstance(o, bytes) else o or "" for o in (exc.stdout, exc.stderr)
        ]
        pytest.fail(f"the example did not end within 90 s:\n{''.join(shown)}")
    if result.returncode != 0 and "unshare failed" in result.stderr:
        pytest.skip(f"cannot make namespaces here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stdout + result.stderr
    got = [_log_shape(line) for line in result.stdout.partition(f"{_MARK}\n")[2].splitlines()]
    assert got == [_log_shape(line) for line in output[1].splitlines()], result.stdout


# --- the reference lists ------------------------------------------------------------------------


def _backticked(text: str, pattern: str = r"--?[a-z][a-z-]*") -> set[str]:
    return set(re.findall(rf"`({pattern})`", text))


def _between(text: str, start: str, end: str) -> str:
    """The text from `start` up to the next `end`."""
    assert start in text, f"README.md no longer says {start!r}"
    return text[text.index(start) :].partition(end)[0]


def _flags(name: str | None = None) -> set[str]:
    """The flags of the main command (or of subcommand `name`) as the README names them: the
    single-dash spelling, or the double-dash one where there is no other (typer's completion)."""
    root = typer.main.get_command(app)
    ctx = root.make_context("confpy", [], resilient_parsing=True)
    command = root if name is None else root.commands[name]
    if name is not None:
        ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
    found = set()
    for param in command.get_params(ctx):
        if param.param_type_name != "option":
            continue
        names = [*param.opts, *param.secondary_opts]
        found |= {n for n in names if not n.startswith("--")} or set(names)
    return found


def test_the_flags_list_names_every_flag() -> None:
    text = _between(_section("Flags and configuration"), "Flags: ", "\n\n")
    assert _backticked(text) == _flags()


def test_the_resource_fields_list_names_every_field() -> None:
    text = _between(_section("Template resources"), "`[template]` fields: ", "\n\n")
    assert _backticked(text, r"[a-z_]+") == set(_KNOWN_FIELDS)


def test_the_sidecar_commands_flags_are_listed() -> None:
    section = _section("Sidecar commands: register, wait, exec")
    connection = _backticked(_between(section, "same connection flags as the main command (", ")"))
    main, helps = _flags(), {"-h", "-help"}
    for name in ("register", "wait"):
        assert (_flags(name) & main) - helps == connection, name
    assert main - _flags("exec") == _backticked(
        _between(section, "takes the main command's flags except", ";")
    )
    for name in ("register", "wait", "exec"):
        for flag in _flags(name) - main:
            assert re.search(rf"`{flag}[ `]", section), f"confpy {name} {flag} is not described"


def test_the_function_and_filter_lists_are_complete() -> None:
    from confpy.engines.filters import VALIDATING_FILTERS
    from confpy.engines.functions import make_functions
    from confpy.store import KeyStore

    text = _between(_section("Templates"), "confd's complete function set", ". ")
    assert _backticked(text, r"\w+") == set(make_functions(KeyStore()))
    assert set(re.findall(r"^\| `(\w+)` \|", _section("Security"), re.MULTILINE)) == set(VALIDATING_FILTERS)


def test_the_demo_options_are_listed() -> None:
    shown = subprocess.run(
        [sys.executable, ROOT / "containers" / "demo.py", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    accepted = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", shown.stdout)) - {"--help"}
    text = _between(_section("The sample stack"), "Its options go in `DEMO_ARGS`", "\n- ")
    assert set(re.findall(r"^  - `(--[a-z-]+)", text, re.MULTILINE)) == accepted
