"""Applying resources: render, write through the stage file, check, and reload.

`ResourceProcessor` does one resource; `run_once` does every resource from one snapshot, as
`confpy -onetime` does. Watch mode reuses `ResourceProcessor` from its per-resource workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

from confpy.backends.base import Backend
from confpy.config.duration import format_duration
from confpy.config.placeholders import expand_command
from confpy.config.resource import TemplateResource
from confpy.config.settings import Settings
from confpy.engines.render import Renderer
from confpy.errors import CommandError, ConfpyError, TemplateError, ValueDecodeError, WriteError, context
from confpy.log import TRACE
from confpy.pipeline.commit import FileSet, commit_sets
from confpy.pipeline.deadline import RenderTimeout, deadline
from confpy.pipeline.redact import redact
from confpy.pipeline.writer import Outcome, Pending, Target, WriteResult, stage_config
from confpy.store import KeyStore

__all__ = ["CommitGroup", "ResourceProcessor", "RunRecord", "RunReport", "run_once", "units"]

log = logging.getLogger("confpy")
_T = TypeVar("_T")


class RunReport:
    """What one pass over the resources did; `errors` holds one message per failed resource."""

    __slots__ = ("errors", "updated")

    def __init__(self, updated: list[str], errors: list[ConfpyError]) -> None:
        self.updated = updated
        self.errors = errors

    @property
    def ok(self) -> bool:
        return not self.errors


class RunRecord(NamedTuple):
    """One run of a worker: which resource, from which mirror revision, and what came of it."""

    name: str
    revision: int
    outcome: Outcome | None
    error: ConfpyError | None
    duration: float
    retry: int = 0
    """The attempt number of the retry this failure scheduled; 0 when none is due."""
    diff: str | None = None
    """`-noop`: the change it would make, for the caller that owns stdout to show."""


class ResourceProcessor:
    """Applies one resource: render with a store, write if changed, then (separately) reload."""

    def __init__(self, resource: TemplateResource, renderer: Renderer, settings: Settings) -> None:
        self.resource = resource
        self.renderer = renderer
        self.settings = settings
        self.target = Target(
            dest=resource.dest,
            mode=resource.mode,
            uid=resource.uid,
            gid=resource.gid,
            check_cmd=resource.check_cmd,
            check_timeout=resource.check_cmd_timeout,
            create_dest_dir=resource.create_dest_dir,
            sensitive=resource.sensitive,
            name=resource.name,
            max_size=resource.max_output_size or settings.max_output_size,
        )
        self.render_timeout = resource.render_timeout or settings.render_timeout
        self._warned_symlink = False

    def sync(self, store: KeyStore) -> WriteResult:
        """Render into the stage file(s) and write; raises a ConfpyError (dest untouched) on any failure.

        A render is stopped after `render_timeout` and when its output passes the size limit.
        With `-noop` the result's diff says what would change: showing it is the caller's job.

        Below `-log-level trace` the error shows `<value of /key>` where a filter or a failing
        check_cmd quoted one of the resource's values: a value may be a secret.
        """
        with contextlib.ExitStack() as stack:
            files = self.stage(store, stack)
            if not self.settings.noop:
                with context(resource=self.resource.name), self.running_commands():
                    self._redacted(store, lambda: commit_sets([files], sync_only=self.settings.sync_only))
            return self.report(files)

    def running_commands(self) -> contextlib.AbstractContextManager[None]:
        """Held while a commit runs check_cmd: nothing here; `confpy exec` holds its reaper off
        the command's exit status (confpy.sidecar.exec)."""
        return contextlib.nullcontext()

    @property
    def dests(self) -> dict[Path, str]:
        """Every file this resource writes that is known before a render (each-files: those its
        manifest lists, and the manifest), with the name its messages use: for stale stage files."""
        if self.resource.each is None:
            return {self.target.dest: self.target.label}
        from confpy.pipeline.each import Manifest  # only for an each-resource

        manifest = Manifest(self.resource)
        try:
            names = manifest.read()
        except WriteError:
            names = set()
        return {manifest.path: self.target.label} | {
            self.resource.each_dir / n: self.target.label for n in names
        }

    def stage(self, store: KeyStore, stack: contextlib.ExitStack) -> FileSet:
        """Render every file of this resource into its stage file, compared with its dest; the
        staged files stay open (and are removed on leaving `stack` unless renamed) for `commit_sets`."""
        with context(resource=self.resource.name):
            return self._redacted(store, lambda: self._stage(store, stack))

    def _redacted(self, store: KeyStore, step: Callable[[], _T]) -> _T:
        """`step`, with a render timeout told as such, and without values (`_without_values`)."""
        try:
            return _without_values(store, step)
        except RenderTimeout:
            limit = format_duration(self.render_timeout)
            raise TemplateError(
                f"{self.resource.name}: rendering took longer than render_timeout ({limit}): "
                f"stopped, {self.resource.dest} not changed"
            ) from None

    def _stage(self, store: KeyStore, stack: contextlib.ExitStack) -> FileSet:
        if self.resource.each is not None:
            return self._stage_each(store, stack)
        files = FileSet()
        self._stage_file(self.target, store, None, files, stack)
        return files

    def _stage_file(
        self,
        target: Target,
        store: KeyStore,
        item: str | None,
        files: FileSet,
        stack: contextlib.ExitStack,
    ) -> None:
        def render(write: Callable[[str], None]) -> None:
            with deadline(self.render_timeout):
                self.renderer.render_to(self.resource, store, write, item)

        staged = stage_config(
            target, render, noop=self.settings.noop, keep_stage_file=self.settings.keep_stage_file
        )
        if isinstance(staged, Pending):
            files.pending.append(stack.enter_context(staged))
        else:
            files.results.append((target.dest, staged))

    def _stage_each(self, store: KeyStore, stack: contextlib.ExitStack) -> FileSet:
        """One file per item; a file there that the manifest does not list, or a symlink, is refused."""
        from confpy.pipeline.each import Manifest, file_names, items

        resource = self.resource
        by_name = file_names(resource, store, items(resource, store), self.renderer.render_text)
        manifest = Manifest(resource)
        known = manifest.read() if resource.each_dir.is_dir() else set()
        files = FileSet(manifest=manifest, known=known, names=set(by_name), gone=known - set(by_name))
        for name, item in sorted(by_name.items()):
            dest = resource.each_dir / name
            try:
                link = dest.is_symlink()
            except OSError as exc:  # a name the file system refuses (ENAMETOOLONG): the key's data
                raise WriteError(
                    f"{resource.name}: key {item}: dest file name of {len(os.fsencode(name))} bytes in "
                    f"{resource.each_dir}: {exc.strerror}: nothing written",
                    key=item,
                ) from None
            if link:
                raise WriteError(
                    f"{resource.name}: key {item}: {dest} is a symlink: an each-file is never written "
                    "through or over a link (nothing written)",
                    key=item,
                )
            if name not in known and os.path.lexists(dest):
                raise WriteError(
                    f"{resource.name}: key {item}: {dest} exists and this resource did not create it "
                    f"(not in {manifest.path}): nothing written; remove it to let confpy manage it",
                    key=item,
                )
            self._stage_file(self.target._replace(dest=dest), store, item, files, stack)
        return files

    def report(self, files: FileSet) -> WriteResult:
        """Log what a commit did to each file; one result for the resource (updated if any file was)."""
        name = self.resource.name
        results = files.results + files.installed
        for dest, result in results:
            if result.symlink is not None and not self._warned_symlink:
                self._warned_symlink = True
                log.warning(
                    "%s: %s is a symlink to %s: writing replaces the link with a regular file, as confd "
                    "does (point dest at the link's target to keep the link)",
                    name,
                    dest,
                    result.symlink,
                )
            if result.outcome is Outcome.UPDATED:
                log.info("%s: target config %s has been updated (%s)", name, dest, ", ".join(result.changes))
            elif result.outcome is Outcome.WOULD_UPDATE:
                log.warning(
                    "%s: noop mode: %s will not be modified (%s)", name, dest, ", ".join(result.changes)
                )
            else:
                log.debug("%s: target config %s in sync", name, dest)
        gone = files.removed
        if self.settings.noop and files.manifest is not None:
            for file in sorted(files.gone):
                log.warning(
                    "%s: noop mode: %s will not be removed (its key is gone)",
                    name,
                    files.manifest.path.parent / file,
                )
        for path in gone:
            log.info("%s: removed %s (its key is gone)", name, path)
        if len(results) == 1 and not gone and not (self.settings.noop and files.gone):
            return results[0][1]
        outcomes = {r.outcome for _, r in results}
        if gone or Outcome.UPDATED in outcomes:
            outcome = Outcome.UPDATED
        elif Outcome.WOULD_UPDATE in outcomes or (self.settings.noop and files.gone):
            outcome = Outcome.WOULD_UPDATE
        else:
            outcome = Outcome.IN_SYNC
        diffs = [r.diff for _, r in results if r.diff]
        changes = tuple(f"{dest}: {', '.join(r.changes)}" for dest, r in results if r.changes)
        return WriteResult(outcome, "".join(diffs) or None, changes + tuple(f"{p} removed" for p in gone))

    @property
    def needs_reload(self) -> bool:
        return bool(self.resource.reload_cmd) and not self.settings.sync_only and not self.settings.noop

    def reload(self) -> None:
        """Run reload_cmd (the dest stays updated if it fails: the error says so)."""
        with context(resource=self.resource.name):
            self._reload()

    def _reload(self) -> None:
        command = self.resource.reload_cmd
        if not command or not self.needs_reload:
            return
        from confpy.pipeline.commands import run_command  # subprocess: only for a reload_cmd

        expanded = expand_command(command, src=str(self.resource.dest), dest=str(self.resource.dest))
        try:
            result = run_command(
                expanded,
                timeout=self.resource.reload_cmd_timeout,
                what=f"reload_cmd for {self.resource.name}",
                step="reload_cmd",
            )
        except CommandError as exc:
            raise exc.retold(
                f"{exc}\n({self.resource.dest} is updated; the service may still run its old config)"
            ) from exc
        log.info("%s: reload_cmd succeeded in %.0f ms", self.resource.name, result.duration * 1000)


class CommitGroup:
    """Resources whose files must change together (`commit_group`), applied as one.

    Every member renders from one snapshot of the backend (one revision), every member's file is
    staged and checked before any is renamed, then all are renamed in the members' order and the
    group's reload_cmd runs once. One failed render or check renames nothing: every member's file
    stays as it was.
    """

    def __init__(self, name: str, members: Sequence[ResourceProcessor]) -> None:
        self.name = name
        self.label = f"commit group {name}"
        self.members = list(members)
        self.keys = sorted({k for m in self.members for k in m.resource.prefixed_keys})
        """What one read for the group asks for: every member's keys."""
        self.reloader = next((m for m in self.members if m.resource.reload_cmd), self.members[0])
        """The member whose reload_cmd is the group's (load_resources refuses two different ones)."""
        self.wait = next((m.resource.wait for m in self.members if m.resource.wait), None)
        self.settings = self.members[0].settings

    def sync(self, values: Mapping[str, str]) -> list[WriteResult]:
        """Stage every member from `values` (one snapshot), check all, rename all; each member's result."""
        ordered = sorted(values)
        stores = [KeyStore(m.resource.view(values, ordered)) for m in self.members]
        try:
            with contextlib.ExitStack() as stack:
                files = [m.stage(store, stack) for m, store in zip(self.members, stores, strict=True)]
                if not self.settings.noop:
                    every = KeyStore([kv for store in stores for kv in store.items()])
                    sync_only = self.settings.sync_only
                    with self.members[0].running_commands():
                        _without_values(every, lambda: commit_sets(files, sync_only=sync_only))
                return [m.report(f) for m, f in zip(self.members, files, strict=True)]
        except ConfpyError as exc:
            raise exc.retold(f"{exc}\n({self.label}: no member was renamed)") from exc

    def reload(self) -> None:
        """The group's one reload."""
        self.reloader.reload()


def units(processors: Sequence[ResourceProcessor]) -> list[ResourceProcessor | CommitGroup]:
    """The processors as they are applied: alone, or together with their commit group (where its
    first member stands)."""
    groups: dict[str, list[ResourceProcessor]] = {}
    for processor in processors:
        if processor.resource.commit_group:
            groups.setdefault(processor.resource.commit_group, []).append(processor)
    made: dict[str, CommitGroup] = {}
    result: list[ResourceProcessor | CommitGroup] = []
    for processor in processors:
        name = processor.resource.commit_group
        if not name:
            result.append(processor)
        elif name not in made:
            made[name] = CommitGroup(name, groups[name])
            result.append(made[name])
    return result


def _without_values(store: KeyStore, step: Callable[[], _T]) -> _T:
    """`step`, a template's or check_cmd's error told with `<value of /key>` for the values of
    `store` it quotes (below `-log-level trace`)."""
    try:
        return step()
    except (TemplateError, CommandError) as exc:
        if type(exc) not in (TemplateError, CommandError) or log.isEnabledFor(TRACE):
            raise
        raise exc.retold(redact(str(exc), store.items())) from exc


def run_once(
    backend: Backend,
    processors: Sequence[ResourceProcessor],
    errors: Sequence[ConfpyError] = (),
    on_run: Callable[[RunRecord], None] | None = None,
) -> RunReport:
    """Every resource from one consistent snapshot; a failing resource does not stop the others
    (a failing member stops its commit group, which is applied as one).

    `on_run` sees each resource's run as it ends, as watch mode's `on_run` does (`-noop`'s diff).
    """
    if not backend.prefix_reads and len(processors) > 1:
        # confd reads each resource's keys on its own (resource.go setVars); with redis a string
        # `/app` hides `/app/db` from a resource reading `/app`, which a shared read would not.
        parts = [run_once(backend, [p], on_run=on_run) for p in processors]
        return RunReport(
            updated=[name for part in parts for name in part.updated],
            errors=[*errors, *(error for part in parts for error in part.errors)],
        )
    report = RunReport(updated=[], errors=list(errors))
    processors, values, revision = _snapshot(backend, processors, report)
    ordered = sorted(values)
    for unit in units(processors):
        started = time.monotonic()
        members = unit.members if isinstance(unit, CommitGroup) else [unit]
        results: list[WriteResult | None] = [None] * len(members)
        error: ConfpyError | None = None
        try:
            if isinstance(unit, CommitGroup):
                results = list(unit.sync(values))
            else:
                results = [unit.sync(KeyStore(unit.resource.view(values, ordered)))]
            if any(r is not None and r.outcome is Outcome.UPDATED for r in results):
                unit.reload()
        except ConfpyError as exc:
            log.error("%s", exc)
            report.errors.append(exc)
            error = exc
            results = [None] * len(members)
        for member, result in zip(members, results, strict=True):
            if result is not None and result.outcome is Outcome.UPDATED:
                report.updated.append(member.resource.name)
            if on_run:
                outcome, diff = (result.outcome, result.diff) if result else (None, None)
                duration = time.monotonic() - started
                on_run(RunRecord(member.resource.name, revision, outcome, error, duration, diff=diff))
    return report


def _snapshot(
    backend: Backend, processors: Sequence[ResourceProcessor], report: RunReport
) -> tuple[Sequence[ResourceProcessor], dict[str, str], int]:
    """One read for every resource, and its revision. A value that is not UTF-8 fails the
    resources that read it, each named, and the others are read again without them (and without
    the rest of their commit groups)."""
    while True:
        prefixes = sorted({k for p in processors for k in p.resource.prefixed_keys})
        try:
            if not prefixes:
                return processors, {}, 0
            snapshot = backend.read(prefixes)
            return processors, snapshot.values, snapshot.revision
        except ValueDecodeError as exc:
            readers = [p for p in processors if p.resource.owns(exc.key)]
            if not readers:
                raise
            for processor in readers:
                error = ValueDecodeError(exc.key, processor.resource.name)
                log.error("%s", error)
                report.errors.append(error)
            # A reader's commit group stays out with it: its other members must not change alone.
            held = {p.resource.commit_group for p in readers} - {None}
            processors = [p for p in processors if p not in readers and p.resource.commit_group not in held]
