"""confpy: confd reimplemented in Python.

Render config files from etcd keys with confd's template resources, write them atomically,
check them, and reload the service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from confpy._version import __version__

__all__ = [
    "Backend",
    "BackendError",
    "CommandError",
    "ConfigError",
    "ConfpyError",
    "EnvBackend",
    "EtcdBackend",
    "FileBackend",
    "KVPair",
    "KeyNotFoundError",
    "KeyStore",
    "KeyWaiter",
    "MemoryBackend",
    "Registration",
    "Renderer",
    "ResourceProcessor",
    "Settings",
    "TemplateError",
    "TemplateResource",
    "WatchEngine",
    "WriteError",
    "__version__",
    "load_resources",
    "load_settings",
    "run_exec",
    "run_once",
]

# Public names and the modules they live in: imported on first use, so that `import confpy`
# (and so `confpy --help`) does not pay for Jinja2 or the etcd client.
_LAZY = {
    "Backend": "confpy.backends.base",
    "MemoryBackend": "confpy.backends.memory",
    "EnvBackend": "confpy.backends.env",
    "EtcdBackend": "confpy.backends.etcd",
    "FileBackend": "confpy.backends.file",
    "KeyWaiter": "confpy.sidecar.wait",
    "Registration": "confpy.sidecar.register",
    "run_exec": "confpy.sidecar.exec",
    "WatchEngine": "confpy.runtime.watch",
    "Settings": "confpy.config.settings",
    "load_settings": "confpy.config.settings",
    "Renderer": "confpy.engines.render",
    "ResourceProcessor": "confpy.pipeline.processor",
    "run_once": "confpy.pipeline.processor",
    "TemplateResource": "confpy.config.resource",
    "load_resources": "confpy.config.resource",
    "KVPair": "confpy.store",
    "KeyStore": "confpy.store",
}
_ERRORS = (
    "BackendError",
    "CommandError",
    "ConfigError",
    "ConfpyError",
    "KeyNotFoundError",
    "TemplateError",
    "WriteError",
)

if TYPE_CHECKING:
    from confpy.backends.base import Backend
    from confpy.backends.env import EnvBackend
    from confpy.backends.etcd import EtcdBackend
    from confpy.backends.file import FileBackend
    from confpy.backends.memory import MemoryBackend
    from confpy.config.resource import TemplateResource, load_resources
    from confpy.config.settings import Settings, load_settings
    from confpy.engines.render import Renderer
    from confpy.errors import (
        BackendError,
        CommandError,
        ConfigError,
        ConfpyError,
        KeyNotFoundError,
        TemplateError,
        WriteError,
    )
    from confpy.pipeline.processor import ResourceProcessor, run_once
    from confpy.runtime.watch import WatchEngine
    from confpy.sidecar.exec import run_exec
    from confpy.sidecar.register import Registration
    from confpy.sidecar.wait import KeyWaiter
    from confpy.store import KeyStore, KVPair


def __getattr__(name: str) -> Any:
    import importlib

    if name in _ERRORS:
        return getattr(importlib.import_module("confpy.errors"), name)
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'confpy' has no attribute {name!r}")
