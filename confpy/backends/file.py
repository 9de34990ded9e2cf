"""The file backend (confd's `-file`): keys from YAML and JSON files and folders of them.

Files are flattened as confd does: map keys become path elements, list items their index
(`/hosts/0`), nulls are left out, and scalars are resolved and printed as confd's YAML library
(gopkg.in/yaml.v2) and Go print them: `y`/`on` are booleans, `0755` is octal, `1e3` is a float,
`12:30` stays text, floats print without exponent (`1000`, `0.5`). Later files override earlier
ones; folders are walked in lexical order, keeping names that match the filter glob.

confd only knows that "something changed"; here every change is diffed into key events with a
local revision counter, kept in a bounded history, so a watch resumes without losing any.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from decimal import Decimal
from typing import Any

import yaml

from confpy._go.path import path_join, path_match
from confpy.backends.base import Backend, Event, EventCallback, Snapshot, Watch
from confpy.errors import BackendError, ConfigError, ConfpyError, RevisionCompactedError, TemplateError

__all__ = ["HISTORY", "FileBackend", "flatten", "format_float", "load_file", "resolve_plain"]

#: How many past revisions a watch can resume from; older start revisions re-read a snapshot.
HISTORY = 1000
#: A file that does not parse while being watched is read again this often, this far apart.
REFRESH_ATTEMPTS = 3
REFRESH_PAUSE = 0.1

_PLAIN_TAG = "tag:confpy:plain"
_BOOLS = dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"), True)
_BOOLS.update(
    dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"), False)
)
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
# Go's strconv.ParseInt(s, 0, 64): 0x hex, 0o or a leading 0 octal, 0b binary, else decimal.
_GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")


def _go_int(text: str) -> int | None:
    match = _GO_INT.match(text)
    if match is None:
        return None
    digits = match.group(1)
    if digits[:2].lower() in ("0x", "0o", "0b"):
        value = int(digits, 0)
    elif digits[0] == "0" and len(digits) > 1:
        value = int(digits, 8)
    else:
        value = int(digits)
    value = -value if text.startswith("-") else value
    return value if -(2**63) <= value < 2**64 else None


def _go_float(text: str) -> float | None:
    value = float(text)
    return None if math.isinf(value) else value  # Go reports an out-of-range error instead


def resolve_plain(text: str) -> object:
    """yaml.v2's resolution of an unquoted scalar into None, bool, int, float or str."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text[0] == "." and "_" not in text and _GO_FLOAT.match(text):
        value = _go_float(text)
        return text if value is None else value
    if text[0] in "+-0123456789":
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return number
        if _GO_FLOAT.match(plain):
            value = _go_float(plain)
            return text if value is None else value
    return text


class _GoYamlLoader(yaml.SafeLoader):
    """PyYAML with yaml.v2's scalar rules, and map keys kept as written (confd needs string keys)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        self.flatten_mapping(node)
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found a key that is not text",
                    key_node.start_mark,
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping


def _construct_plain(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    return resolve_plain(str(node.value))


# Replaced, not extended: only merge keys and the catch-all resolve implicitly.
_GoYamlLoader.yaml_implicit_resolvers = {}
_GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"<<\Z"), ["<"])
_GoYamlLoader.add_implicit_resolver(_PLAIN_TAG, re.compile(r".*", re.DOTALL), None)
_GoYamlLoader.add_constructor(_PLAIN_TAG, _construct_plain)


def format_float(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits that round-trip, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    return str(value)


def flatten(node: object, key: str = "/", out: dict[str, str] | None = None) -> dict[str, str]:
    """confd's nodeWalk: maps and lists become paths, nulls are dropped, scalars become text."""
    out = {} if out is None else out
    if isinstance(node, dict):
        for name, child in node.items():
            flatten(child, path_join(key, str(name)), out)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            flatten(child, path_join(key, str(index)), out)
    elif node is not None:
        out[key] = _scalar(node)
    return out


def load_file(path: str) -> dict[str, str]:
    """One file's keys: JSON if it ends in `.json`, YAML (first document) otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not valid UTF-8 text") from None
    except OSError as exc:
        raise BackendError(f"cannot read {path}: {exc.strerror}") from None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} line {exc.lineno}: invalid JSON: {exc.msg}") from None
    else:
        try:
            data = next(iter(yaml.load_all(text, Loader=_GoYamlLoader)), None)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, not a {type(data).__name__}")
    return flatten(data)


class _Watcher:
    """One watch's prefix and callback; the backend delivers to it under its lock."""

    def __init__(self, prefix: str, callback: EventCallback) -> None:
        self.prefix = prefix
        self.callback = callback


class FileBackend(Backend):
    """Keys from `paths` (files, or folders walked recursively for names matching `filter`)."""

    name = "file"

    def __init__(self, paths: Sequence[str], filter: str = "*") -> None:
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            raise ConfigError("the file backend needs at least one file or folder (-file)")
        try:
            path_match(filter, "")
        except TemplateError:
            raise ConfigError(f"bad -filter pattern {filter!r}") from None
        self.paths = list(paths)
        self.filter = filter
        # Reentrant: a callback may cancel its own watch.
        self._lock = threading.RLock()
        self._values: dict[str, str] = {}
        self.revision = 0
        self._history: deque[list[Event]] = deque(maxlen=HISTORY)  # one list per revision
        self._watchers: set[_Watcher] = set()
        self._observer: Any = None

    # --- reading ------------------------------------------------------------------------------

    def files(self) -> list[str]:
        """The files to read, in override order (confd's RecursiveFilesLookup).

        Paths stay as the user wrote them (symbolic links are followed, not resolved), so that
        messages name files the user knows rather than, say, Kubernetes' `..data` targets.
        """
        found: list[str] = []
        for root in self.paths:
            if not os.path.lexists(root):
                raise BackendError(f"the file backend's path {root} does not exist")
            if os.path.isdir(root):
                self._walk(root, found)
            elif os.path.exists(root):
                found.append(root)
            else:
                raise BackendError(f"the file backend's path {root} is a broken symbolic link")
        return found

    def _walk(self, folder: str, found: list[str]) -> None:
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            raise BackendError(f"cannot list {folder}: {exc.strerror}") from None
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isdir(path) and not os.path.islink(path):
                self._walk(path, found)
            elif path_match(self.filter, name) and os.path.isfile(path):
                found.append(path)

    def _scan(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for path in self.files():
            values.update(load_file(path))
        return values

    def read(self, prefixes: Sequence[str]) -> Snapshot:
        with self._lock:
            self._apply(self._scan())
            starts = tuple(prefixes)
            values = {k: v for k, v in self._values.items() if k.startswith(starts)}
            return Snapshot(values, self.revision)

    def _apply(self, values: dict[str, str]) -> None:
        """Diff `values` against the last scan; a change is one new revision, sent to every watch."""
        events = [Event(k, None, 0) for k in self._values.keys() - values.keys()]
        events += [Event(k, v, 0) for k, v in values.items() if self._values.get(k) != v]
        if not events:
            return
        self.revision += 1
        events = sorted((Event(e.key, e.value, self.revision) for e in events), key=lambda e: e.key)
        self._values = values
        self._history.append(events)
        for watcher in list(self._watchers):
            batch = [e for e in events if e.key.startswith(watcher.prefix)]
            if batch:
                watcher.callback(batch)

    # --- watching -----------------------------------------------------------------------------

    def watch(self, prefix: str, start_revision: int, callback: EventCallback) -> Watch:
        """Deliver every change under `prefix` from `start_revision` on; re-scans on file events.

        A file that cannot be read or parsed ends the watch with a BackendError naming it (the
        caller resumes later, from its last revision, once the file is fixed).
        """
        watcher = _Watcher(prefix, callback)
        with self._lock:
            # Observe first, then scan: a change in between is then seen by both, never by none.
            self._ensure_observer()
            try:
                self._apply(self._scan())
            except ConfpyError as exc:
                raise BackendError(str(exc)) from None
            if len(self._history) == HISTORY and start_revision < self._history[0][0].revision:
                raise RevisionCompactedError(start_revision, self._history[0][0].revision)
            backlog = [
                e
                for events in self._history
                for e in events
                if e.revision >= start_revision and e.key.startswith(prefix)
            ]
            if backlog:
                callback(backlog)
            self._watchers.add(watcher)

        def cancel() -> None:
            with self._lock:
                self._watchers.discard(watcher)

        return Watch(cancel)

    def _refresh(self) -> None:
        """Called by the observer thread on every relevant file event.

        A file that does not parse may be half written: look again a few times before the
        error ends the watches.
        """
        for attempt in range(REFRESH_ATTEMPTS):
            if attempt:
                time.sleep(REFRESH_PAUSE)
            with self._lock:
                if not self._watchers:
                    return
                try:
                    self._apply(self._scan())
                    return
                except ConfpyError as exc:
                    error = BackendError(str(exc))
        with self._lock:
            watchers, self._watchers = self._watchers, set()
            for watcher in watchers:
                watcher.callback(error)

    def _watch_dirs(self) -> dict[str, bool]:
        """Folder -> recursive? Files are watched through their folder (editors and Kubernetes
        replace files by renaming, which a watch on the file itself would miss)."""
        dirs: dict[str, bool] = {}
        for root in self.paths:
            real = os.path.realpath(root)
            if os.path.isdir(real):
                dirs[real] = True
            else:
                for path in {os.path.abspath(root), real}:
                    dirs.setdefault(os.path.dirname(path), False)
        return dirs

    def _ensure_observer(self) -> None:
        if self._observer is not None:
            return
        from watchdog.events import (
            DirCreatedEvent,
            DirDeletedEvent,
            DirMovedEvent,
            FileClosedEvent,
            FileCreatedEvent,
            FileDeletedEvent,
            FileMovedEvent,
            FileSystemEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer

        refresh: Callable[[], None] = self._refresh

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                refresh()

        # Not "modified": a file rewritten in place is empty or half written then, and its keys
        # would vanish for a moment. A write ends in "closed"; a rename or delete is complete
        # when reported. "created" is needed for files in a new folder, created before watchdog
        # watched it (watchdog then reports them as created, and nothing else).
        wanted: list[type[FileSystemEvent]] = [
            FileClosedEvent,
            FileCreatedEvent,
            FileDeletedEvent,
            FileMovedEvent,
            DirCreatedEvent,
            DirDeletedEvent,
            DirMovedEvent,
        ]
        observer = Observer()
        handler = Handler()
        for folder, recursive in self._watch_dirs().items():
            observer.schedule(handler, folder, recursive=recursive, event_filter=wanted)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def close(self) -> None:
        with self._lock:
            self._watchers.clear()
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)
