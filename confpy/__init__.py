"""confpy: confd reimplemented in Python.

Render config files from etcd keys with confd's template resources, write them atomically,
check them, and reload the service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

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
    "KeyWaiter": "confpy.waitkeys",
    "Registration": "confpy.register",
    "run_exec": "confpy.execmode",
    "WatchEngine": "confpy.watch",
    "Settings": "confpy.config",
    "load_settings": "confpy.config",
    "Renderer": "confpy.render",
    "ResourceProcessor": "confpy.processor",
    "run_once": "confpy.processor",
    "TemplateResource": "confpy.resource",
    "load_resources": "confpy.resource",
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
    from confpy.config import Settings, load_settings
    from confpy.errors import (
        BackendError,
        CommandError,
        ConfigError,
        ConfpyError,
        KeyNotFoundError,
        TemplateError,
        WriteError,
    )
    from confpy.execmode import run_exec
    from confpy.processor import ResourceProcessor, run_once
    from confpy.register import Registration
    from confpy.render import Renderer
    from confpy.resource import TemplateResource, load_resources
    from confpy.store import KeyStore, KVPair
    from confpy.waitkeys import KeyWaiter
    from confpy.watch import WatchEngine


def __getattr__(name: str) -> Any:
    import importlib

    if name in _ERRORS:
        return getattr(importlib.import_module("confpy.errors"), name)
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'confpy' has no attribute {name!r}")
