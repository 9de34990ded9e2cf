"""What the `confpy` command does once its flags are parsed: settings, resources, backend, mode."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from confpy import __version__
from confpy.backends import open_backend
from confpy.config import Settings, load_settings
from confpy.errors import ConfigError, ConfpyError
from confpy.log import LOG_FORMATS, hold_logging, setup_logging
from confpy.processor import ResourceProcessor, RunReport, run_once
from confpy.render import Renderer
from confpy.resource import TemplateResource, load_resources, resource_dir
from confpy.writer import remove_stale_stages

__all__ = ["configure", "load_processors", "run_from_flags", "run_settings"]

log = logging.getLogger("confpy")


def load_processors(
    settings: Settings, running: Mapping[Path, TemplateResource] | None = None
) -> tuple[list[ResourceProcessor], list[ConfigError]]:
    """The resources under the confdir, ready to apply, and the errors of those that did not load.

    `running` (by file) are the resources a reload replaces: a file that no longer loads keeps
    its running version until it is fixed, as README promises for a broken new configuration.
    Stage files that a killed confpy left next to their dests are removed here, at every start.
    Says at INFO what is starting (confd's "Starting confd" and "Backend set to ..." in one
    line), so that even a run that changes nothing leaves a trace; warns when conf.d is empty.
    """
    resources, errors = load_resources(settings.confdir, global_prefix=settings.prefix)
    for error in errors:
        previous = running.get(error.path) if running and error.path else None
        # The message names the file by its path; the JSON log's `resource` is the name, as later.
        named = (
            {"resource": str(error.path.relative_to(resource_dir(settings.confdir)))} if error.path else None
        )
        if previous is None:
            log.error("%s", error, extra=named)
        else:
            log.error(
                "%s; the previous version of %s keeps running until it is fixed",
                error,
                previous.name,
                extra=named,
            )
            resources.append(previous)
    resources.sort(key=lambda r: r.path)
    if not resources and not errors:
        log.warning("%s: found no template resources (*.toml files)", resource_dir(settings.confdir))
    _announce(_start_line(settings, len(resources), len(errors)))
    renderer = Renderer(settings.templates_dir)
    processors = [ResourceProcessor(r, renderer, settings) for r in resources]
    if not (settings.noop or settings.keep_stage_file):  # kept ones are there to be read
        remove_stale_stages(p.target for p in processors)
    return processors, errors


_announced: list[str] = []


def _announce(line: str) -> None:
    """The start line at INFO, unless it was the last said: watch mode retries a failed start."""
    if _announced[-1:] == [line]:
        log.debug("%s", line)
        return
    _announced[:] = [line]
    log.info("%s", line)


def _start_line(settings: Settings, loaded: int, failed: int) -> str:
    if settings.backend == "file":
        source = f" (files {', '.join(settings.files)})"
    elif settings.backend_nodes:
        source = f" (nodes {', '.join(settings.backend_nodes)})"
    else:
        source = ""
    if settings.onetime:
        mode = "onetime"
    elif settings.watch:
        mode = "watch"
    else:
        mode = f"interval {settings.poll_interval:g} s"
    count = f"{loaded} template resource{'' if loaded == 1 else 's'}"
    if failed:
        count += f" ({failed} more did not load)"
    return (
        f"starting confpy {__version__}: backend {settings.backend}{source}, "
        f"confdir {settings.confdir}, {count}, {mode}"
    )


def _once(settings: Settings) -> RunReport:
    processors, errors = load_processors(settings)
    with open_backend(settings) as backend:
        return run_once(backend, processors, errors)


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
        return 0 if report.ok else 1
    from confpy.service import run_service

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
        fmt = flags.get("log_format") or os.environ.get("CONFPY_LOG_FORMAT")
        setup_logging("info", fmt if fmt in LOG_FORMATS else "text")
        raise
    setup_logging(settings.log_level, settings.log_format)
    return settings


def _reloaded(flags: Mapping[str, Any]) -> Settings:
    """Settings for SIGHUP: a conf.d gone meanwhile refuses the reload, as bad settings do."""
    settings = load_settings(flags)
    resource_dir(settings.confdir)
    return settings


def run_from_flags(flags: Mapping[str, Any]) -> int:
    """Configure from flags, then run; errors become one message: 2 for configuration, else 1."""
    try:
        return run_settings(configure(flags), lambda: _reloaded(flags))
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    except ConfpyError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
