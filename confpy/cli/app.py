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
from typer.core import TyperCommand, TyperGroup

from confpy._version import __version__
from confpy.errors import ConfigError, ConfpyError, closest, did_you_mean

if TYPE_CHECKING:
    from confpy.config.settings import Settings

__all__ = ["app", "main"]


class _ConfdFlags:
    """Flags as confd users know them from Go's flag package, where click differs.

    click reads an unknown `-nodes` as the short options `-n -o -d ...` and says "No such option:
    -n"; this names the whole flag, as confd would, and suggests the closest known one. And click
    lists the help flags in set order, which changes from run to run; this keeps them in order.
    """

    def get_help_option_names(self, ctx: Any) -> list[str]:
        names: list[str] = super().get_help_option_names(ctx)  # type: ignore[misc]
        return sorted(names, key=ctx.help_option_names.index)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        given = list(args)  # click's parser consumes the list it is given
        try:
            return super().parse_args(ctx, args)  # type: ignore[misc, no-any-return]
        except Exception as exc:
            better = _unknown_flag_error(exc, ctx, given)
            if better is None:
                raise
            raise better from None


class _Group(_ConfdFlags, TyperGroup):
    pass


class _Command(_ConfdFlags, TyperCommand):
    pass


def _unknown_flag_error(exc: Exception, ctx: Any, args: list[str]) -> Exception | None:
    """click's NoSuchOption or missing value, redone in the words of Go's flag package.

    Go names the unknown flag whole and with one dash, however many were typed (`-v`, `-nodes`,
    `--foo` all read `flag provided but not defined: -NAME`); confpy adds the closest known flag.
    """
    option: str = getattr(exc, "option_name", "") or ""
    # Matched by name: recent typer vendors click (typer._click), older ones that confpy also
    # allows use click itself, so the class lives in one module or the other.
    kind = type(exc).__name__
    if kind == "BadOptionUsage" and "requires an argument" in str(getattr(exc, "message", "")):
        return type(exc)(option, f"flag needs an argument: -{option.lstrip('-')}", ctx=ctx)  # type: ignore[call-arg]
    if kind != "NoSuchOption" or not option:
        return None
    takes_no_value: dict[str, bool] = {}
    for param in ctx.command.get_params(ctx):
        for opt in (*param.opts, *param.secondary_opts):
            takes_no_value[opt] = bool(getattr(param, "is_flag", False) or getattr(param, "count", False))
    name = option if option.startswith("--") else _short_option_arg(option, args, takes_no_value)
    if name is None:
        return None
    flag = "-" + name.lstrip("-")
    known = [opt for opt in takes_no_value if not opt.startswith("--")]
    # `-v` is too short to be near any flag by spelling, but begins only one.
    starting = [k for k in known if k.startswith(flag)]
    close = closest(flag, known) or (starting[0] if len(starting) == 1 else None)
    message = f"flag provided but not defined: {flag}{did_you_mean(close)}"
    return type(exc)(flag, message=message, ctx=ctx)  # type: ignore[call-arg]


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


app = typer.Typer(
    cls=_Group,
    add_completion=True,  # --install-completion and --show-completion, typer's own
    no_args_is_help=False,
    rich_markup_mode=None,  # plain help: no markup surprises with "[/etc/confd]", and no rich import
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "-help", "--help"]},
    help="Render config files from etcd (or env, or files) with confd's template resources.",
)

# Boolean flags that Go's flag package also lets users spell `-flag=true` / `-flag=false`.
_BOOL_FLAGS = ("onetime", "watch", "noop", "sync-only", "keep-stage-file", "basic-auth", "version")


def _option(name: str, help: str, metavar: str = "VALUE") -> Any:
    return typer.Option(f"-{name}", f"--{name}", help=help, show_default=False, metavar=metavar)


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    backend: Annotated[
        str | None, _option("backend", "backend: etcdv3 (alias etcd), env, file, redis or zookeeper", "NAME")
    ] = None,
    node: Annotated[list[str] | None, _option("node", "backend node URL (repeatable)", "URL")] = None,
    confdir: Annotated[str | None, _option("confdir", "confd conf directory [/etc/confd]", "DIR")] = None,
    config_file: Annotated[
        str | None, _option("config-file", "confd config file [<confdir>/confd.toml]", "FILE")
    ] = None,
    prefix: Annotated[
        str | None, _option("prefix", "key prefix, joined in front of each resource prefix", "PREFIX")
    ] = None,
    onetime: Annotated[bool | None, _option("onetime", "run once and exit")] = None,
    watch: Annotated[bool | None, _option("watch", "watch the backend for changes")] = None,
    interval: Annotated[
        str | None,
        _option("interval", "time between full re-reads: 60 (seconds), 500ms or 1m30s [600]", "DURATION"),
    ] = None,
    noop: Annotated[bool | None, _option("noop", "change nothing; print a diff of what would change")] = None,
    sync_only: Annotated[bool | None, _option("sync-only", "write files but run no check or reload")] = None,
    keep_stage_file: Annotated[
        bool | None, _option("keep-stage-file", "keep stage files not renamed")
    ] = None,
    log_level: Annotated[
        str | None, _option("log-level", "trace, debug, info, warn or error [info]", "LEVEL")
    ] = None,
    client_cert: Annotated[str | None, _option("client-cert", "TLS client certificate file", "FILE")] = None,
    client_key: Annotated[str | None, _option("client-key", "TLS client key file", "FILE")] = None,
    client_ca_keys: Annotated[
        str | None, _option("client-ca-keys", "TLS CA certificate file", "FILE")
    ] = None,
    username: Annotated[str | None, _option("username", "etcd user name", "USER")] = None,
    password: Annotated[str | None, _option("password", "etcd or redis password", "PASSWORD")] = None,
    basic_auth: Annotated[
        bool | None, _option("basic-auth", "use username/password (accepted for confd)")
    ] = None,
    file: Annotated[
        list[str] | None, _option("file", "YAML/JSON file or folder for the file backend", "PATH")
    ] = None,
    filter: Annotated[
        str | None, _option("filter", "file name glob for folders given to -file [*]", "GLOB")
    ] = None,
    separator: Annotated[
        str | None, _option("separator", "redis: what replaces '/' in key names [/]", "SEP")
    ] = None,
    connect_timeout: Annotated[
        str | None, _option("connect-timeout", "how long to retry an unreachable backend [5s]", "DURATION")
    ] = None,
    wait: Annotated[
        str | None, _option("wait", "watch debounce MIN[:MAX], e.g. 2s:10s [off]", "MIN[:MAX]")
    ] = None,
    max_stale: Annotated[
        str | None, _option("max-stale", "exit non-zero when the watch is lost for longer [off]", "DURATION")
    ] = None,
    log_format: Annotated[
        str | None, _option("log-format", "text (confd's) or json [text]", "FORMAT")
    ] = None,
    metrics_addr: Annotated[
        str | None, _option("metrics-addr", "serve /metrics, /health, /ready on HOST:PORT [off]", "ADDR")
    ] = None,
    render_timeout: Annotated[
        str | None, _option("render-timeout", "stop a render that takes longer [60s]", "DURATION")
    ] = None,
    max_output_size: Annotated[
        str | None, _option("max-output-size", "fail a render that writes more [64MiB]", "SIZE")
    ] = None,
    version: Annotated[bool, _option("version", "print the version and exit")] = False,
) -> None:
    if version:
        typer.echo(f"confpy {__version__}")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is not None:
        return
    flags = {
        "backend": backend,
        "nodes": node or None,
        "confdir": confdir,
        "config_file": config_file,
        "prefix": prefix,
        "onetime": onetime,
        "watch": watch,
        "interval": interval,
        "noop": noop,
        "sync_only": sync_only,
        "keep_stage_file": keep_stage_file,
        "log_level": log_level,
        "client_cert": client_cert,
        "client_key": client_key,
        "client_ca_keys": client_ca_keys,
        "username": username,
        "password": password,
        "basic_auth": basic_auth,
        "files": file or None,
        "filter": filter,
        "separator": separator,
        "connect_timeout": connect_timeout,
        "wait": wait,
        "max_stale": max_stale,
        "log_format": log_format,
        "metrics_addr": metrics_addr,
        "render_timeout": render_timeout,
        "max_output_size": max_output_size,
    }
    from confpy.runtime.launch import run_from_flags

    raise typer.Exit(run_from_flags(flags))


@app.command(cls=_Command)
def convert(
    template: Annotated[Path, typer.Argument(help="a confd Go template (.tmpl)")],
    log_format: Annotated[
        str | None, _option("log-format", "text (confd's) or json [text]", "FORMAT")
    ] = None,
) -> None:
    """Translate a Go template into Jinja2 on stdout; what cannot be translated is logged (exit 1)."""
    from confpy.engines.go import GoEngine
    from confpy.log import setup_logging

    log = logging.getLogger("confpy")
    try:
        setup_logging("info", log_format or os.environ.get("CONFPY_LOG_FORMAT") or "text")
    except ConfigError as exc:
        setup_logging("info")
        log.error("%s", exc)
        raise typer.Exit(2) from None
    try:
        text = template.read_text(encoding="utf-8")
    except OSError as exc:
        log.error("%s: %s", template, exc.strerror)
        raise typer.Exit(1) from None
    except UnicodeDecodeError as exc:
        log.error("%s: not UTF-8 text (byte %d is 0x%02x)", template, exc.start, exc.object[exc.start])
        raise typer.Exit(1) from None
    try:
        result = GoEngine(template.parent).convert(text, template.name)
    except ConfpyError as exc:
        log.error("%s: %s", template, exc)
        raise typer.Exit(1) from None
    sys.stdout.write(result.text)
    for line, message in result.problems:
        log.error("%s:%d: %s", template, line, message)
    raise typer.Exit(1 if result.problems else 0)


@app.command(cls=_Command)
def check(
    confdir: Annotated[Path, _option("confdir", "confd conf directory [/etc/confd]", "DIR")] = Path(
        "/etc/confd"
    ),
    data: Annotated[
        Path | None, _option("data", "render every resource against this YAML/JSON sample data", "FILE")
    ] = None,
) -> None:
    """Validate confd.toml, every resource and template (no backend needed); non-zero on problems."""
    from confpy.ops.check import check_confdir

    raise typer.Exit(check_confdir(confdir, data, out=sys.stdout, err=sys.stderr))


# --- the sidecar commands: register, wait, exec ----------------------------------------------------

# Options whose settings field has another name (they are repeatable: lists).
_RENAMED = {"node": "nodes", "file": "files"}
_CONNECTION = (
    "backend",
    "node",
    "confdir",
    "config_file",
    "client_cert",
    "client_key",
    "client_ca_keys",
    "username",
    "password",
    "basic_auth",
    "connect_timeout",
    "log_level",
    "log_format",
)
# Every option of the main command but the modes and what makes no sense around a child process.
_EXEC_OPTIONS = tuple(
    name
    for name in inspect.signature(run).parameters
    if name not in ("ctx", "onetime", "watch", "noop", "max_stale", "metrics_addr", "version")
)
_TTL_HELP = "lease TTL: how long the key outlives a crash [15s]"


def _with_options(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a subcommand these options of the main command, declared once, in `run`.

    typer reads a command's options from its signature, so they are appended to it; the function
    receives them as keyword arguments (`**options`).
    """
    shared = inspect.signature(run, eval_str=True).parameters

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(command, eval_str=True).parameters.values()
        params = [p for p in own if p.kind is not p.VAR_KEYWORD] + [shared[n] for n in names]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        return command

    return decorate


def _run_with_settings(options: dict[str, Any], command: Callable[[Settings], int]) -> None:
    """Settings from the options, `CONFPY_*` variables and confd.toml, as the main command reads
    them; then `command`. Exit 2 for bad flags or configuration, 1 for any other error."""
    from confpy.runtime.launch import configure

    log = logging.getLogger("confpy")
    flags = {_RENAMED.get(k, k): (v or None) if k in _RENAMED else v for k, v in options.items()}
    try:
        status = command(configure(flags))
    except ConfigError as exc:
        log.error("%s", exc)
        status = 2
    except ConfpyError as exc:
        log.error("%s", exc)
        status = 1
    raise typer.Exit(status)


@app.command(cls=_Command)
@_with_options(*_CONNECTION)
def register(
    key: Annotated[str, typer.Argument(help="the key, e.g. /services/web/10.0.0.5", metavar="KEY")],
    value: Annotated[str, typer.Argument(help="its value, e.g. 10.0.0.5:80", metavar="VALUE")],
    ttl: Annotated[str, _option("ttl", _TTL_HELP, "DURATION")] = "15s",
    **options: Any,
) -> None:
    """Keep KEY=VALUE in etcd (on a lease, kept alive) until SIGTERM/SIGINT, then delete it."""
    from confpy.sidecar.register import parse_ttl, run_register

    _run_with_settings(options, lambda settings: run_register(settings, key, value, parse_ttl(ttl)))


@app.command("wait", cls=_Command)
@_with_options(*_CONNECTION)
def wait_for_keys(
    keys: Annotated[
        list[str], typer.Argument(help="keys that must exist", metavar="KEY", show_default=False)
    ],
    timeout: Annotated[
        str | None, _option("timeout", "give up after this long, exit 1 [wait forever]", "DURATION")
    ] = None,
    **options: Any,
) -> None:
    """Block until every KEY exists (the key, or keys under it); exit 1 naming the missing on timeout."""
    from confpy.config.duration import parse_duration
    from confpy.sidecar.wait import run_wait

    def wait(settings: Settings) -> int:
        return run_wait(settings, keys, None if timeout is None else parse_duration(timeout, "-timeout"))

    _run_with_settings(options, wait)


@app.command("exec", cls=_Command, context_settings={"allow_interspersed_args": False})
@_with_options(*_EXEC_OPTIONS)
def exec_command(
    command: Annotated[
        list[str], typer.Argument(help="the command to run, after --", metavar="COMMAND", show_default=False)
    ],
    wait_for: Annotated[
        list[str] | None, _option("wait-for", "first wait until KEY exists (repeatable)", "KEY")
    ] = None,
    register: Annotated[
        list[str] | None,
        _option("register", "keep KEY=VALUE in etcd while the command runs (repeatable)", "KEY=VALUE"),
    ] = None,
    ttl: Annotated[str, _option("ttl", _TTL_HELP, "DURATION")] = "15s",
    reload_signal: Annotated[
        str | None,
        _option("reload-signal", "on a change, send the command this signal, not reload_cmd", "SIG"),
    ] = None,
    **options: Any,
) -> None:
    """Render, then run COMMAND and keep its config current; forward signals; exit with its status."""
    from confpy.sidecar.child import parse_signal
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

    _run_with_settings({**options, "watch": True}, exec_)


def _normalize(argv: list[str]) -> list[str]:
    """Accept Go's `-flag=true` / `-flag=false` spellings of boolean flags."""
    out: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":  # what follows is a command's own arguments (`confpy exec -- ...`)
            return out + argv[index:]
        name, sep, value = arg.lstrip("-").partition("=")
        if (
            arg.startswith("-")
            and sep
            and name in _BOOL_FLAGS
            and value.lower() in ("true", "false", "1", "0")
        ):
            if value.lower() in ("true", "1"):
                out.append(f"-{name}")
            continue
        out.append(arg)
    return out


def main() -> NoReturn:
    """Entry point of the `confpy` script and `python -m confpy`."""
    # gRPC's C core prints its own lines for TLS and connection failures; confpy reports them itself.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        app(args=_normalize(sys.argv[1:]), prog_name="confpy")
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
