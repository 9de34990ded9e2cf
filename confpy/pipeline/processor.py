"""Applying resources: render, write through the stage file, check, and reload.

`ResourceProcessor` does one resource; `run_once` does every resource from one snapshot, as
`confpy -onetime` does. Watch mode reuses `ResourceProcessor` from its per-resource workers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confpy.backends.base import Backend
from confpy.config.duration import format_duration
from confpy.config.placeholders import expand_command
from confpy.config.resource import TemplateResource
from confpy.config.settings import Settings
from confpy.engines.render import Renderer
from confpy.errors import CommandError, ConfpyError, TemplateError, ValueDecodeError, context
from confpy.log import TRACE
from confpy.pipeline.commands import run_command
from confpy.pipeline.deadline import RenderTimeout, deadline
from confpy.pipeline.redact import redact
from confpy.pipeline.writer import Outcome, Target, WriteResult, write_config
from confpy.store import KeyStore

__all__ = ["ResourceProcessor", "RunRecord", "RunReport", "run_once"]

log = logging.getLogger("confpy")


@dataclass
class RunReport:
    """What one pass over the resources did; `errors` holds one message per failed resource."""

    updated: list[str]
    errors: list[ConfpyError]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class RunRecord:
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
        """Render into the stage file and write; raises a ConfpyError (dest untouched) on any failure.

        A render is stopped after `render_timeout` and when its output passes the size limit.
        With `-noop` the result's diff says what would change: showing it is the caller's job.

        Below `-log-level trace` the error shows `<value of /key>` where a filter or a failing
        check_cmd quoted one of the resource's values: a value may be a secret.
        """
        with context(resource=self.resource.name):
            return self._sync(store)

    def _sync(self, store: KeyStore) -> WriteResult:
        name, dest = self.resource.name, self.resource.dest

        def render(write: Callable[[str], None]) -> None:
            with deadline(self.render_timeout):
                self.renderer.render_to(self.resource, store, write)

        try:
            result = write_config(
                self.target,
                render,
                noop=self.settings.noop,
                sync_only=self.settings.sync_only,
                keep_stage_file=self.settings.keep_stage_file,
            )
        except RenderTimeout:
            limit = format_duration(self.render_timeout)
            raise TemplateError(
                f"{name}: rendering took longer than render_timeout ({limit}): stopped, {dest} not changed"
            ) from None
        except (TemplateError, CommandError) as exc:
            if type(exc) not in (TemplateError, CommandError) or log.isEnabledFor(TRACE):
                raise
            raise exc.retold(redact(str(exc), store.items())) from exc
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
            log.warning("%s: noop mode: %s will not be modified (%s)", name, dest, ", ".join(result.changes))
        else:
            log.debug("%s: target config %s in sync", name, dest)
        return result

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

    def apply(self, store: KeyStore) -> WriteResult:
        """Sync, and reload if the file changed; the sync's result."""
        result = self.sync(store)
        if result.outcome is Outcome.UPDATED:
            self.reload()
        return result


def run_once(
    backend: Backend,
    processors: Sequence[ResourceProcessor],
    errors: Sequence[ConfpyError] = (),
    on_run: Callable[[RunRecord], None] | None = None,
) -> RunReport:
    """Every resource from one consistent snapshot; a failing resource does not stop the others.

    `on_run` sees each resource's run as it ends, as watch mode's `on_run` does (`-noop`'s diff).
    """
    report = RunReport(updated=[], errors=list(errors))
    processors, values, revision = _snapshot(backend, processors, report)
    ordered = sorted(values)
    for processor in processors:
        resource = processor.resource
        started = time.monotonic()
        result: WriteResult | None = None
        error: ConfpyError | None = None
        try:
            result = processor.apply(KeyStore(resource.view(values, ordered)))
            if result.outcome is Outcome.UPDATED:
                report.updated.append(resource.name)
        except ConfpyError as exc:
            log.error("%s", exc)
            report.errors.append(exc)
            error = exc
        if on_run:
            outcome, diff = (result.outcome, result.diff) if result else (None, None)
            on_run(RunRecord(resource.name, revision, outcome, error, time.monotonic() - started, diff=diff))
    return report


def _snapshot(
    backend: Backend, processors: Sequence[ResourceProcessor], report: RunReport
) -> tuple[Sequence[ResourceProcessor], dict[str, str], int]:
    """One read for every resource, and its revision. A value that is not UTF-8 fails the
    resources that read it, each named, and the others are read again without them."""
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
            processors = [p for p in processors if p not in readers]
