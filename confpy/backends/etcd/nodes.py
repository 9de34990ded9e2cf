"""etcd's `-node` values, parsed once: for settings' validation and for the backend's channels.

The first step of the etcd backend, and the only one that `confpy.config.settings` imports (to
refuse a bad `-node` before anything connects); it imports neither gRPC nor the etcd client.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import urlsplit

from confpy.errors import ConfigError

__all__ = ["DEFAULT_PORT", "Node", "check_options", "parse_node"]

log = logging.getLogger("confpy")

DEFAULT_PORT = 2379


class Node(NamedTuple):
    """One `-node` value, normalised: `url` for messages, `target` (host:port) for gRPC."""

    url: str
    target: str
    secure: bool


def parse_node(node: str, tls: bool = False) -> Node:
    """confd's `-node` forms: `http://h:p`, `https://h:p`, or `h:p` (https when `tls`)."""
    raw = node.strip()
    if "://" not in raw:
        raw = ("https://" if tls else "http://") + raw
    try:
        parts = urlsplit(raw)
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ConfigError(f"bad etcd node {node!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(
            f"bad etcd node {node!r}: expected http://host:port, https://host:port or host:port"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    target = f"{host}:{port}"
    return Node(f"{parts.scheme}://{target}", target, parts.scheme == "https")


def check_options(
    nodes: Sequence[str],
    cert: str | None,
    key: str | None,
    ca: str | None,
    username: str | None,
    password: str | None,
) -> list[Node]:
    """The backend's nodes, parsed, once its TLS and auth options are known to agree (either transport)."""
    if isinstance(nodes, str):
        nodes = [nodes]
    if not nodes:
        raise ConfigError("no etcd node given")
    if (cert is None) != (key is None):
        raise ConfigError("an etcd client certificate needs both the certificate and its key")
    if (username is None) != (password is None):
        raise ConfigError("etcd authentication needs both a user name and a password")
    tls = any(f is not None for f in (cert, key, ca))
    parsed = [parse_node(n, tls) for n in nodes]
    for plain in (n for n in parsed if tls and not n.secure):
        # confd silently talks plain text here too; a user who gave TLS files expects TLS.
        log.warning("etcd node %s is http://: TLS files are not used for it (write https://)", plain.url)
    return parsed
