"""confd's template functions that look outside the template: DNS (lookupIP, lookupIPV4,
lookupIPV6, lookupSRV) and the file system (fileExists), with confd's results for failures.

confpy.engines.functions puts them in confd's function map beside the pure ones.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import socket
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from confpy.errors import TemplateError
from confpy.store import string_argument as _str

__all__ = ["FORK_LOOKUPS", "LOOKUPS", "SRV"]


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


# --- the fork's (abtreece/confd pkg/template/template_funcs.go) -------------------------------

_RTM_GETADDR, _RTM_NEWADDR, _NLMSG_DONE, _NLMSG_ERROR = 22, 20, 3, 2
_NLM_F_DUMP_REQUEST = 0x1 | 0x300
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_NETLINK_MESSAGES = 10_000  # a bound on the dump: no host has that many addresses on one interface
_V4_MAPPED = bytes(10) + b"\xff\xff"


def _interface_addresses(name: str) -> list[bytes]:
    """net.Interface.Addrs on Linux: the interface's addresses as the kernel's RTM_GETADDR dump
    lists them, each as Go's newAddr picks it (IFA_LOCAL where there is one, else IFA_ADDRESS);
    [] for an interface that does not exist, as InterfaceByName fails."""
    try:
        index = socket.if_nametoindex(name)
    except OSError:
        return []
    found: list[bytes] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as sock:  # NETLINK_ROUTE
        sock.settimeout(5)
        request = struct.pack("=IHHII", 16 + 8, _RTM_GETADDR, _NLM_F_DUMP_REQUEST, 1, 0)
        sock.send(request + struct.pack("=BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0))
        for _ in range(_NETLINK_MESSAGES):
            data = sock.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if kind in (_NLMSG_DONE, _NLMSG_ERROR) or length < 16:
                    return found
                if kind == _RTM_NEWADDR:
                    address = _address(data[offset + 16 : offset + length], index)
                    if address is not None:
                        found.append(address)
                offset += (length + 3) & ~3
    return found


def _address(message: bytes, index: int) -> bytes | None:
    """One RTM_NEWADDR's address if it is the interface's (Go's newAddr)."""
    family, _, _, _, ifindex = struct.unpack_from("=BBBBI", message)
    if ifindex != index or family not in (socket.AF_INET, socket.AF_INET6):
        return None
    attrs: list[tuple[int, bytes]] = []
    offset = 8
    while offset + 4 <= len(message):
        length, kind = struct.unpack_from("=HH", message, offset)
        if length < 4:
            break
        attrs.append((kind, message[offset + 4 : offset + length]))
        offset += (length + 3) & ~3
    point_to_point = any(kind == _IFA_LOCAL for kind, _ in attrs)
    for kind, value in attrs:
        if point_to_point and kind == _IFA_ADDRESS:
            continue
        return value[:4] if family == socket.AF_INET else value[:16]
    return None


def _to4(address: bytes) -> bytes | None:
    """net.IP.To4: an IPv4 address, also one written as IPv4-mapped IPv6."""
    if len(address) == 4:
        return address
    return address[12:] if address[:12] == _V4_MAPPED else None


def _lookup_iface_ipv4(name: object) -> str:
    """LookupIfaceIPV4: the interface's first IPv4 address, "" if it has none or does not exist."""
    for address in _interface_addresses(_str("lookupIfaceIPV4", 1, name)):
        v4 = _to4(address)
        if v4 is not None:
            return str(ipaddress.IPv4Address(v4))
    return ""


def _lookup_iface_ipv6(name: object) -> str:
    """LookupIfaceIPV6: the interface's first address that is not IPv4 (nor IPv4-mapped), or ""."""
    for address in _interface_addresses(_str("lookupIfaceIPV6", 1, name)):
        if _to4(address) is None and len(address) == 16:
            return str(ipaddress.IPv6Address(address))
    return ""


def _hostname() -> str:
    """GetHostname (os.Hostname): the kernel's host name."""
    return socket.gethostname()


FORK_LOOKUPS: dict[str, Callable[..., Any]] = {
    "hostname": _hostname,
    "lookupIfaceIPV4": _lookup_iface_ipv4,
    "lookupIfaceIPV6": _lookup_iface_ipv6,
}
"""The maintained fork's system lookups (template_funcs.go GetHostname, LookupIfaceIPV4/IPV6)."""
