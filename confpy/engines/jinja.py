"""The Jinja2 engine: one environment per templates directory, templates compiled once, confd's
functions as globals, and the analysis `confpy check` runs on Jinja templates.

The store functions (getv, gets, ...) read the store of the render in progress through a context
variable, so one environment and its compiled-template cache serve every resource and thread, and
`import`ed macros see the same functions as the template that imports them. Imported only when a
resource renders with Jinja2 (confpy.engines.select).
"""

from __future__ import annotations

import functools
import os
import re
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes

from confpy.config.resource import TemplateResource
from confpy.engines.base import failed_at, failure_reason
from confpy.engines.filters import VALIDATING_FILTERS
from confpy.engines.forkfuncs import FORK_FILTER_NAMES, FORK_FUNCTIONS, include_path
from confpy.engines.functions import FILTER_NAMES, make_functions
from confpy.engines.jsonnumber import json_numbers
from confpy.errors import ConfpyError, KeyNotFoundError, TemplateError, closest, did_you_mean, reason
from confpy.store import KeyStore, KVPair

if TYPE_CHECKING:
    from confpy.engines.analysis import Analysis, Conversion, KeyRead, Problem

__all__ = ["KEY_FUNCTIONS", "JinjaEngine"]

_active: ContextVar[KeyStore] = ContextVar("confpy_active_store")
#: the templates the include function is rendering, outermost first (cycles, depth)
_including: ContextVar[tuple[Path, ...]] = ContextVar("confpy_including", default=())
_BATCH = 256  # pieces of Jinja output joined before they are written

# The patterns of error messages, compiled on first use (re's cache): only a failing render needs them.
# Jinja's wording for a name it does not know, at render time and at compile time.
_UNDEFINED = r"'([^']+)' is undefined"
_NO_FILTER = r"No (filter|test) named '([^']+)'\.?"
# Jinja names the type of an object by its Python path: 'jinja2.utils.Namespace object'.
_MODULE_PATH = r"'(?:\w+\.)+(\w+ object)'"
# Python's wording for a call with the wrong arguments: `getv() missing 1 required ...`.
_CALL = r"(?s)([\w.]+)\(\) (.+)"
# The Python errors a template can cause, in the user's words (most specific first); Python's
# message follows, except where it says all (`division by zero`).
_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (ZeroDivisionError, ""),
    (OverflowError, "number too large"),
    (ArithmeticError, "arithmetic error"),
    (AttributeError, "no such attribute"),
    (LookupError, "no such key or index"),
    (TypeError, "wrong type"),
    (ValueError, "invalid value"),
    (MemoryError, ""),
    (RecursionError, "too deeply nested"),
    (RuntimeError, "failed"),
    (AssertionError, "invalid argument"),  # Jinja's filters check some arguments by assert
)
# What a render turns into a TemplateError: confpy's, Jinja's, and the Python errors above.
_RENDER_ERRORS: tuple[type[BaseException], ...] = (
    ConfpyError,
    jinja2.TemplateError,
    *(cls for cls, _ in _KINDS),
)

#: The store functions whose literal key argument `confpy check` compares with the resource's keys.
KEY_FUNCTIONS = frozenset({"get", "getv", "gets", "getvs", "exists", "ls", "lsdir"})
# Names Jinja provides inside templates without a declaration.
_IMPLICIT_NAMES = frozenset({"loop", "super", "self", "caller", "varargs", "kwargs"})


class _ActiveStore(KeyStore):
    """Forwards every lookup to the store of the render running in the current context."""

    __slots__ = ()

    def get(self, key: str) -> KVPair:
        return _active.get().get(key)

    def getv(self, key: str, *default: str) -> str:
        return _active.get().getv(key, *default)

    def gets(self, pattern: str) -> list[KVPair]:
        return _active.get().gets(pattern)

    def getvs(self, pattern: str) -> list[str]:
        return _active.get().getvs(pattern)

    def exists(self, key: str) -> bool:
        return _active.get().exists(key)

    def ls(self, path: str) -> list[str]:
        return _active.get().ls(path)

    def lsdir(self, path: str) -> list[str]:
        return _active.get().lsdir(path)


def _printing_like_go(decode: Callable[..., Any]) -> Callable[..., Any]:
    """A JSON decoder whose numbers print in Jinja as confd prints them (see confpy.engines.jsonnumber)."""

    @functools.wraps(decode)
    def wrapper(*args: Any) -> Any:
        return json_numbers(decode(*args))

    return wrapper


def _dict(*pairs: Any, **items: Any) -> dict[str, Any]:
    """`dict("a", 1, "b", 2)` as the fork's (CreateMap), `dict(a=1)` as Jinja's own, or both."""
    result: dict[str, Any] = FORK_FUNCTIONS["dict"](*pairs)
    result.update(items)
    return result


def _hostname(*value: Any) -> Any:
    """`hostname()` is the fork's (the machine's name); `hostname(x)` confpy's validating filter."""
    return VALIDATING_FILTERS["hostname"](*value) if value else FORK_FUNCTIONS["hostname"]()


@contextmanager
def _using(store: KeyStore) -> Iterator[None]:
    token = _active.set(store)
    try:
        yield
    finally:
        _active.reset(token)


class JinjaEngine:
    """Jinja2 with `keep_trailing_newline=True` and confd's functions, for one templates directory."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            keep_trailing_newline=True,
            auto_reload=True,
            # Every template stays compiled: Jinja's default keeps 400, and with more resources
            # than that each change would recompile its template (~2 ms) instead of rendering it.
            cache_size=-1,
        )
        functions = {**FORK_FUNCTIONS, **make_functions(_ActiveStore())}  # confd's override the fork's
        for name in ("json", "jsonArray", "fromJson"):
            functions[name] = _printing_like_go(functions[name])
        functions["dict"] = _dict
        functions["include"] = self._include
        self.env.globals.update(functions)
        self.env.filters.update(VALIDATING_FILTERS)
        self.env.globals.update(VALIDATING_FILTERS)
        self.env.globals["hostname"] = _hostname
        # Jinja's own filters of the same name (join, replace, reverse; default, list, indent)
        # keep their Jinja meaning; the fork's functions are there under those names as globals.
        self.env.filters.update(
            {n: functions[n] for n in FILTER_NAMES | FORK_FILTER_NAMES if n not in self.env.filters}
        )
        self._texts: dict[str, jinja2.Template] = {}  # each-resources' dest file names, compiled
        # The functions and filters templates call, by the name Python's errors give them.
        self._callables = {
            getattr(f, "__qualname__", n): n
            for table in (self.env.filters, self.env.globals)
            for n, f in table.items()
        }

    # --- rendering ------------------------------------------------------------------------------

    def load(self, resource: TemplateResource) -> jinja2.Template:
        """The compiled template of `resource`: a missing file or a syntax error names file and line."""
        try:
            return self.env.get_template(resource.src)
        except jinja2.TemplateNotFound as exc:
            raise self._missing(exc, resource) from None
        except jinja2.TemplateSyntaxError as exc:
            raise self._syntax_error(exc, resource) from None

    def render(
        self,
        resource: TemplateResource,
        store: KeyStore,
        write: Callable[[str], None],
        item: str | None = None,
    ) -> None:
        template = self.load(resource)
        try:
            with _using(store):
                pieces = template.generate() if item is None else template.generate(item=item)
                # Jinja yields a piece per output node; islice hands them over in batches at C
                # speed, where a Python loop over each piece would double the cost of a render.
                while batch := list(islice(pieces, _BATCH)):
                    write("".join(batch))
        except jinja2.TemplateSyntaxError as exc:  # an include or import that does not parse
            raise self._syntax_error(exc, resource) from None
        except jinja2.TemplateNotFound as exc:
            raise self._missing(exc, resource) from None
        except KeyNotFoundError as exc:
            raise self._failure(exc, resource, str(exc)) from exc
        except _RENDER_ERRORS as exc:
            raise self._failure(exc, resource, self._reason(exc)) from exc

    def render_text(self, resource: TemplateResource, text: str, store: KeyStore, item: str) -> str:
        """`text` (an each-resource's dest file name) rendered as Jinja2 with `item` bound."""
        where = f"{resource.name}: dest file name {text!r}"
        try:
            template = self._texts.get(text) or self._texts.setdefault(text, self.env.from_string(text))
            with _using(store):
                return template.render(item=item)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{where}: template syntax error: {exc.message}") from None
        except _RENDER_ERRORS as exc:
            raise TemplateError(f"{where}: {self._reason(exc)}") from exc

    def locate(self, exc: TemplateError, resource: TemplateResource) -> tuple[str | None, int | None, str]:
        """The template and line the error has (see `_failure`); the message after its `file:line: `."""
        message = failure_reason(exc, resource, self.templates_dir)
        return (None if exc.line is None else str(exc.path)), exc.line, message

    def convert(self, text: str, name: str) -> Conversion:
        """A Jinja2 template is its own translation."""
        from confpy.engines.analysis import Conversion

        return Conversion(text)

    def _include(self, name: object, data: object = None) -> str:
        """The fork's include (include.go) as a function: another template rendered to a string
        (so it can be piped: `include("x.j2") | indent(4)`), a map's items its variables; the
        fork's limits (confpy.engines.forkfuncs.include_path). `{% include %}` stays Jinja's."""
        stack = list(_including.get())
        path = include_path(name, self.templates_dir, stack)
        if data is not None and not (isinstance(data, Mapping) and all(isinstance(k, str) for k in data)):
            raise TemplateError(
                f"include: the data for {name!r} must be a map with string keys, got {data!r}"
            )
        template = self.env.get_template(path.relative_to(self.templates_dir).as_posix())
        token = _including.set((*stack, path))
        try:
            return template.render(**(data or {}))
        finally:
            _including.reset(token)

    def _reason(self, exc: BaseException) -> str:
        """What went wrong in the user's words: Jinja's own error classes are not named."""
        if isinstance(exc, ConfpyError):
            return str(exc)
        if isinstance(exc, jinja2.UndefinedError) and (match := re.fullmatch(_UNDEFINED, str(exc))):
            name = match.group(1)
            return f"unknown function or variable {name!r}{did_you_mean(closest(name, self.env.globals))}"
        if isinstance(exc, jinja2.TemplateError):
            return self._unknown_filter(str(exc)) or re.sub(_MODULE_PATH, r"'\1'", str(exc))
        told = reason(exc)
        if isinstance(exc, TypeError) and (match := re.fullmatch(_CALL, told)):
            name, rest = match.groups()
            return f"wrong arguments to {self._callables.get(name, name)}: {rest}"
        if isinstance(exc, TypeError) and "argument" in told:  # a macro's: Jinja names it
            return f"wrong arguments: {told}"
        kind = next(kind for cls, kind in _KINDS if isinstance(exc, cls))
        return f"{kind}: {told}" if kind and told != kind else told

    def _syntax_error(self, exc: jinja2.TemplateSyntaxError, resource: TemplateResource) -> TemplateError:
        message = exc.message or ""
        message = self._unknown_filter(message) or message
        name = self._name(exc.filename or "") or resource.src
        return failed_at(resource, name, exc.lineno, f"template syntax error: {message}", self._path(name))

    def _unknown_filter(self, message: str) -> str | None:
        """Jinja's `No filter named 'x'.` (at compile time, or at render time as map's argument)
        in the user's words, with the close name; None for any other message."""
        if not (match := re.fullmatch(_NO_FILTER, message)):
            return None
        kind, name = match.groups()
        known = self.env.filters if kind == "filter" else self.env.tests
        return f"unknown {kind} {name!r}{did_you_mean(closest(name, known))}"

    def _missing(self, exc: jinja2.TemplateNotFound, resource: TemplateResource) -> TemplateError:
        """The resource's template, or one it includes or imports, does not exist."""
        return TemplateError(f"{resource.name}: missing template: {self._path(str(exc.name))}")

    def _path(self, name: str) -> Path:
        """How messages name a template: its path under the confdir, as `confpy check` names it."""
        return self.templates_dir / name

    def _name(self, filename: str) -> str | None:
        """A file Jinja loaded (its own path, or the resolved one), by its name under templates/."""
        for base in (str(self.templates_dir), str(self.templates_dir.resolve())):
            if filename.startswith(base + os.sep):
                return filename[len(base) + 1 :]
        return None

    def _failure(self, exc: BaseException, resource: TemplateResource, reason: str) -> TemplateError:
        """`resource: name:line: reason` (`failed_at`) for the innermost template frame in the
        traceback (Jinja maps frames to lines), else for the resource's template, without a line."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            name = self._name(frame.filename)
            if name is not None:
                return failed_at(resource, name, frame.lineno, reason, self._path(name))
        return failed_at(resource, resource.src, None, reason, self._path(resource.src))

    # --- analysis (confpy check) ----------------------------------------------------------------

    def analyse(self, resource: TemplateResource) -> Analysis:
        """The resource's template and every template it reaches by a literal name in include,
        import or extends: syntax, names never defined, unknown filters and tests, key reads."""
        from confpy.engines.analysis import Analysis, Problem, TemplateUse

        main = self._template(resource.src)
        if main is None:
            return Analysis(renderable=False, missing_src=self._path(resource.src))
        graph = _graph(main, self._template)
        known = set(self.env.globals) | _IMPLICIT_NAMES | ({"item"} if resource.each else set())
        for info in graph:
            known |= info.declared
        analysis = Analysis(renderable=True, templates=[info.name for info in graph])
        for info in graph:
            analysis.renderable = analysis.renderable and info.parsed
            use = TemplateUse(info.path, list(info.problems), info.key_reads)
            for name, line, is_call in info.names:
                if name not in known:
                    what = "unknown function" if is_call else "undefined variable"
                    use.problems.append(Problem(info.path, line, f"{what} {name!r}"))
            for name, line in info.filters:
                if name not in self.env.filters:
                    use.problems.append(Problem(info.path, line, f"unknown filter {name!r}"))
            for name, line in info.tests:
                if name not in self.env.tests:
                    use.problems.append(Problem(info.path, line, f"unknown test {name!r}"))
            for name, line, ignore_missing in info.references:
                if name not in analysis.templates and not ignore_missing:
                    use.missing.append(Problem(info.path, line, f"missing template: {self._path(name)}"))
                    analysis.renderable = False
            analysis.uses.append(use)
        return analysis

    def _template(self, name: str) -> _TemplateInfo | None:
        """What template `name` uses, or None if there is no such template."""
        loader = self.env.loader
        assert loader is not None
        try:
            source, filename, _ = loader.get_source(self.env, name)
        except jinja2.TemplateNotFound:
            return None
        info = _TemplateInfo(name, filename or str(self._path(name)), parsed=False)
        try:
            self.env.get_template(name)
            ast = self.env.parse(source, name, filename)
        except jinja2.TemplateSyntaxError as exc:
            from confpy.engines.analysis import Problem

            info.problems.append(Problem(info.path, exc.lineno, f"template syntax error: {exc.message}"))
            return info
        info.parsed = True
        _analyse(ast, info)
        return info


class _TemplateInfo:
    """What one template uses, independent of the resource that renders it."""

    def __init__(self, name: str, path: str, *, parsed: bool) -> None:
        self.name = name
        self.path = path
        self.parsed = parsed
        self.problems: list[Problem] = []
        self.declared: set[str] = set()
        self.names: list[tuple[str, int, bool]] = []
        self.filters: list[tuple[str, int]] = []
        self.tests: list[tuple[str, int]] = []
        self.references: list[tuple[str, int, bool]] = []
        self.key_reads: list[KeyRead] = []


def _graph(main: _TemplateInfo, find: Callable[[str], _TemplateInfo | None]) -> list[_TemplateInfo]:
    """`main` and every template it reaches through literal include/import/extends names."""
    seen = {main.name: main}
    stack = [main]
    while stack:
        for name, _, _ in stack.pop().references:
            if name not in seen:
                info = find(name)
                if info is not None:
                    seen[name] = info
                    stack.append(info)
    return list(seen.values())


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
    from confpy.engines.analysis import KeyRead

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
                info.key_reads.append(KeyRead(call.node.name, literal[0], literal[1], call.lineno))
