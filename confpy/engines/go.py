"""The Go engine: confd's Go templates on confpy's own text/template (confpy.engines.gotemplate).

A template is parsed once and re-parsed when its file changes; it renders with confd's function
map straight into the writer, as confd's Execute writes into its stage file. Imported only when
a resource renders with Go (confpy.engines.select).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confpy.config.resource import TemplateResource
from confpy.engines.base import failed_at, failure_reason
from confpy.engines.forkfuncs import include_path
from confpy.engines.gotemplate import GoTemplate, parse
from confpy.engines.gotemplate.confd import SIGNATURES, go_functions
from confpy.errors import FunctionError, TemplateError, reason
from confpy.store import KeyStore

if TYPE_CHECKING:
    from confpy.engines.analysis import Analysis, Conversion

__all__ = ["GoEngine"]


class GoEngine:
    """Go's text/template with confd's functions, for one templates directory."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self._cache: dict[Path, tuple[int, GoTemplate]] = {}
        # Each resource's template path, made once: a Path made anew per render costs more than
        # the stat that reads its mtime (~50 us each between puts, measured in a paced loop).
        self._paths: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._texts: dict[str, GoTemplate] = {}  # each-resources' dest file names, parsed

    def load(self, resource: TemplateResource) -> GoTemplate:
        """The parsed Go template, re-parsed only when its file changes."""
        path = self._paths.get(resource.src) or self._paths.setdefault(
            resource.src, self.templates_dir / resource.src
        )
        try:
            return self._parsed(path)
        except FileNotFoundError:
            raise TemplateError(f"{resource.name}: missing template: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{resource.name}: cannot read template {path}: {exc}") from None
        except TemplateError as exc:
            raise self._error(exc, resource) from exc

    def _parsed(self, path: Path) -> GoTemplate:
        """The template in `path`, from the cache while its file is unchanged (OSError, or Go's
        parse error as a TemplateError)."""
        mtime = os.stat(path).st_mtime_ns
        with self._lock:
            cached = self._cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        template = parse(path.read_text(encoding="utf-8"), path.name, SIGNATURES)
        with self._lock:
            self._cache[path] = (mtime, template)
        return template

    def render(
        self,
        resource: TemplateResource,
        store: KeyStore,
        write: Callable[[str], None],
        item: str | None = None,
    ) -> None:
        """Dot is nil, as in confd, or an each-resource's item key."""
        template = self.load(resource)
        functions = go_functions(store)
        functions["include"] = self._include(functions)
        try:
            template.stream(write, functions, item)
        except TemplateError as exc:
            raise self._error(exc, resource) from exc

    def render_text(self, resource: TemplateResource, text: str, store: KeyStore, item: str) -> str:
        """`text` (an each-resource's dest file name) rendered as a Go template, dot the item."""
        try:
            with self._lock:
                template = self._texts.get(text)
            if template is None:
                template = parse(text, "dest", SIGNATURES)
                with self._lock:
                    self._texts[text] = template
            return template.execute(go_functions(store), item)
        except TemplateError as exc:
            raise TemplateError(f"{resource.name}: dest file name {text!r}: {exc}") from exc

    def _include(self, functions: dict[str, Callable[..., Any]]) -> Callable[..., str]:
        """The fork's include (include.go NewIncludeFunc) for one render: another template of the
        templates directory rendered with the same functions, its dot the optional argument, and
        the fork's errors (outside the directory, a cycle, too deep, missing, parse, execute)."""
        stack: list[Path] = []

        def include(name: str, *data: Any) -> str:
            path = include_path(name, self.templates_dir, stack)
            try:
                template = self._parsed(path)
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else reason(exc)
                detail = f"include {name}: open {path}: {why[:1].lower()}{why[1:]}"
                raise FunctionError(detail, detail) from None
            except TemplateError as exc:
                detail = f"parse include {name}: {exc}"
                raise FunctionError(detail, detail) from None
            stack.append(path)
            try:
                return template.execute(functions, data[0] if data else None)
            except TemplateError as exc:
                detail = f"execute include {name}: {exc}"
                raise FunctionError(detail, detail) from None
            finally:
                stack.pop()

        return include

    def _error(self, exc: TemplateError, resource: TemplateResource) -> TemplateError:
        """Go's error, byte for byte as Go says it (`template: NAME:LINE:COL: ...`, NAME the bare
        file name, as confd names it), after confpy's `RESOURCE: SRC:LINE: ` (`failed_at`)."""
        return failed_at(resource, resource.src, exc.line, str(exc), self.templates_dir / resource.src)

    def analyse(self, resource: TemplateResource) -> Analysis:
        """The template parsed by the engine that renders it (confd parses only `src` itself)."""
        from confpy.engines.analysis import Analysis, Problem, TemplateUse

        path = self.templates_dir / resource.src
        if not path.is_file():
            return Analysis(renderable=False, missing_src=path)
        try:
            self.load(resource)
        except TemplateError as exc:
            message = failure_reason(exc, resource, self.templates_dir)
            if exc.line is not None:  # Go's `template: NAME:LINE: ` is the problem's FILE:LINE
                message = message.removeprefix(f"template: {path.name}:{exc.line}: ")
            problem = Problem(str(path), exc.line, f"template syntax error: {message}")
            return Analysis(renderable=False, uses=[TemplateUse(str(path), [problem])])
        return Analysis(renderable=True, templates=[resource.src], uses=[TemplateUse(str(path))])

    def locate(self, exc: TemplateError, resource: TemplateResource) -> tuple[str | None, int | None, str]:
        """The template and line the error has (where Go's message names a line); the message stays
        whole, as Go says it."""
        message = failure_reason(exc, resource, self.templates_dir)
        return (None if exc.line is None else str(exc.path)), exc.line, message

    def convert(self, text: str, name: str) -> Conversion:
        """The Jinja2 twin of a Go template; a TemplateError if the Go template does not parse."""
        from confpy.engines.convert import convert

        return convert(text, name)
