"""The one commit path: stage every file, check every file, rename every file, then (the caller)
reload once.

A resource's run is a `FileSet`: the files it staged, those in sync, and for an each-resource the
files whose items went away. `commit_sets` commits any number of them as one: a commit group's
members, or an each-resource's files. A failed check (or a failed fsync) renames nothing.

Crash safety: files are renamed in order (a group's members in their resource files' order, an
each-resource's files by name). A kill between two renames leaves the earlier ones new and the
later ones old; the next start renders every resource from one snapshot, finds the new ones in
sync and renames the rest, which completes the set before its reload runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from confpy.errors import ConfpyError
from confpy.pipeline.writer import Pending, WriteResult, commit

if TYPE_CHECKING:
    from confpy.pipeline.each import Manifest

__all__ = ["FileSet", "commit_sets"]


class FileSet:
    """What one resource's run changes: staged files (to check and rename), files that need no
    rename (in sync, or noop's diff), and, for an each-resource, its manifest and the file names
    it lists (`known`), those of the current items (`names`) and those to remove (`gone`)."""

    __slots__ = ("gone", "installed", "known", "manifest", "names", "pending", "removed", "results")

    def __init__(
        self,
        *,
        manifest: Manifest | None = None,
        known: set[str] | None = None,
        names: set[str] | None = None,
        gone: set[str] | None = None,
    ) -> None:
        self.pending: list[Pending] = []
        self.results: list[tuple[Path, WriteResult]] = []
        self.manifest = manifest
        self.known = set() if known is None else known
        self.names = set() if names is None else names
        self.gone = set() if gone is None else gone
        self.installed: list[tuple[Path, WriteResult]] = []
        self.removed: list[Path] = []


def commit_sets(sets: Sequence[FileSet], *, sync_only: bool = False) -> None:
    """Check and rename the staged files of every set as one commit, then remove the files of
    gone items. The manifests list the new files before any rename, and lose the removed ones
    after; a failed commit puts each manifest back as it was."""
    ahead = [s for s in sets if s.manifest is not None and not s.names <= s.known]
    for files in ahead:
        assert files.manifest is not None
        files.manifest.write(files.known | files.names)
    pending = [p for s in sets for p in s.pending]
    try:
        results = commit(pending, sync_only=sync_only)
    except ConfpyError:
        for files in ahead:
            assert files.manifest is not None
            with contextlib.suppress(ConfpyError):  # a stale extra name is harmless; the error matters
                files.manifest.write(files.known)
        raise
    by_pending = dict(zip(map(id, pending), results, strict=True))
    for files in sets:
        files.installed = [(p.target.dest, by_pending[id(p)]) for p in files.pending]
        if files.manifest is not None:
            files.removed = files.manifest.remove(files.gone)
            if files.names != files.known:
                files.manifest.write(files.names)
