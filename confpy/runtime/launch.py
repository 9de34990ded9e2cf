"""What the `confpy` command does once its flags are parsed: settings, resources, backend, mode."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from confpy.config.backend import BackendPool, backend_failed, by_backend
from confpy.config.resource import resource_dir
from confpy.config.settings import Settings, load_settings, requested
from confpy.errors import EXIT_FAILED, ConfigError, ConfpyError
from confpy.log import LOG_FORMATS, hold_logging, setup_logging
from confpy.pipeline.processor import RunReport, run_once
from confpy.runtime.load import load_processors
from confpy.runtime.noop import show_diff

__all__ = ["cap_malloc_arenas", "configure", "run_from_flags", "run_settings"]

log = logging.getLogger("confpy")


def _once(settings: Settings) -> RunReport:
    """Every resource, each group of them from one read of its backend; the global backend first.

    A resource's own backend that cannot be opened or read fails its resources only, each in one
    line; the global one fails the run, as it always has.
    """
    processors, errors = load_processors(settings)
    report = RunReport(updated=[], errors=list(errors))
    with BackendPool() as pool:
        for chosen, group in by_backend(settings, processors):
            try:
                part = run_once(pool.get(chosen), group, on_run=show_diff)
            except ConfpyError as exc:
                if chosen is settings:
                    raise
                for processor in group:
                    error = backend_failed(processor.resource, chosen, exc)
                    log.error("%s", error)
                    report.errors.append(error)
                continue
            report.updated += part.updated
            report.errors += part.errors
    return report


def run_settings(settings: Settings, reload: Callable[[], Settings] | None = None) -> int:
    """Run in the mode `settings` ask for; the exit status. `reload` re-reads them on SIGHUP.

    A missing conf.d is a ConfigError at once, in every mode: there is nothing to run.
    """
    resource_dir(settings.confdir)
    if settings.onetime:
        if settings.watch:
            # confd.go's main checks OneTime first; its own integration scripts pass both.
            log.warning("-onetime and -watch both given: -onetime wins, as in confd")
        report = _once(settings)
        if report.errors:
            log.error("%d of the template resources failed", len(report.errors))
        return 0 if report.ok else EXIT_FAILED
    from confpy.runtime.service import run_service

    return run_service(settings, reload or (lambda: settings))


def configure(flags: Mapping[str, Any]) -> Settings:
    """Settings from flags, the environment and confd.toml, with the log set up as they say.

    What reading them logs (confd.toml's warnings) waits until the format is known. On a
    ConfigError the log is set up first, in the format the flags or environment ask for.
    """
    hold_logging()
    try:
        settings = load_settings(flags)
    except ConfigError:
        fmt = requested("log_format", flags)
        setup_logging("info", fmt if fmt in LOG_FORMATS else "text")
        raise
    setup_logging(settings.log_level, settings.log_format)
    return settings


def _reloaded(flags: Mapping[str, Any]) -> Settings:
    """Settings for SIGHUP: a conf.d gone meanwhile refuses the reload, as bad settings do."""
    settings = load_settings(flags)
    resource_dir(settings.confdir)
    return settings


# glibc's mallopt parameter M_ARENA_MAX (malloc.h).
_M_ARENA_MAX = -8


def cap_malloc_arenas() -> None:
    """A long-running confpy: at most two glibc malloc arenas, as `MALLOC_ARENA_MAX=2` gives.

    glibc gives a thread that contends for the heap an arena of its own (up to 8 per core), and
    confpy's threads (gRPC's, a worker per busy resource) each fragment one: idle RSS at 20,000
    keys is 2 MiB higher, and under steady puts it grew ~17 MiB an hour where with two arenas it
    stays flat (benchmarks/RESULTS.md, soak). Set with mallopt, not in the environment that
    check_cmd and reload_cmd inherit; a MALLOC_ARENA_MAX the user set wins, and a C library
    without mallopt (musl) is left as it is.

    It must come before the first render's threads: a thread's arena is made at its first malloc
    and stays. `_ctypes` calls mallopt without `ctypes` itself, whose import is 1 ms of that
    render; a Python whose `_ctypes` lacks `call_function` keeps glibc's default.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    import _ctypes
    import contextlib

    with contextlib.suppress(AttributeError, OSError):
        itself = _ctypes.dlopen(None)  # type: ignore[arg-type]  # dlopen(NULL): the process's own symbols
        mallopt = _ctypes.dlsym(itself, "mallopt")
        _ctypes.call_function(mallopt, (_M_ARENA_MAX, 2))


def run_from_flags(flags: Mapping[str, Any]) -> int:
    """Configure from flags, then run; an error becomes one message and its exit status."""
    try:
        settings = configure(flags)
        if not settings.onetime:
            cap_malloc_arenas()
        return run_settings(settings, lambda: _reloaded(flags))
    except ConfpyError as exc:
        log.error("%s", exc)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130
