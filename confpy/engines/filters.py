"""Validating filters: values from etcd are untrusted input, checked or quoted before a config sees them.

Anyone who can write a key could otherwise inject directives: `10.0.0.1; deny all` as an upstream
address, a newline and a new line of config, a `$` that nginx expands. Each filter either returns a
value that is safe where its name says, or raises a TemplateError naming the filter and showing the
offending value, so the render fails and the previous config stays in place.

    {{ getv("/app/host") | ip }}          an IPv4 or IPv6 address, normalised (no zone injection)
    {{ getv("/app/port") | port }}        1-65535, as plain decimal
    {{ getv("/app/addr") | hostport }}    host:port or [v6]:port; host an IP or a hostname
    {{ getv("/app/name") | hostname }}    an RFC 1123 host name
    {{ getv("/app/arg") | shell_quote }}  one shell word (shlex.quote)
    {{ getv("/app/text") | json_str }}    a JSON string literal, quotes included
    {{ getv("/app/text") | nginx_str }}   an nginx double-quoted string, quotes included

Pure functions: no I/O.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable

from confpy.engines.jsonnumber import JsonNumber
from confpy.errors import TemplateError

__all__ = [
    "VALIDATING_FILTERS",
    "hostname",
    "hostport",
    "ip",
    "json_str",
    "nginx_str",
    "port",
    "shell_quote",
]

_SHOWN = 60
# The patterns are compiled on first use (re's cache): a template that uses no filter needs none.
# An IPv6 zone is an interface name or number; Python accepts any text after "%", so narrow it.
_ZONE = r"[0-9A-Za-z_.-]{1,64}\Z"
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z"
_DIGITS = r"[0-9]{1,5}\Z"
# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_CONTROL = "[\x00-\x1f\x7f-\x9f\u2028\u2029]"


def _show(value: object) -> str:
    """The value's repr, cut to about 60 characters: enough to find it, never a wall of text."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _text(name: str, value: object) -> str:
    """The value as text: a string, an integer, or a JSON number as confd prints it (a port from a
    JSON document: 5432 is "5432"; 5432.5 or 1e+06 then fail the filter's own check)."""
    if isinstance(value, str):
        return value
    if isinstance(value, JsonNumber) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise TemplateError(f"{name}: expected a string, got {type(value).__name__} {_show(value)}")


def _ip_text(text: str) -> str | None:
    """The normalised address, or None if `text` is not exactly one IP address literal."""
    if not text.isascii():
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None and not re.match(_ZONE, address.scope_id):
            return None
        mapped = address.ipv4_mapped
        if mapped is not None:  # keep the dotted quad readable: ::ffff:10.0.0.1
            zone = f"%{address.scope_id}" if address.scope_id else ""
            return f"::ffff:{mapped}{zone}"
    return str(address)


def _hostname_ok(text: str) -> bool:
    """RFC 1123: dot-separated labels of letters, digits and inner hyphens; 253 characters at most.

    One trailing dot (a fully qualified name) is allowed. An all-numeric last label is refused
    (RFC 3696): `127.1` or `999.0.0.1` would be read as an address by some resolvers.
    """
    name = text.removesuffix(".")
    if not name or len(name) > 253 or not name.isascii():
        return False
    labels = name.split(".")
    return all(re.match(_LABEL, label) for label in labels) and not labels[-1].isdigit()


def ip(value: object) -> str:
    """An IPv4 or IPv6 address literal, normalised (`2001:DB8::0:1` -> `2001:db8::1`)."""
    text = _text("ip", value)
    address = _ip_text(text)
    if address is None:
        raise TemplateError(f"ip: {_show(value)} is not an IP address")
    return address


def port(value: object) -> str:
    """A TCP/UDP port, 1-65535, as plain decimal digits (no sign, spaces or underscores)."""
    text = _text("port", value)
    if not re.match(_DIGITS, text) or not 1 <= int(text) <= 65535:
        raise TemplateError(f"port: {_show(value)} is not a port number (1-65535)")
    return str(int(text))


def hostname(value: object) -> str:
    """An RFC 1123 host name, returned as given."""
    text = _text("hostname", value)
    if not _hostname_ok(text):
        raise TemplateError(f"hostname: {_show(value)} is not a valid host name")
    return text


def hostport(value: object) -> str:
    """`host:port` (host an IPv4 address or a host name) or `[v6]:port`, normalised."""
    text = _text("hostport", value)
    host, sep, port_text = text.rpartition(":")
    valid_port = bool(re.match(_DIGITS, port_text)) and 1 <= int(port_text) <= 65535
    if sep and valid_port:
        if host.startswith("[") and host.endswith("]"):
            address = _ip_text(host[1:-1])
            if address is not None and ":" in address:
                return f"[{address}]:{int(port_text)}"
        elif ":" not in host:
            address = _ip_text(host)
            if address is not None:
                return f"{address}:{int(port_text)}"
            if _hostname_ok(host):
                return f"{host}:{int(port_text)}"
    raise TemplateError(
        f"hostport: {_show(value)} is not host:port or [IPv6]:port (host an IP or a host name, port 1-65535)"
    )


def shell_quote(value: object) -> str:
    """One shell word, whatever the value holds (a NUL cannot be passed to a command: refused)."""
    text = _text("shell_quote", value)
    if "\x00" in text:
        raise TemplateError(f"shell_quote: {_show(value)} contains a NUL character")
    import shlex

    return shlex.quote(text)


def json_str(value: object) -> str:
    """A JSON string literal, quotes included; control characters and quotes are escaped.

    JSON's escapes (`\\u0007`), not Go's %q (`\\a`): the text is read by JSON parsers.
    """
    return json.dumps(_text("json_str", value), ensure_ascii=False)


def nginx_str(value: object) -> str:
    """A double-quoted nginx string whose content nginx reads back as exactly `value`.

    The rule: `"` and `\\` are escaped with a backslash (nginx's own escapes); `$` is refused,
    because nginx expands variables in quoted strings and has no escape for it; control characters,
    newlines and the Unicode line separators are refused. `;`, `{` and `}` are left as they are:
    inside double quotes nginx reads them literally, and values such as a Content-Security-Policy
    (`default-src 'self'; img-src *`) need them.
    """
    text = _text("nginx_str", value)
    if "$" in text:
        raise TemplateError(f"nginx_str: {_show(value)} contains '$' (nginx would expand it as a variable)")
    if re.search(_CONTROL, text):
        raise TemplateError(f"nginx_str: {_show(value)} contains a newline or control character")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


VALIDATING_FILTERS: dict[str, Callable[..., str]] = {
    "ip": ip,
    "port": port,
    "hostport": hostport,
    "hostname": hostname,
    "shell_quote": shell_quote,
    "json_str": json_str,
    "nginx_str": nginx_str,
}
"""Filter name -> function; register them as Jinja filters (and globals, to call them as functions)."""
