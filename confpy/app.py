"""What the `confpy` command does once its flags are parsed: settings, resources, backend, mode."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from confpy.backends import open_backend
from confpy.config import Settings, load_settings
from confpy.errors import ConfigError, ConfpyError
from confpy.log import setup_logging
from confpy.processor import ResourceProcessor, RunReport, run_once
from confpy.render import Renderer
from confpy.resource import TemplateResource, load_resources
from confpy.writer import remove_stale_stages

__all__ = ["load_processors", "run_from_flags", "run_settings"]

log = logging.getLogger("confpy")


def load_processors(
    settings: Settings, running: Mapping[Path, TemplateResource] | None = None
) -> tuple[list[ResourceProcessor], list[ConfigError]]:
    """The resources under the confdir, ready to apply, and the errors of those that did not load.

    `running` (by file) are the resources a reload replaces: a file that no longer loads keeps
    its running version until it is fixed, as README promises for a broken new configuration.
    Stage files that a killed confpy left next to their dests are removed here, at every start.
    """
    resources, errors = load_resources(settings.confdir, global_prefix=settings.prefix)
    for error in errors:
        previous = running.get(error.path) if running and error.path else None
        if previous is None:
            log.error("%s", error)
        else:
            log.error("%s; the previous version of %s keeps running until it is fixed", error, previous.name)
            resources.append(previous)
    resources.sort(key=lambda r: r.path)
    renderer = Renderer(settings.templates_dir)
    processors = [ResourceProcessor(r, renderer, settings) for r in resources]
    if not settings.noop:
        remove_stale_stages(p.target for p in processors)
    return processors, errors


def _once(settings: Settings) -> RunReport:
    processors, errors = load_processors(settings)
    with open_backend(settings) as backend:
        return run_once(backend, processors, errors)


def run_settings(settings: Settings, reload: Callable[[], Settings] | None = None) -> int:
    """Run in the mode `settings` ask for; the exit status. `reload` re-reads them on SIGHUP."""
    if settings.onetime:
        if settings.watch:
            # confd.go's main checks OneTime first; its own integration scripts pass both.
            log.warning("-onetime and -watch both given: -onetime wins, as in confd")
        report = _once(settings)
        if report.errors:
            log.error("%d of the template resources failed", len(report.errors))
        return 0 if report.ok else 1
    from confpy.service import run_service

    return run_service(settings, reload or (lambda: settings))


def run_from_flags(flags: Mapping[str, Any]) -> int:
    """Parse settings from flags, the environment and confd.toml, then run; errors become messages."""
    try:
        settings = load_settings(flags)
    except ConfigError as exc:
        setup_logging("info")
        log.error("%s", exc)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    try:
        return run_settings(settings, lambda: load_settings(flags))
    except ConfpyError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
