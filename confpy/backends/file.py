"""The file backend (confd's `-file`): keys from YAML and JSON files and folders of them.

Files are flattened as confd does: map keys become path elements, list items their index
(`/hosts/0`), nulls are left out, and scalars are resolved as confd's YAML library (gopkg.in/yaml.v2,
confpy._go.yamlv2) resolves them and printed as confd's nodeWalk prints them: floats with
strconv.FormatFloat(f, 'f', -1, 64), without exponent (`1000`, `0.5`). Later files override earlier
ones; folders are walked in lexical order, keeping names that match the filter glob.

confd only knows that "something changed"; here every change is diffed into key events with a
local revision counter, kept in a bounded history, so a watch resumes without losing any.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from confpy._go import yamlv2
from confpy._go.path import BadPattern, path_join, path_match
from confpy._go.strconv import format_float
from confpy.backends.base import Backend, Event, EventCallback, Snapshot, Watch
from confpy.errors import BackendError, ConfigError, ConfpyError, RevisionCompactedError

__all__ = ["HISTORY", "FileBackend", "flatten", "load_file"]

#: How many past revisions a watch can resume from; older start revisions re-read a snapshot.
HISTORY = 1000
#: A file that does not parse while being watched is read again this often, this far apart.
REFRESH_ATTEMPTS = 3
REFRESH_PAUSE = 0.1


def _scalar(value: object) -> str:
    """nodeWalk's strconv.FormatBool, Itoa and FormatFloat(f, 'f', -1, 64)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value, "f", -1)
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
            raise ConfigError(f"{path} line {exc.lineno}: invalid JSON: {exc.msg}", line=exc.lineno) from None
    else:
        try:
            data = yamlv2.load_first(text)
        except yamlv2.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            line = None if mark is None else mark.line + 1
            raise ConfigError(f"{path}{where}: invalid YAML: {problem}", line=line) from None
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
        except BadPattern:
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
