"""Validating filters: table tests, injection attempts, and nginx itself reading nginx_str's output."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import jinja2
import pytest

from confpy.engines.filters import (
    VALIDATING_FILTERS,
    hostname,
    hostport,
    ip,
    json_str,
    nginx_str,
    port,
    shell_quote,
)
from confpy.engines.jsonnumber import JsonNumber
from confpy.errors import TemplateError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.1", "10.0.0.1"),
        ("255.255.255.255", "255.255.255.255"),
        ("::1", "::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1%eth0"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("::FFFF:0a00:0001", "::ffff:10.0.0.1"),
    ],
)
def test_ip_accepts_and_normalises(value: str, expected: str) -> None:
    assert ip(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "10.0.0.1; deny all",
        "10.0.0.1\nallow all",
        " 10.0.0.1",
        "10.0.0.1 ",
        "010.0.0.1",
        "10.0.0",
        "10.0.0.256",
        "0x0a.0.0.1",
        "10.0.0.0/8",
        "example.com",
        "",
        "fe80::1%eth0; deny all",
        "fe80::1%",
        "[::1]",
        "٣.0.0.1",
    ],
)
def test_ip_refuses(value: str) -> None:
    with pytest.raises(TemplateError, match=r"^ip: .* is not an IP address$"):
        ip(value)


def test_error_names_filter_and_shows_the_value_truncated() -> None:
    with pytest.raises(TemplateError) as info:
        ip("10.0.0.1; deny all")
    assert str(info.value) == "ip: '10.0.0.1; deny all' is not an IP address"
    with pytest.raises(TemplateError) as info:
        ip("1.2.3.4; " + "x" * 500)
    shown = str(info.value).removeprefix("ip: ").removesuffix(" is not an IP address")
    assert shown.startswith("'1.2.3.4; xxx") and shown.endswith("...")
    assert len(shown) <= 60


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", "1"), ("80", "80"), ("65535", "65535"), ("0443", "443"), (8080, "8080")],
)
def test_port_accepts(value: object, expected: str) -> None:
    assert port(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "65536",
        "99999",
        "-1",
        "+80",
        " 80",
        "80 ",
        "8_080",
        "80;",
        "80\n",
        "٨٠",
        "0x50",
        "",
        "1e3",
        80.0,
        True,
    ],
)
def test_port_refuses(value: object) -> None:
    with pytest.raises(TemplateError, match=r"^port: "):
        port(value)


@pytest.mark.parametrize(
    "value",
    ["localhost", "db-1.example.com", "example.com.", "a" * 63 + ".com", "1password.com", "x"],
)
def test_hostname_accepts(value: str) -> None:
    assert hostname(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        "-db.example.com",
        "db-.example.com",
        "db_1.example.com",
        "a..b",
        "a" * 64 + ".com",
        ".".join(["a" * 60] * 5),
        "example.com; deny all",
        "example.com\nserver evil",
        "exämple.com",
        "127.1",
        "10.0.0.1",
        "host name",
    ],
)
def test_hostname_refuses(value: str) -> None:
    with pytest.raises(TemplateError, match=r"^hostname: .* is not a valid host name$"):
        hostname(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.1:80", "10.0.0.1:80"),
        ("db.example.com:5432", "db.example.com:5432"),
        ("[::1]:8080", "[::1]:8080"),
        ("[2001:DB8::0:1]:443", "[2001:db8::1]:443"),
        ("localhost:08080", "localhost:8080"),
    ],
)
def test_hostport_accepts(value: str, expected: str) -> None:
    assert hostport(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "10.0.0.1",
        "10.0.0.1:0",
        "10.0.0.1:65536",
        "::1:80",
        "[10.0.0.1]:80",
        "[::1]",
        ":80",
        "10.0.0.1:80; deny all",
        "10.0.0.1:80\nserver 6.6.6.6:80",
        "evil host:80",
        "a:b:80",
        "[::1]:80 backup",
    ],
)
def test_hostport_refuses(value: str) -> None:
    with pytest.raises(TemplateError, match=r"^hostport: "):
        hostport(value)


@pytest.mark.parametrize(
    "value", ["plain", "", "it's", "$(reboot)", "`id`", "a; rm -rf /", "new\nline", "*", "--flag"]
)
def test_shell_quote_is_one_word(value: str) -> None:
    quoted = shell_quote(value)
    assert shlex.split(quoted) == [value]
    out = subprocess.run(["/bin/sh", "-c", f"printf %s {quoted}"], capture_output=True, text=True, check=True)
    assert out.stdout == value


def test_shell_quote_refuses_nul() -> None:
    with pytest.raises(TemplateError, match=r"^shell_quote: .* NUL"):
        shell_quote("a\x00b")


@pytest.mark.parametrize("value", ["plain", 'say "hi"', "back\\slash", "new\nline\t\x01", "ünï", "</script>"])
def test_json_str_round_trips(value: str) -> None:
    literal = json_str(value)
    assert literal.startswith('"') and literal.endswith('"')
    assert "\n" not in literal
    assert json.loads(literal) == value


def test_json_str_cannot_break_out_of_a_document() -> None:
    document = '{"name": ' + json_str('x", "admin": true, "y": "') + "}"
    assert json.loads(document) == {"name": 'x", "admin": true, "y": "'}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", '"plain"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("trailing\\", r'"trailing\\"'),
        ("default-src 'self'; img-src *", "\"default-src 'self'; img-src *\""),
        ("{ }", '"{ }"'),
    ],
)
def test_nginx_str_escapes(value: str, expected: str) -> None:
    assert nginx_str(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("$host", r"'\$'"),
        ("a${b}", r"'\$'"),
        ('x"; deny all; "', None),
        ("a\nb", "control"),
        ("a\rb", "control"),
        ("a\tb", "control"),
        ("a\x00b", "control"),
        ("a\x7fb", "control"),
        ("a\u2028b", "control"),
    ],
)
def test_nginx_str_refuses_or_neutralises(value: str, reason: str | None) -> None:
    if reason is None:  # a quote cannot close the string: it is escaped
        assert nginx_str(value) == r'"x\"; deny all; \""'
        return
    with pytest.raises(TemplateError, match=rf"^nginx_str: .*{reason}"):
        nginx_str(value)


@pytest.mark.parametrize("name", sorted(VALIDATING_FILTERS))
def test_non_text_values_are_refused(name: str) -> None:
    with pytest.raises(TemplateError, match=rf"^{name}: expected a string, got list"):
        VALIDATING_FILTERS[name](["10.0.0.1"])


def test_a_json_number_is_taken_as_confd_prints_it() -> None:
    """`(getv("/db") | json).port | port`: JSON numbers are floats, printed as Go prints them."""
    assert port(JsonNumber(5432.0)) == "5432"
    assert hostport(f"db:{JsonNumber(5432.0)}") == "db:5432"
    for bad in (JsonNumber(5432.5), JsonNumber(1e6), JsonNumber(-1.0), 5432.0):
        with pytest.raises(TemplateError, match=r"^port: "):
            port(bad)


def test_filters_work_in_a_jinja_template() -> None:
    env = jinja2.Environment()
    env.filters.update(VALIDATING_FILTERS)
    template = env.from_string("server {{ a | hostport }}; # {{ n | nginx_str }}")
    assert template.render(a="[::1]:80", n="x") == 'server [::1]:80; # "x"'
    with pytest.raises(TemplateError, match=re.escape("hostport: '1.2.3.4:80; deny all'")):
        template.render(a="1.2.3.4:80; deny all", n="x")


def test_filter_table_is_complete() -> None:
    expected: dict[str, Callable[..., str]] = {
        "ip": ip,
        "port": port,
        "hostport": hostport,
        "hostname": hostname,
        "shell_quote": shell_quote,
        "json_str": json_str,
        "nginx_str": nginx_str,
    }
    assert expected == VALIDATING_FILTERS


# --- nginx reads nginx_str's output back as the original value ------------------------------------

_NGINX_VALUES = [
    "plain",
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "\\n is not a newline",
    "default-src 'self'; img-src *",
    "{ } ; # not a comment",
    "ünïcödé",
    "it's",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port_number: int = sock.getsockname()[1]
        return port_number


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_reads_nginx_str_back_exactly(tmp_path: Path) -> None:
    listen = _free_port()
    locations = "\n".join(
        f"location = /{i} {{ default_type text/plain; return 200 {nginx_str(v)}; }}"
        for i, v in enumerate(_NGINX_VALUES)
    )
    temp = " ".join(
        f"{kind}_temp_path {tmp_path}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{ access_log off; {temp}\n"
        f"  server {{ listen 127.0.0.1:{listen}; {locations} }}\n}}\n",
        encoding="utf-8",
    )
    check = subprocess.run(
        ["nginx", "-t", "-q", "-p", str(tmp_path), "-e", f"{tmp_path}/error.log", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-e", f"{tmp_path}/error.log", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", listen), timeout=1):
                    break
            except OSError:
                assert proc.poll() is None, (tmp_path / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        for i, value in enumerate(_NGINX_VALUES):
            with urllib.request.urlopen(f"http://127.0.0.1:{listen}/{i}", timeout=10) as response:
                assert response.read().decode("utf-8") == value
    finally:
        proc.terminate()
        proc.wait(timeout=15)
