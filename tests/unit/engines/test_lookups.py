"""confd's DNS and file-system functions (confpy.engines.lookups): lookupIP, lookupIPV4,
lookupIPV6, lookupSRV and fileExists, with confd's results for failures."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from confpy.engines.lookups import LOOKUPS, SRV
from confpy.errors import TemplateError


def call(name: str, *args: Any) -> Any:
    return LOOKUPS[name](*args)


# --- network lookups (localhost and literal addresses only) ----------------------------------------


@pytest.mark.parametrize(
    ("name", "ips", "v4", "v6"),
    [
        ("127.0.0.1", ["127.0.0.1"], ["127.0.0.1"], []),
        ("::1", ["::1"], [], ["::1"]),
        ("0:0:0:0:0:0:0:1", ["::1"], [], ["::1"]),
        ("2001:DB8:0:0:1:0:0:1", ["2001:db8::1:0:0:1"], [], ["2001:db8::1:0:0:1"]),
        ("::ffff:127.0.0.1", ["127.0.0.1"], ["127.0.0.1"], []),  # Go prints IPv4-mapped as IPv4
        ("", [], [], []),
        ("a\x00b", [], [], []),
        ("a" * 64 + ".example", [], [], []),  # an invalid label: no query is made
    ],
)
def test_lookup_ip_literals(name: str, ips: list[str], v4: list[str], v6: list[str]) -> None:
    assert call("lookupIP", name) == ips
    assert call("lookupIPV4", name) == v4
    assert call("lookupIPV6", name) == v6


def test_lookup_ip_localhost_is_sorted_and_unique() -> None:
    got = call("lookupIP", "localhost")
    assert "127.0.0.1" in got
    assert got == sorted(set(got))
    assert call("lookupIPV4", "localhost") == [ip for ip in got if "." in ip]
    assert call("lookupIPV6", "localhost") == [ip for ip in got if ":" in ip]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A stand-in for dnspython's resolver: records queries, answers from a table."""
    answers: dict[str, Any] = {}
    queries: list[tuple[str, str]] = []

    class DNSException(Exception):
        pass

    class Name:
        def __init__(self, text: str) -> None:
            self.text = text

        def to_text(self) -> str:
            return self.text

    def resolve(qname: str, rdtype: str) -> list[Any]:
        queries.append((qname, rdtype))
        if qname not in answers:
            raise DNSException("NXDOMAIN")
        return [
            types.SimpleNamespace(target=Name(t), port=port, priority=prio, weight=weight)
            for t, port, prio, weight in answers[qname]
        ]

    dns = types.ModuleType("dns")
    resolver = types.ModuleType("dns.resolver")
    exception = types.ModuleType("dns.exception")
    resolver.resolve = resolve  # type: ignore[attr-defined]
    exception.DNSException = DNSException  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dns", dns)
    monkeypatch.setitem(sys.modules, "dns.resolver", resolver)
    monkeypatch.setitem(sys.modules, "dns.exception", exception)
    return {"answers": answers, "queries": queries}


def test_lookup_srv_queries_the_service_name_and_sorts_as_confd(fake_dns: dict[str, Any]) -> None:
    fake_dns["answers"]["_etcd-server._tcp.example.com"] = [
        ("b.example.com.", 2380, 0, 0),
        ("a.example.com.", 80, 10, 5),
        ("a.example.com.", 443, 10, 5),
        ("a.example.com.", 80, 1, 5),
    ]
    got = call("lookupSRV", "etcd-server", "tcp", "example.com")
    assert fake_dns["queries"] == [("_etcd-server._tcp.example.com", "SRV")]
    # confd compares Target+Port+Priority+Weight as text: "...443105" < "...80105" < "...8015" < "b...".
    assert got == [
        SRV("a.example.com.", 443, 10, 5),
        SRV("a.example.com.", 80, 10, 5),
        SRV("a.example.com.", 80, 1, 5),
        SRV("b.example.com.", 2380, 0, 0),
    ]
    assert got[0].Target == "a.example.com." and got[0].Port == 443
    assert got[0].Priority == 10 and got[0].Weight == 5


def test_lookup_srv_with_empty_service_and_proto_queries_the_name(fake_dns: dict[str, Any]) -> None:
    fake_dns["answers"]["_x._udp.example.org"] = [("t.example.org.", 53, 0, 0)]
    assert call("lookupSRV", "", "", "_x._udp.example.org") == [SRV("t.example.org.", 53, 0, 0)]
    assert fake_dns["queries"] == [("_x._udp.example.org", "SRV")]


def test_lookup_srv_failure_gives_an_empty_list(fake_dns: dict[str, Any]) -> None:
    assert call("lookupSRV", "nope", "tcp", "example.com") == []


def test_lookup_srv_without_dnspython_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dns", None)
    monkeypatch.setitem(sys.modules, "dns.resolver", None)
    with pytest.raises(TemplateError, match="lookupSRV needs the dnspython package"):
        call("lookupSRV", "http", "tcp", "localhost")


def test_lookup_srv_checks_its_arguments() -> None:
    with pytest.raises(TemplateError, match="lookupSRV: argument 3 must be a string"):
        call("lookupSRV", "http", "tcp", None)


# --- files ------------------------------------------------------------------------------------------


def test_file_exists(tmp_path: Path) -> None:
    regular = tmp_path / "file.conf"
    regular.write_text("x")
    directory = tmp_path / "dir"
    directory.mkdir()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    link = tmp_path / "link"
    link.symlink_to(regular)
    assert call("fileExists", str(regular)) is True
    assert call("fileExists", str(directory)) is True
    assert call("fileExists", str(link)) is True
    assert call("fileExists", str(tmp_path / "missing")) is False
    assert call("fileExists", str(dangling)) is False
    assert call("fileExists", str(regular / "below-a-file")) is False
    assert call("fileExists", "") is False
    assert call("fileExists", str(regular) + "\x00") is False
