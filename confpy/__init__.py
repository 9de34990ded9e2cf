"""confpy: confd reimplemented in Python.

Render config files from etcd keys with confd's template resources, write them atomically,
check them, and reload the service. This module is the public face, outside the layers: each
public name lives in the module `_API` names and is imported on first use, so that `import confpy`
(and so `confpy --help`) pays for neither Jinja2 nor the etcd client. docs/library.md describes
the API; tests/unit/test_api.py keeps `_API`, `__all__`, the TYPE_CHECKING imports and the real
objects in agreement.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from confpy._version import __version__ as __version__

#: Every public name and the module that defines it, the one list of the public API.
_API: dict[str, str] = {
    # errors
    "ConfpyError": "confpy.errors",
    "ConfigError": "confpy.errors",
    "BackendError": "confpy.errors",
    "KeyNotFoundError": "confpy.errors",
    "TemplateError": "confpy.errors",
    "WriteError": "confpy.errors",
    "CommandError": "confpy.errors",
    # the key store templates read
    "KVPair": "confpy.store",
    "KeyStore": "confpy.store",
    # writing a backend, and the backends
    "Backend": "confpy.backends.base",
    "Snapshot": "confpy.backends.base",
    "Event": "confpy.backends.base",
    "EventCallback": "confpy.backends.base",
    "Watch": "confpy.backends.base",
    "LeaseBackend": "confpy.backends.base",
    "ReadSequence": "confpy.backends.base",
    "MemoryBackend": "confpy.backends.memory",
    "EnvBackend": "confpy.backends.env",
    "FileBackend": "confpy.backends.file",
    "EtcdBackend": "confpy.backends.etcd.backend",
    # configuration
    "Settings": "confpy.config.settings",
    "load_settings": "confpy.config.settings",
    "TemplateResource": "confpy.config.resource",
    "load_resources": "confpy.config.resource",
    # rendering and the pipeline
    "Renderer": "confpy.engines.render",
    "ResourceProcessor": "confpy.pipeline.processor",
    "run_once": "confpy.pipeline.processor",
    # long-running
    "WatchEngine": "confpy.runtime.watch",
    "KeyWaiter": "confpy.sidecar.wait",
    "Registration": "confpy.sidecar.register",
    "run_exec": "confpy.sidecar.exec",
}

__all__ = sorted([*_API, "__version__"])  # derived from _API, so never out of step

if TYPE_CHECKING:  # the same names, for mypy; `X as X` marks each as re-exported
    from confpy.backends.base import Backend as Backend
    from confpy.backends.base import Event as Event
    from confpy.backends.base import EventCallback as EventCallback
    from confpy.backends.base import LeaseBackend as LeaseBackend
    from confpy.backends.base import ReadSequence as ReadSequence
    from confpy.backends.base import Snapshot as Snapshot
    from confpy.backends.base import Watch as Watch
    from confpy.backends.env import EnvBackend as EnvBackend
    from confpy.backends.etcd.backend import EtcdBackend as EtcdBackend
    from confpy.backends.file import FileBackend as FileBackend
    from confpy.backends.memory import MemoryBackend as MemoryBackend
    from confpy.config.resource import TemplateResource as TemplateResource
    from confpy.config.resource import load_resources as load_resources
    from confpy.config.settings import Settings as Settings
    from confpy.config.settings import load_settings as load_settings
    from confpy.engines.render import Renderer as Renderer
    from confpy.errors import BackendError as BackendError
    from confpy.errors import CommandError as CommandError
    from confpy.errors import ConfigError as ConfigError
    from confpy.errors import ConfpyError as ConfpyError
    from confpy.errors import KeyNotFoundError as KeyNotFoundError
    from confpy.errors import TemplateError as TemplateError
    from confpy.errors import WriteError as WriteError
    from confpy.pipeline.processor import ResourceProcessor as ResourceProcessor
    from confpy.pipeline.processor import run_once as run_once
    from confpy.runtime.watch import WatchEngine as WatchEngine
    from confpy.sidecar.exec import run_exec as run_exec
    from confpy.sidecar.register import Registration as Registration
    from confpy.sidecar.wait import KeyWaiter as KeyWaiter
    from confpy.store import KeyStore as KeyStore
    from confpy.store import KVPair as KVPair


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562), then keep the name here."""
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'confpy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, imported or not (what `help()` and tab completion offer)."""
    return list(__all__)
