"""confd's template functions that look outside the template: DNS (lookupIP, lookupIPV4,
lookupIPV6, lookupSRV) and the file system (fileExists), with confd's results for failures.

confpy.engines.functions puts them in confd's function map beside the pure ones.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import socket
from collections.abc import Callable
from typing import Any, NamedTuple

from confpy.errors import TemplateError
from confpy.store import string_argument as _str

__all__ = ["LOOKUPS", "SRV"]


class SRV(NamedTuple):
    """One SRV record; field names match Go's net.SRV so templates can say `.Target` and `.Port`."""

    Target: str
    Port: int
    Priority: int
    Weight: int


def _lookup_ip(name: object) -> list[str]:
    """net.LookupIP, as strings sorted as text; any failure gives [] as in confd."""
    host = _str("lookupIP", 1, name)
    if host == "" or "\x00" in host:
        return []
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    addresses: set[str] = set()
    for _family, _type, _proto, _canonname, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # Go prints an IPv4-mapped address as plain IPv4
        addresses.add(str(ip))
    return sorted(addresses)


def _lookup_ipv4(name: object) -> list[str]:
    return [ip for ip in _lookup_ip(name) if "." in ip]


def _lookup_ipv6(name: object) -> list[str]:
    return [ip for ip in _lookup_ip(name) if ":" in ip]


def _srv_order(record: SRV) -> str:
    """confd sorts SRV records by the text Target+Port+Priority+Weight (so port 443 sorts before 80)."""
    return f"{record.Target}{record.Port}{record.Priority}{record.Weight}"


def _lookup_srv(service: object, proto: object, name: object) -> list[SRV]:
    """net.LookupSRV through dnspython (the stdlib has no SRV query); a failed query gives []."""
    service = _str("lookupSRV", 1, service)
    proto = _str("lookupSRV", 2, proto)
    name = _str("lookupSRV", 3, name)
    try:
        resolver = importlib.import_module("dns.resolver")
        dns_exception = importlib.import_module("dns.exception")
    except ImportError:
        raise TemplateError(
            "lookupSRV needs the dnspython package: install it (pip install dnspython) next to confpy"
        ) from None
    qname = name if service == "" and proto == "" else f"_{service}._{proto}.{name}"
    try:
        answer = resolver.resolve(qname, "SRV")
    except (dns_exception.DNSException, OSError, ValueError):
        return []
    records = [SRV(r.target.to_text(), int(r.port), int(r.priority), int(r.weight)) for r in answer]
    return sorted(records, key=_srv_order)


def _file_exists(path: object) -> bool:
    """confd's isFileExist: only "no such file" is false; a path it may not read still counts as there."""
    try:
        os.stat(_str("fileExists", 1, path))
    except PermissionError:
        return True
    except (OSError, ValueError):
        return False
    return True


LOOKUPS: dict[str, Callable[..., Any]] = {
    "lookupIP": _lookup_ip,
    "lookupIPV4": _lookup_ipv4,
    "lookupIPV6": _lookup_ipv6,
    "lookupSRV": _lookup_srv,
    "fileExists": _file_exists,
}
"""Function name -> function, for confd's function map."""
