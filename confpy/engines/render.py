"""Rendering: one Jinja2 environment, templates compiled once, confd's functions as globals.

The store functions (getv, gets, ...) read the store of the render in progress through a context
variable, so one environment and its compiled-template cache serve every resource and thread, and
`import`ed macros see the same functions as the template that imports them.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from confpy.config.resource import TemplateResource
from confpy.engines.filters import VALIDATING_FILTERS
from confpy.engines.functions import FILTER_NAMES, make_functions
from confpy.engines.jsonnumber import json_numbers
from confpy.errors import ConfpyError, KeyNotFoundError, TemplateError, closest, did_you_mean, reason
from confpy.store import KeyStore, KVPair

if TYPE_CHECKING:
    from confpy.engines.gotemplate import GoTemplate

__all__ = ["Renderer"]

_active: ContextVar[KeyStore] = ContextVar("confpy_active_store")
_BATCH = 256  # pieces of Jinja output joined before they are written


# Jinja's wording for a name it does not know, at render time and at compile time.
_UNDEFINED = re.compile(r"'([^']+)' is undefined")
_NO_FILTER = re.compile(r"No (filter|test) named '([^']+)'\.?")


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


@contextmanager
def _using(store: KeyStore) -> Iterator[None]:
    token = _active.set(store)
    try:
        yield
    finally:
        _active.reset(token)


class Renderer:
    """Compiles the templates under `templates_dir` once and renders them against a key store.

    A resource's engine is Go's text/template (confd's own) for `engine = "go"` or a src ending
    in `.tmpl`, and Jinja2 otherwise.
    """

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self._go_cache: dict[Path, tuple[int, GoTemplate]] = {}
        self._go_lock = threading.Lock()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            keep_trailing_newline=True,
            auto_reload=True,
            # Every template stays compiled: Jinja's default keeps 400, and with more resources
            # than that each change would recompile its template (~2 ms) instead of rendering it.
            cache_size=-1,
        )
        functions = make_functions(_ActiveStore())
        for name in ("json", "jsonArray"):
            functions[name] = _printing_like_go(functions[name])
        self.env.globals.update(functions)
        self.env.filters.update(VALIDATING_FILTERS)
        self.env.globals.update(VALIDATING_FILTERS)
        # Jinja's own filters of the same name (join, replace, reverse) keep their Jinja meaning.
        self.env.filters.update({n: functions[n] for n in FILTER_NAMES if n not in self.env.filters})

    def load(self, resource: TemplateResource) -> jinja2.Template:
        """The compiled template of `resource`: a missing file or a syntax error names file and line."""
        try:
            return self.env.get_template(resource.src)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"{resource.name}: missing template: {self._path(str(exc.name))}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{resource.name}: {self._syntax_error(exc, resource)}") from None

    def load_go(self, resource: TemplateResource) -> GoTemplate:
        """The parsed Go template, re-parsed only when its file changes."""
        from confpy.engines.gotemplate import parse
        from confpy.engines.gotemplate.confd import SIGNATURES

        path = self.templates_dir / resource.src
        try:
            mtime = path.stat().st_mtime_ns
            with self._go_lock:
                cached = self._go_cache.get(path)
            if cached and cached[0] == mtime:
                return cached[1]
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TemplateError(f"{resource.name}: missing template: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{resource.name}: cannot read template {path}: {exc}") from None
        try:
            template = parse(text, path.name, SIGNATURES)
        except TemplateError as exc:
            raise TemplateError(f"{resource.name}: {exc}") from exc
        with self._go_lock:
            self._go_cache[path] = (mtime, template)
        return template

    def render(self, resource: TemplateResource, store: KeyStore) -> str:
        """Render the resource's template with `store`'s keys; every failure is a TemplateError."""
        pieces: list[str] = []
        self.render_to(resource, store, pieces.append)
        return "".join(pieces)

    def render_to(self, resource: TemplateResource, store: KeyStore, write: Callable[[str], None]) -> None:
        """Render as `render` does, handing the output to `write` piece by piece as it is made,
        so that a large output goes to its stage file and is never held in memory whole."""
        if resource.engine == "go":
            template = self.load_go(resource)
            from confpy.engines.gotemplate.confd import go_functions

            try:
                template.stream(write, go_functions(store))
            except TemplateError as exc:
                raise TemplateError(f"{resource.name}: {exc}") from exc
            return
        self._render_jinja(resource, store, write)

    def _render_jinja(
        self, resource: TemplateResource, store: KeyStore, write: Callable[[str], None]
    ) -> None:
        template = self.load(resource)
        try:
            with _using(store):
                pieces = template.generate()
                # Jinja yields a piece per output node; islice hands them over in batches at C
                # speed, where a Python loop over each piece would double the cost of a render.
                while batch := list(islice(pieces, _BATCH)):
                    write("".join(batch))
        except jinja2.TemplateSyntaxError as exc:  # an include or import that does not parse
            raise TemplateError(f"{resource.name}: {self._syntax_error(exc, resource)}") from None
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"{resource.name}: missing template: {self._path(str(exc.name))}") from None
        except KeyNotFoundError as exc:
            raise TemplateError(f"{resource.name}: {self._where(exc, resource)}: {exc}") from exc
        except (
            ConfpyError,
            jinja2.TemplateError,
            ArithmeticError,
            LookupError,
            TypeError,
            ValueError,
            MemoryError,
            RecursionError,
        ) as exc:
            raise TemplateError(
                f"{resource.name}: {self._where(exc, resource)}: {self._reason(exc)}"
            ) from exc

    def _reason(self, exc: BaseException) -> str:
        """What went wrong in the user's words: Jinja's own error classes are not named."""
        if isinstance(exc, ConfpyError):
            return str(exc)
        if isinstance(exc, jinja2.UndefinedError) and (match := _UNDEFINED.fullmatch(str(exc))):
            name = match.group(1)
            return f"unknown function or variable {name!r}{did_you_mean(closest(name, self.env.globals))}"
        if isinstance(exc, jinja2.TemplateError):
            return str(exc)
        return f"{type(exc).__name__}: {reason(exc)}"

    def _syntax_error(self, exc: jinja2.TemplateSyntaxError, resource: TemplateResource) -> str:
        message = exc.message or ""
        if match := _NO_FILTER.fullmatch(message):
            kind, name = match.groups()
            known = self.env.filters if kind == "filter" else self.env.tests
            message = f"unknown {kind} {name!r}{did_you_mean(closest(name, known))}"
        path = self._named(exc.filename or "") or self._path(resource.src)
        return f"{path}:{exc.lineno}: template syntax error: {message}"

    def _path(self, name: str) -> Path:
        """How messages name a template: its path under the confdir, as `confpy check` names it."""
        return self.templates_dir / name

    def _named(self, filename: str) -> Path | None:
        """A file Jinja loaded (its own path, or the resolved one), named as `_path` names it."""
        for base in (str(self.templates_dir), str(self.templates_dir.resolve())):
            if filename.startswith(base + os.sep):
                return self._path(filename[len(base) + 1 :])
        return None

    def _where(self, exc: BaseException, resource: TemplateResource) -> str:
        """`file:line` of the innermost template frame in the traceback (Jinja maps frames to lines)."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            named = self._named(frame.filename)
            if named is not None:
                return f"{named}:{frame.lineno}"
        return str(self._path(resource.src))
