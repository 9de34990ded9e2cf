"""`confpy check`: validate a confdir without a backend, as a CI step before it reaches a machine.

Checked: confd.toml; every template resource; every Jinja template a resource uses (its own and
what it includes, imports or extends, by literal name): syntax, missing templates, unknown
functions, filters and tests, variables that are never defined (they would render as nothing),
and string-literal keys read with get/getv/gets/getvs/exists/ls/lsdir that the resource does not
declare (its store holds only the declared keys, so such a read always fails or finds nothing).

With sample data (YAML or JSON, flattened as the file backend does, keys as they are stored in the
backend, prefixes included) every resource is rendered and printed; a render that runs past its
render_timeout is stopped and reported, so a runaway template cannot hang a CI step.

Each problem is one line, `FILE:LINE: message`, on `err`; warnings (unknown fields, say) are
printed too but do not fail the check. Exit status 1 if there was any problem, else 0.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from confpy._go.path import path_rooted, path_under
from confpy._go.strconv import go_bytes
from confpy.backends.file import load_file
from confpy.config.duration import format_duration
from confpy.config.resource import TemplateResource, load_resources
from confpy.config.settings import Settings, load_settings
from confpy.engines.analysis import KeyRead, Problem
from confpy.engines.render import Renderer
from confpy.errors import ConfigError, ConfpyError, TemplateError
from confpy.log import logger
from confpy.pipeline.deadline import RenderTimeout, deadline
from confpy.pipeline.each import file_names, items
from confpy.store import KeyStore

__all__ = ["check_confdir"]

PATTERN_FUNCTIONS = frozenset({"gets", "getvs"})
_TOML_KEY = re.compile(r"""\s*["']?([A-Za-z0-9_-]+)["']?\s*=""")


# --- locating problems in TOML files ------------------------------------------------------------


def _toml_keys(path: Path) -> list[tuple[str, int]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for number, line in enumerate(lines, 1):
        match = _TOML_KEY.match(line)
        if match:
            found.append((match.group(1), number))
    return found


def _key_line(path: Path, key: str) -> int | None:
    """The line of TOML key `key` in the file (written in snake or kebab case, as confd.toml allows)."""
    form = key.replace("-", "_")
    return next((number for found, number in _toml_keys(path) if found.replace("-", "_") == form), None)


def _table_line(path: Path, table: str) -> int | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for number, line in enumerate(lines, 1):
        if line.strip() == f"[{table}]":
            return number
    return None


def _config_problem(
    message: str, path: Path | None, line: int | None, key: str | None, default_file: Path
) -> Problem:
    """A problem with a configuration file as FILE:LINE: the error's file (`default_file` when it
    has none) and line (else the line of the TOML key it is about); the message without the file."""
    file = default_file if path is None else path
    message = message.removeprefix(f"{file}: ")
    if line is not None:
        return Problem(str(file), line, message)
    if not file.is_file():
        return Problem(str(file), None, message)
    line = (key and _key_line(file, key)) or _table_line(file, "template") or 1
    return Problem(str(file), line, message)


@contextmanager
def _captured_warnings() -> Iterator[list[logging.LogRecord]]:
    """confpy's warnings while loading (unknown fields, ...), kept instead of logged; each has the
    `path` of the file it is about when it is about one (confpy.log sets it), and the TOML `key`
    when the warning names one."""
    records: list[logging.LogRecord] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    logger.handlers[:] = [_Keep(logging.WARNING)]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield records
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


# --- the keys a template reads --------------------------------------------------------------


def _pattern_start(pattern: str) -> tuple[str, bool]:
    for index, char in enumerate(pattern):
        if char in "*?[\\":
            return pattern[:index], True
    return pattern, False


def _declares(declared: Sequence[str], read: KeyRead) -> bool:
    """Whether a template's read can find keys the resource fetched (each key and what is below it)."""
    text, partial = read.literal, read.prefix_only
    if read.function in PATTERN_FUNCTIONS and not partial:
        text, partial = _pattern_start(text)
    if partial:
        return any(path_under(text, d) or d.startswith(text) for d in declared)
    return any(path_under(text, d) for d in declared)


class _Checker:
    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.problems: list[Problem] = []
        self.templates: set[str] = set()

    def check_resource(self, resource: TemplateResource) -> bool:
        """Every template of `resource`, by its engine; True if they parse and exist (it can be rendered)."""
        analysis = self.renderer.engine(resource).analyse(resource)
        self.templates.update(analysis.templates)
        if analysis.missing_src is not None:
            line = _key_line(resource.path, "src")
            self.problems.append(
                Problem(str(resource.path), line, f"missing template: {analysis.missing_src}")
            )
            return False
        declared_keys = sorted({path_rooted(k) for k in resource.keys})
        for use in analysis.uses:
            self.problems.extend(use.problems)
            for read in use.key_reads:
                if not _declares(declared_keys, read):
                    keys = ", ".join(declared_keys) or "none"
                    shown = f'"{read.literal}"' + (" ~ ..." if read.prefix_only else "")
                    self.problems.append(
                        Problem(
                            use.path,
                            read.line,
                            f"{read.function}({shown}): not under a key {resource.name} declares ({keys})",
                        )
                    )
            self.problems.extend(use.missing)
        return analysis.renderable


# --- rendering sample data ----------------------------------------------------------------------


def _data_problem(exc: ConfpyError, data: Path) -> Problem:
    """A sample data file that does not load: `FILE LINE: message` as FILE:LINE: message."""
    message = str(exc)
    rest = message.removeprefix(str(data))
    if exc.line is not None:
        return Problem(str(data), exc.line, rest.removeprefix(f" line {exc.line}: "))
    return Problem(str(data), None, rest.removeprefix(": ") if rest != message else message)


def _render_problem(
    exc: TemplateError, resource: TemplateResource, renderer: Renderer, data: Path
) -> Problem:
    """Where in which template the render failed (as its engine locates it), and why."""
    file, line, message = renderer.engine(resource).locate(exc, resource)
    where = str(resource.path) if file is None else file
    return Problem(where, line, f"{resource.name}: rendering with {data.name}: {message}")


def _render_all(
    resources: Sequence[TemplateResource], renderer: Renderer, data: Path, out: TextIO, timeout: float
) -> list[Problem]:
    """Render each resource with the sample data; a render is stopped after its render_timeout."""
    try:
        values = load_file(str(data))
    except ConfpyError as exc:
        return [_data_problem(exc, data)]
    problems = []
    for resource in resources:
        limit = resource.render_timeout or timeout
        store = KeyStore(resource.view(values))
        files: list[tuple[Path, str | None]] = [(resource.dest, None)]
        try:
            with deadline(limit):
                if resource.each is not None:  # each item's file, named as the pipeline names it
                    names = file_names(resource, store, items(resource, store), renderer.render_text)
                    files = [(resource.each_dir / name, item) for name, item in names.items()]
                rendered = [(dest, renderer.render(resource, store, item)) for dest, item in files]
        except TemplateError as exc:
            problems.append(_render_problem(exc, resource, renderer, data))
            continue
        except RenderTimeout:
            message = f"took longer than render_timeout ({format_duration(limit)}) and was stopped"
            problems.append(
                Problem(str(resource.path), None, f"{resource.name}: rendering with {data.name}: {message}")
            )
            continue
        for dest, content in rendered:
            out.write(f"==> {dest} ({resource.name}) <==\n")
            # bytes that are not UTF-8 (a Go template's, base64Decode's) show as U+FFFD on a terminal
            text = go_bytes(content).decode("utf-8", "replace")
            out.write(text if text.endswith("\n") or not text else text + "\n")
    return problems


# --- the command --------------------------------------------------------------------------------


def check_confdir(confdir: Path, data: Path | None = None, *, out: TextIO, err: TextIO) -> int:
    """Check `confdir` (and render it against `data`); problems on `err`; 1 if any, else 0."""
    problems: list[Problem] = []
    with _captured_warnings() as warnings:
        settings = Settings()
        try:
            settings = load_settings({"confdir": str(confdir)}, environ={})
        except ConfigError as exc:
            problems.append(_config_problem(str(exc), exc.path, exc.line, exc.key, confdir / "confd.toml"))
        try:
            resources, errors = load_resources(confdir, global_prefix=settings.prefix)
        except ConfigError as exc:  # no conf.d at all
            resources, errors = [], [exc]
    problems.extend(_config_problem(str(e), e.path, e.line, e.key, confdir / "conf.d") for e in errors)
    if not resources and not errors:
        problems.append(Problem(str(confdir / "conf.d"), None, "no template resources (*.toml) found"))

    checker = _Checker(Renderer(confdir / "templates"))
    renderable = [r for r in resources if checker.check_resource(r)]
    problems.extend(sorted(checker.problems, key=lambda p: (p.file, p.line or 0)))
    if data is not None:
        problems.extend(_render_all(renderable, checker.renderer, data, out, settings.render_timeout))

    for record in warnings:
        about, key = getattr(record, "path", None), getattr(record, "key", None)
        warning = _config_problem(record.getMessage(), about, None, key, confdir / "confd.toml")
        err.write(f"{Problem(warning.file, warning.line, 'warning: ' + warning.message)}\n")
    for problem in dict.fromkeys(problems):
        err.write(f"{problem}\n")
    if problems:
        return 1
    summary = f"ok: {len(resources)} resources, {len(checker.templates)} templates in {confdir}"
    out.write(summary + (f", rendered with {data}\n" if data is not None else "\n"))
    return 0
