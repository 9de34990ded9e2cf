"""The env backend: keys from environment variables, mapped exactly as confd maps them.

A key prefix `/app/db` reads every variable whose name starts with `APP_DB`, and a variable
`APP_DB_HOST` is seen as key `/app/db/host`; the resource then keeps only `/app/db` and what is
below it, so `APP_DBX_HOST` never reaches it (confd's env backend passed it on). The environment
cannot be watched; watch mode polls.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from confpy.backends.base import Backend, Snapshot

__all__ = ["EnvBackend", "env_key", "env_name"]


def env_name(key: str) -> str:
    """confd's transform: `/app/db` -> `APP_DB`."""
    return key.removeprefix("/").replace("/", "_").upper()


def env_key(name: str) -> str:
    """confd's clean: `APP_DB_HOST` -> `/app/db/host`."""
    return "/" + name.lower().replace("_", "/")


class EnvBackend(Backend):
    """Reads `environ` (default: the process environment as it is at each read)."""

    name = "env"
    supports_watch = False

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def read(self, prefixes: Sequence[str]) -> Snapshot:
        environ = os.environ if self._environ is None else self._environ
        starts = tuple(env_name(p) for p in prefixes)
        if not starts:
            return Snapshot({})
        return Snapshot({env_key(name): value for name, value in environ.items() if name.startswith(starts)})
