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
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import jinja2
from jinja2 import nodes

from confpy._go.path import path_join, path_under
from confpy.backends.file import load_file
from confpy.config.duration import format_duration
from confpy.config.resource import TemplateResource, load_resources
from confpy.config.settings import Settings, load_settings
from confpy.engines.render import Renderer
from confpy.errors import ConfigError, ConfpyError, TemplateError
from confpy.pipeline.deadline import RenderTimeout, deadline
from confpy.store import KeyStore

__all__ = ["Problem", "check_confdir"]

KEY_FUNCTIONS = frozenset({"get", "getv", "gets", "getvs", "exists", "ls", "lsdir"})
PATTERN_FUNCTIONS = frozenset({"gets", "getvs"})
# Names Jinja provides inside templates without a declaration.
_IMPLICIT_NAMES = frozenset({"loop", "super", "self", "caller", "varargs", "kwargs"})
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_TOML_KEY = re.compile(r"""\s*["']?([A-Za-z0-9_-]+)["']?\s*=""")
_WHERE = re.compile(r"[^\s:]+:\d+: ")
_GO_WHERE = re.compile(r"template: [^:]*:(\d+)(?::\d+)?: ")


@dataclass(frozen=True)
class Problem:
    """One finding: where it is and what is wrong."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


@dataclass
class _KeyRead:
    function: str
    literal: str
    prefix_only: bool
    """Only `literal`'s start is known: a pattern's part before `*?[`, or a concatenation's first part."""
    line: int


@dataclass
class _TemplateInfo:
    """What one template uses, independent of the resource that renders it."""

    name: str
    path: str
    parsed: bool
    problems: list[Problem] = field(default_factory=list)
    declared: set[str] = field(default_factory=set)
    names: list[tuple[str, int, bool]] = field(default_factory=list)
    filters: list[tuple[str, int]] = field(default_factory=list)
    tests: list[tuple[str, int]] = field(default_factory=list)
    references: list[tuple[str, int, bool]] = field(default_factory=list)
    key_reads: list[_KeyRead] = field(default_factory=list)


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


def _mentioned_line(path: Path, message: str) -> int | None:
    """The line of the TOML key the message mentions first ("mode must be ..." -> the `mode =` line)."""
    best: tuple[int, int] | None = None
    for key, number in _toml_keys(path):
        for spelling in {
            key,
            key.replace("-", "_"),
            key.replace("_", "-"),
            key.replace("-", " ").replace("_", " "),
        }:
            match = re.search(rf"(?<![\w-]){re.escape(spelling)}(?![\w-])", message)
            if match and (best is None or match.start() < best[0]):
                best = (match.start(), number)
    return None if best is None else best[1]


def _table_line(path: Path, table: str) -> int | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for number, line in enumerate(lines, 1):
        if line.strip() == f"[{table}]":
            return number
    return None


def _config_problem(exc: ConfigError, default_file: Path) -> Problem:
    """A ConfigError as FILE:LINE: the file it names first (or `default_file`), the line it is about."""
    message = str(exc)
    file = default_file
    head, sep, rest = message.partition(": ")
    if sep and (head.endswith("toml") or head == str(default_file) or Path(head).exists()):
        file, message = Path(head), rest
    located = _TOML_LINE.search(message)
    if located:
        return Problem(str(file), int(located.group(1)), message)
    if not file.is_file():
        return Problem(str(file), None, message)
    line = _mentioned_line(file, message) or _table_line(file, "template") or 1
    return Problem(str(file), line, message)


@contextmanager
def _captured_warnings() -> Iterator[list[logging.LogRecord]]:
    """confpy's warnings while loading (unknown fields, ...), kept instead of logged."""
    logger = logging.getLogger("confpy")
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


# --- analysing Jinja templates ------------------------------------------------------------------


def _literal(node: nodes.Expr) -> tuple[str, bool] | None:
    """A key argument's text: (whole literal, False), (known start of it, True), or None."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return node.value, False
    if isinstance(node, nodes.Concat) and node.nodes:
        first = _literal(node.nodes[0])
        return None if first is None else (first[0], True)
    if isinstance(node, nodes.Add):
        left = _literal(node.left)
        return None if left is None else (left[0], True)
    return None


def _declared_names(ast: nodes.Template) -> set[str]:
    """Every name a template binds: assignments, loop targets, macro names and parameters, imports."""
    declared = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    declared.update(m.name for m in ast.find_all(nodes.Macro))
    declared.update(i.target for i in ast.find_all(nodes.Import))
    for node in ast.find_all(nodes.FromImport):
        for item in node.names:
            declared.add(item[1] if isinstance(item, tuple) else item)
    return declared


def _referenced(ast: nodes.Template) -> list[tuple[str, int, bool]]:
    """Templates named by a literal in include/import/extends: (name, line, missing is fine)."""
    found = []
    for node in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        assert isinstance(node, nodes.Extends | nodes.Include | nodes.Import | nodes.FromImport)
        target = node.template
        ignore_missing = isinstance(node, nodes.Include) and node.ignore_missing
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            found.append((target.value, node.lineno, ignore_missing))
    return found


def _analyse(ast: nodes.Template, info: _TemplateInfo) -> None:
    info.declared = _declared_names(ast)
    info.references = _referenced(ast)
    called = {id(c.node) for c in ast.find_all(nodes.Call)}
    for name in ast.find_all(nodes.Name):
        if name.ctx == "load":
            info.names.append((name.name, name.lineno, id(name) in called))
    info.filters = [(f.name, f.lineno) for f in ast.find_all(nodes.Filter)]
    info.tests = [(t.name, t.lineno) for t in ast.find_all(nodes.Test)]
    for call in ast.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name in KEY_FUNCTIONS and call.args:
            literal = _literal(call.args[0])
            if literal is not None:
                info.key_reads.append(_KeyRead(call.node.name, literal[0], literal[1], call.lineno))


def _pattern_start(pattern: str) -> tuple[str, bool]:
    for index, char in enumerate(pattern):
        if char in "*?[\\":
            return pattern[:index], True
    return pattern, False


def _declares(declared: Sequence[str], read: _KeyRead) -> bool:
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
        self.env = renderer.env
        self.problems: list[Problem] = []
        self.templates: dict[str, _TemplateInfo] = {}

    def template(self, name: str) -> _TemplateInfo | None:
        """The analysis of template `name`, or None if there is no such template."""
        if name in self.templates:
            return self.templates[name]
        loader = self.env.loader
        assert loader is not None
        try:
            source, filename, _ = loader.get_source(self.env, name)
        except jinja2.TemplateNotFound:
            return None
        path = filename or str(self.renderer.templates_dir / name)
        info = _TemplateInfo(name, path, parsed=False)
        self.templates[name] = info
        try:
            self.env.get_template(name)
            ast = self.env.parse(source, name, filename)
        except jinja2.TemplateSyntaxError as exc:
            info.problems.append(Problem(path, exc.lineno, f"template syntax error: {exc.message}"))
            return info
        info.parsed = True
        _analyse(ast, info)
        return info

    def check_resource(self, resource: TemplateResource) -> bool:
        """Every template of `resource`; True if they all parse and exist (it can be rendered)."""
        if resource.engine == "go":
            return self._check_go(resource)
        main = self.template(resource.src)
        if main is None:
            line = _mentioned_line(resource.path, "src")
            missing = self.renderer.templates_dir / resource.src
            self.problems.append(Problem(str(resource.path), line, f"missing template: {missing}"))
            return False
        graph = self._graph(main)
        known = set(self.env.globals) | _IMPLICIT_NAMES
        for info in graph:
            known |= info.declared
        declared_keys = sorted({path_join("/", k) for k in resource.keys})
        ok = True
        for info in graph:
            ok = ok and info.parsed
            self.problems.extend(info.problems)
            for name, line, is_call in info.names:
                if name not in known:
                    what = "unknown function" if is_call else "undefined variable"
                    self.problems.append(Problem(info.path, line, f"{what} {name!r}"))
            for name, line in info.filters:
                if name not in self.env.filters:
                    self.problems.append(Problem(info.path, line, f"unknown filter {name!r}"))
            for name, line in info.tests:
                if name not in self.env.tests:
                    self.problems.append(Problem(info.path, line, f"unknown test {name!r}"))
            for read in info.key_reads:
                if not _declares(declared_keys, read):
                    keys = ", ".join(declared_keys) or "none"
                    shown = f'"{read.literal}"' + (" ~ ..." if read.prefix_only else "")
                    self.problems.append(
                        Problem(
                            info.path,
                            read.line,
                            f"{read.function}({shown}): not under a key {resource.name} declares ({keys})",
                        )
                    )
            for name, line, ignore_missing in info.references:
                if name not in self.templates and not ignore_missing:
                    missing = self.renderer.templates_dir / name
                    self.problems.append(Problem(info.path, line, f"missing template: {missing}"))
                    ok = False
        return ok

    def _check_go(self, resource: TemplateResource) -> bool:
        """A Go template: parsed by the engine that renders it (confd parses only `src` itself)."""
        path = self.renderer.templates_dir / resource.src
        if not path.is_file():
            line = _mentioned_line(resource.path, "src")
            self.problems.append(Problem(str(resource.path), line, f"missing template: {path}"))
            return False
        try:
            self.renderer.load_go(resource)
        except TemplateError as exc:
            line, message = _go_location(str(exc).removeprefix(f"{resource.name}: "))
            self.problems.append(Problem(str(path), line, f"template syntax error: {message}"))
            return False
        self.templates.setdefault(resource.src, _TemplateInfo(resource.src, str(path), parsed=True))
        return True

    def _graph(self, main: _TemplateInfo) -> list[_TemplateInfo]:
        """`main` and every template it reaches through literal include/import/extends names."""
        seen = {main.name: main}
        stack = [main]
        while stack:
            for name, _, _ in stack.pop().references:
                if name not in seen:
                    info = self.template(name)
                    if info is not None:
                        seen[name] = info
                        stack.append(info)
        return list(seen.values())


# --- rendering sample data ----------------------------------------------------------------------


def _go_location(message: str) -> tuple[int | None, str]:
    """The line of Go's `template: NAME:LINE[:COL]: rest` message, and the rest."""
    located = _GO_WHERE.match(message)
    if located is None:
        return None, message
    return int(located.group(1)), message[located.end() :]


def _data_problem(exc: ConfpyError, data: Path) -> Problem:
    message = str(exc)
    rest = message.removeprefix(str(data))
    located = re.match(r" line (\d+): (.*)", rest, re.DOTALL)
    if located:
        return Problem(str(data), int(located.group(1)), located.group(2))
    return Problem(str(data), None, rest.removeprefix(": ") if rest != message else message)


def _render_problem(
    exc: TemplateError, resource: TemplateResource, renderer: Renderer, data: Path
) -> Problem:
    """Where in which template the render failed (the innermost template frame), and why."""
    file, line = str(resource.path), None
    message = str(exc).removeprefix(f"{resource.name}: ")
    cause = exc.__cause__
    if resource.engine == "go":  # Go's message names the line itself, and stays whole, as Go says it
        line = _go_location(message)[0]
        if line is not None:
            file = str(renderer.templates_dir / resource.src)
        return Problem(file, line, f"{resource.name}: rendering with {data.name}: {message}")
    if cause is not None:
        root = str(renderer.templates_dir.resolve())
        for frame in reversed(traceback.extract_tb(cause.__traceback__)):
            if frame.filename.startswith((root, str(renderer.templates_dir))):
                file, line = frame.filename, frame.lineno
                break
    where = _WHERE.match(message)
    if where:
        message = message[where.end() :]
    return Problem(file, line, f"{resource.name}: rendering with {data.name}: {message}")


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
        try:
            with deadline(limit):
                content = renderer.render(resource, KeyStore(resource.view(values)))
        except TemplateError as exc:
            problems.append(_render_problem(exc, resource, renderer, data))
            continue
        except RenderTimeout:
            message = f"took longer than render_timeout ({format_duration(limit)}) and was stopped"
            problems.append(
                Problem(str(resource.path), None, f"{resource.name}: rendering with {data.name}: {message}")
            )
            continue
        out.write(f"==> {resource.dest} ({resource.name}) <==\n")
        # bytes that are not UTF-8 (a Go template's, base64Decode's) show as U+FFFD on a terminal
        content = content.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        out.write(content if content.endswith("\n") or not content else content + "\n")
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
            problems.append(_config_problem(exc, confdir / "confd.toml"))
        try:
            resources, errors = load_resources(confdir, global_prefix=settings.prefix)
        except ConfigError as exc:  # no conf.d at all
            resources, errors = [], [exc]
    problems.extend(_config_problem(e, confdir / "conf.d") for e in errors)
    if not resources and not errors:
        problems.append(Problem(str(confdir / "conf.d"), None, "no template resources (*.toml) found"))

    checker = _Checker(Renderer(confdir / "templates"))
    renderable = [r for r in resources if checker.check_resource(r)]
    problems.extend(sorted(checker.problems, key=lambda p: (p.file, p.line or 0)))
    if data is not None:
        problems.extend(_render_all(renderable, checker.renderer, data, out, settings.render_timeout))

    for record in warnings:
        warning = _config_problem(ConfigError(record.getMessage()), confdir / "confd.toml")
        err.write(f"{Problem(warning.file, warning.line, 'warning: ' + warning.message)}\n")
    for problem in dict.fromkeys(problems):
        err.write(f"{problem}\n")
    if problems:
        return 1
    summary = f"ok: {len(resources)} resources, {len(checker.templates)} templates in {confdir}"
    out.write(summary + (f", rendered with {data}\n" if data is not None else "\n"))
    return 0
