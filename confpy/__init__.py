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
    "KVPair",
    "KeyNotFoundError",
    "KeyStore",
    "MemoryBackend",
    "Renderer",
    "ResourceProcessor",
    "Settings",
    "TemplateError",
    "TemplateResource",
    "WriteError",
    "__version__",
    "load_resources",
    "load_settings",
    "run_once",
]

# Public names and the modules they live in: imported on first use, so that `import confpy`
# (and so `confpy --help`) does not pay for Jinja2 or the etcd client.
_LAZY = {
    "Backend": "confpy.backends.base",
    "MemoryBackend": "confpy.backends.memory",
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
    from confpy.processor import ResourceProcessor, run_once
    from confpy.render import Renderer
    from confpy.resource import TemplateResource, load_resources
    from confpy.store import KeyStore, KVPair


def __getattr__(name: str) -> Any:
    import importlib

    if name in _ERRORS:
        return getattr(importlib.import_module("confpy.errors"), name)
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'confpy' has no attribute {name!r}")
