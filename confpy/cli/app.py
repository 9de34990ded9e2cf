"""The `confpy` command as a typer app: its subcommands, its help and shell completion, with
confd's flags as confd users type them (confpy.cli.clickflags), over the library.

A run (`confpy -onetime ...`) does not come here but is parsed by Go's rules alone
(confpy.cli.main). Heavy imports (the etcd client, gRPC, Jinja2) happen inside the commands, so
that `confpy --help` answers at once.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from confpy.cli.clickflags import GoCommand, GoGroup, option
from confpy.cli.command import MAIN_FLAGS, VERSION
from confpy.cli.command import run as run_main
from confpy.cli.goflags import Spec
from confpy.cli.sidecar import EXEC, REGISTER, WAIT
from confpy.config.settings import SETTINGS, requested
from confpy.errors import ConfigError, ConfpyError

__all__ = ["app"]


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
    return _option(_BY_NAME[name])


def _option(spec: Spec) -> Any:
    return option(spec.flag, spec.help, spec.metavar)


def _flag_parameter(spec: Spec) -> inspect.Parameter:
    """A command's parameter for one flag: None when not given."""
    kind: Any = bool if not spec.takes_value else list[str] if spec.repeatable else str
    return inspect.Parameter(
        spec.name, _KEYWORD, default=None, annotation=Annotated[kind | None, _option(spec)]
    )


def _with_flags(*flags: Spec) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command these flags.

    typer reads a command's options from its signature, so they are added to it, after the
    command's own parameters but before its keyword-only ones; the function receives them as
    keyword arguments (`**options`).
    """

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        own = [
            p
            for p in inspect.signature(function, eval_str=True).parameters.values()
            if p.kind is not p.VAR_KEYWORD
        ]
        params = [
            *(p for p in own if p.kind is not _KEYWORD),
            *(_flag_parameter(spec) for spec in flags),
            *(p for p in own if p.kind is _KEYWORD),
        ]
        function.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        return function

    return decorate


@app.callback(invoke_without_command=True)
@_with_flags(*MAIN_FLAGS)
def run(ctx: typer.Context, **options: Any) -> None:
    """The main command (confpy.cli.command), here for a command line that Go's rules refused
    but click takes (`---onetime=true`), and for -version before a subcommand."""
    if ctx.invoked_subcommand is None or options[VERSION.name]:
        raise typer.Exit(run_main(_given(options)))


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


# --- the sidecar commands: register, wait, exec (confpy.cli.sidecar) ------------------------------


@app.command(cls=GoCommand)
@_with_flags(*REGISTER.flags)
def register(
    key: Annotated[str, typer.Argument(help="the key, e.g. /services/web/10.0.0.5", metavar="KEY")],
    value: Annotated[str, typer.Argument(help="its value, e.g. 10.0.0.5:80", metavar="VALUE")],
    **options: Any,
) -> None:
    """Keep KEY=VALUE in etcd (on a lease, kept alive) until SIGTERM/SIGINT, then delete it."""
    raise typer.Exit(REGISTER.run(_given(options), [key, value]))


@app.command("wait", cls=GoCommand)
@_with_flags(*WAIT.flags)
def wait_for_keys(
    keys: Annotated[
        list[str], typer.Argument(help="keys that must exist", metavar="KEY", show_default=False)
    ],
    **options: Any,
) -> None:
    """Block until every KEY exists (the key, or keys under it); exit 1 naming the missing on timeout."""
    raise typer.Exit(WAIT.run(_given(options), keys))


@app.command("exec", cls=GoCommand, context_settings={"allow_interspersed_args": False})
@_with_flags(*EXEC.flags)
def exec_command(
    command: Annotated[
        list[str], typer.Argument(help="the command to run, after --", metavar="COMMAND", show_default=False)
    ],
    **options: Any,
) -> None:
    """Render, then run COMMAND and keep its config current; forward signals; exit with its status."""
    raise typer.Exit(EXEC.run(_given(options), command))
