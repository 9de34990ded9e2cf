"""The `confpy` command: confd's flags, as confd users type them, over the library.

Heavy imports (the etcd client, gRPC, Jinja2) happen inside the commands, so that `confpy --help`
and `confpy -version` answer at once.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from confpy._version import __version__
from confpy.cli.goflags import GoCommand, GoGroup, option
from confpy.config.settings import SETTINGS, Setting, requested
from confpy.errors import ConfigError, ConfpyError

if TYPE_CHECKING:
    from confpy.config.settings import Settings

__all__ = ["app", "main"]


app = typer.Typer(
    cls=GoGroup,
    add_completion=True,  # --install-completion and --show-completion, typer's own
    no_args_is_help=False,
    rich_markup_mode=None,  # plain help: no markup surprises with "[/etc/confd]", and no rich import
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "-help", "--help"]},
    help="Render config files from etcd (or env, or files) with confd's template resources.",
)


_BY_NAME = {s.name: s for s in SETTINGS}
_KEYWORD = inspect.Parameter.KEYWORD_ONLY


def _setting_option(name: str) -> Any:
    """The flag of one setting, as the settings table spells and explains it."""
    setting = _BY_NAME[name]
    return option(setting.flag, setting.help, setting.metavar)


def _flag_parameter(setting: Setting) -> inspect.Parameter:
    """A command's parameter for one setting: its flag, None when not given."""
    kind: Any = bool if not setting.takes_value else list[str] if setting.repeatable else str
    return inspect.Parameter(
        setting.name, _KEYWORD, default=None, annotation=Annotated[kind | None, _setting_option(setting.name)]
    )


def _with_settings(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the flags of these settings, as the settings table declares them.

    typer reads a command's options from its signature, so they are added to it, after the
    command's own parameters but before its keyword-only ones; the function receives them as
    keyword arguments (`**options`).
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = [
            p
            for p in inspect.signature(command, eval_str=True).parameters.values()
            if p.kind is not p.VAR_KEYWORD
        ]
        params = [
            *(p for p in own if p.kind is not _KEYWORD),
            *(_flag_parameter(_BY_NAME[name]) for name in names),
            *(p for p in own if p.kind is _KEYWORD),
        ]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        return command

    return decorate


@app.callback(invoke_without_command=True)
@_with_settings(*_BY_NAME)
def run(
    ctx: typer.Context,
    *,
    version: Annotated[bool, option("version", "print the version and exit")] = False,
    **options: Any,
) -> None:
    """The main command: a flag for each setting (confpy.config.settings.SETTINGS), and -version."""
    if version:
        typer.echo(f"confpy {__version__}")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is not None:
        return
    from confpy.runtime.launch import run_from_flags

    raise typer.Exit(run_from_flags(_given(options)))


def _given(flags: dict[str, Any]) -> dict[str, Any]:
    """The settings' flags as load_settings takes them: a repeatable flag never given is None."""
    return {
        name: (value or None) if isinstance(value, list | tuple) else value for name, value in flags.items()
    }


@app.command(cls=GoCommand)
def convert(
    template: Annotated[Path, typer.Argument(help="a confd Go template (.tmpl)")],
    log_format: Annotated[str | None, _setting_option("log_format")] = None,
) -> None:
    """Translate a Go template into Jinja2 on stdout; what cannot be translated is logged (exit 1)."""
    from confpy.engines.convert import convert_file
    from confpy.log import setup_logging

    log = logging.getLogger("confpy")
    try:
        setup_logging("info", requested("log_format", {"log_format": log_format}) or "text")
    except ConfigError as exc:
        setup_logging("info")
        log.error("%s", exc)
        raise typer.Exit(exc.exit_status) from None
    try:
        result = convert_file(template)
    except ConfpyError as exc:
        log.error("%s", exc)
        raise typer.Exit(exc.exit_status) from None
    sys.stdout.write(result.text)
    for line, message in result.problems:
        log.error("%s:%d: %s", template, line, message)
    raise typer.Exit(1 if result.problems else 0)


@app.command(cls=GoCommand)
def check(
    confdir: Annotated[Path, _setting_option("confdir")] = _BY_NAME["confdir"].default,
    data: Annotated[
        Path | None, option("data", "render every resource against this YAML/JSON sample data", "FILE")
    ] = None,
) -> None:
    """Validate confd.toml, every resource and template (no backend needed); non-zero on problems."""
    from confpy.ops.check import check_confdir

    raise typer.Exit(check_confdir(confdir, data, out=sys.stdout, err=sys.stderr))


# --- the sidecar commands: register, wait, exec ----------------------------------------------------

_CONNECTION = (
    "backend",
    "nodes",
    "confdir",
    "config_file",
    "client_cert",
    "client_key",
    "client_ca_keys",
    "username",
    "password",
    "basic_auth",
    "connect_timeout",
    "etcd_transport",
    "log_level",
    "log_format",
)
# Every option of the main command but the modes and what makes no sense around a child process.
_EXEC_OPTIONS = tuple(
    s.name for s in SETTINGS if s.name not in ("onetime", "watch", "noop", "max_stale", "metrics_addr")
)
_TTL_HELP = "lease TTL: how long the key outlives a crash [15s]"


def _run_with_settings(options: dict[str, Any], command: Callable[[Settings], int]) -> None:
    """Settings from the options, `CONFPY_*` variables and confd.toml, as the main command reads
    them; then `command`. An error exits with its status (confpy.errors: 2 for configuration)."""
    from confpy.runtime.launch import configure

    log = logging.getLogger("confpy")
    try:
        status = command(configure(_given(options)))
    except ConfpyError as exc:
        log.error("%s", exc)
        status = exc.exit_status
    raise typer.Exit(status)


@app.command(cls=GoCommand)
@_with_settings(*_CONNECTION)
def register(
    key: Annotated[str, typer.Argument(help="the key, e.g. /services/web/10.0.0.5", metavar="KEY")],
    value: Annotated[str, typer.Argument(help="its value, e.g. 10.0.0.5:80", metavar="VALUE")],
    ttl: Annotated[str, option("ttl", _TTL_HELP, "DURATION")] = "15s",
    **options: Any,
) -> None:
    """Keep KEY=VALUE in etcd (on a lease, kept alive) until SIGTERM/SIGINT, then delete it."""
    from confpy.sidecar.register import parse_ttl, run_register

    _run_with_settings(options, lambda settings: run_register(settings, key, value, parse_ttl(ttl)))


@app.command("wait", cls=GoCommand)
@_with_settings(*_CONNECTION)
def wait_for_keys(
    keys: Annotated[
        list[str], typer.Argument(help="keys that must exist", metavar="KEY", show_default=False)
    ],
    timeout: Annotated[
        str | None, option("timeout", "give up after this long, exit 1 [wait forever]", "DURATION")
    ] = None,
    **options: Any,
) -> None:
    """Block until every KEY exists (the key, or keys under it); exit 1 naming the missing on timeout."""
    from confpy.config.duration import parse_duration
    from confpy.sidecar.wait import run_wait

    def wait(settings: Settings) -> int:
        return run_wait(settings, keys, None if timeout is None else parse_duration(timeout, "-timeout"))

    _run_with_settings(options, wait)


@app.command("exec", cls=GoCommand, context_settings={"allow_interspersed_args": False})
@_with_settings(*_EXEC_OPTIONS)
def exec_command(
    command: Annotated[
        list[str], typer.Argument(help="the command to run, after --", metavar="COMMAND", show_default=False)
    ],
    wait_for: Annotated[
        list[str] | None, option("wait-for", "first wait until KEY exists (repeatable)", "KEY")
    ] = None,
    register: Annotated[
        list[str] | None,
        option("register", "keep KEY=VALUE in etcd while the command runs (repeatable)", "KEY=VALUE"),
    ] = None,
    ttl: Annotated[str, option("ttl", _TTL_HELP, "DURATION")] = "15s",
    reload_signal: Annotated[
        str | None,
        option("reload-signal", "on a change, send the command this signal, not reload_cmd", "SIG"),
    ] = None,
    **options: Any,
) -> None:
    """Render, then run COMMAND and keep its config current; forward signals; exit with its status."""
    from confpy.config.signals import parse_signal
    from confpy.sidecar.exec import run_exec
    from confpy.sidecar.register import parse_entry, parse_ttl

    def exec_(settings: Settings) -> int:
        return run_exec(
            settings,
            command,
            wait_for=wait_for or (),
            register=dict(parse_entry(entry) for entry in register or ()),
            ttl=parse_ttl(ttl),
            reload_signal=parse_signal(reload_signal) if reload_signal else None,
        )

    _run_with_settings(options, exec_)


def main() -> NoReturn:
    """Entry point of the `confpy` script and `python -m confpy`."""
    # gRPC's C core prints its own lines for TLS and connection failures; confpy reports them itself.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        app(args=sys.argv[1:], prog_name="confpy")
    except SystemExit as exc:
        _exit(exc.code)
    _exit(0)


def _exit(code: str | int | None) -> NoReturn:
    """End the process as `sys.exit(code)` would, without the interpreter's teardown.

    Freeing every module and shutting gRPC's core down takes ~19 ms, a sixth of a `-onetime` run,
    and does nothing for a process that is ending: the files are fsynced, the exit handlers (which
    flush the log) are run here, and so are the standard streams. While a non-daemon thread still
    runs, the interpreter would wait for it, so the normal exit is kept.
    """
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            status = status or 1
    os._exit(status)
