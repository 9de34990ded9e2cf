"""Loading the confdir, at start and at every reload: its resources, each ready to apply.

Shared by every mode (onetime, the service's reloads, `confpy exec`), so what starting says and
which stale stage files are removed is decided once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from confpy._version import __version__
from confpy.config.backend import describe_backend
from confpy.config.resource import TemplateResource, load_resources, resource_dir
from confpy.config.settings import Settings
from confpy.engines.render import Renderer
from confpy.errors import ConfigError
from confpy.pipeline.processor import ResourceProcessor
from confpy.pipeline.stage import remove_stale_stages

__all__ = ["load_processors"]

log = logging.getLogger("confpy")


def load_processors(
    settings: Settings, running: Mapping[Path, TemplateResource] | None = None
) -> tuple[list[ResourceProcessor], list[ConfigError]]:
    """The resources under the confdir, ready to apply, and the errors of those that did not load.

    `running` (by file) are the resources a reload replaces: a file that no longer loads keeps
    its running version until it is fixed, as docs/modes.md promises for a broken new configuration.
    Stage files that a killed confpy left next to their dests are removed here, at every start.
    Says at INFO what is starting (confd's "Starting confd" and "Backend set to ..." in one
    line), so that even a run that changes nothing leaves a trace; warns when conf.d is empty.
    """
    resources, errors = load_resources(settings.confdir, global_prefix=settings.prefix)
    for error in errors:
        # A resource that failed to load names itself; an error about several (a shared dest) does not.
        failed = error.path if error.resource is not None else None
        previous = running.get(failed) if running and failed else None
        if previous is None:
            log.error("%s", error)
        else:
            log.error("%s; the previous version of %s keeps running until it is fixed", error, previous.name)
            resources.append(previous)
    resources.sort(key=lambda r: r.path)
    if not resources and not errors:
        log.warning("%s: found no template resources (*.toml files)", resource_dir(settings.confdir))
    _announce(_start_line(settings, len(resources), len(errors)))
    renderer = Renderer(settings.templates_dir)
    processors = [ResourceProcessor(r, renderer, settings) for r in resources]
    if not (settings.noop or settings.keep_stage_file):  # kept ones are there to be read
        remove_stale_stages({d: n for p in processors for d, n in p.dests.items()})
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
        f"starting confpy {__version__}: backend {describe_backend(settings)}, "
        f"confdir {settings.confdir}, {count}, {mode}"
    )
