"""Logging: confd's text format and JSON lines, levels, and the resource field."""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from confpy.errors import ConfigError, TemplateError, context
from confpy.log import TRACE, logger, setup_logging


@pytest.fixture(autouse=True)
def _restore_logger() -> Iterator[None]:
    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_text_format_is_confds(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info")
    logger.info("nginx.toml: target config /etc/nginx/nginx.conf has been updated")
    logger.warning("careful")
    lines = capsys.readouterr().err.splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"
    prefix = rf"{stamp} {re.escape(socket.gethostname())} confpy\[{os.getpid()}\]:"
    assert re.fullmatch(
        prefix + r" INFO nginx.toml: target config /etc/nginx/nginx.conf has been updated", lines[0]
    )
    assert re.fullmatch(prefix + r" WARNING careful", lines[1])


def test_json_format_fields(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("debug", "json")
    logger.info("watching %d prefixes", 3)
    logger.debug('a "quoted"\nmultiline message')
    first, second = _json_lines(capsys.readouterr().err)
    assert set(first) == {"time", "level", "msg", "host", "pid"}
    assert first["level"] == "info"
    assert first["msg"] == "watching 3 prefixes"
    assert first["host"] == socket.gethostname()
    assert first["pid"] == os.getpid()
    stamp = datetime.datetime.fromisoformat(str(first["time"]))
    assert stamp.tzinfo is not None
    assert abs((datetime.datetime.now(datetime.UTC) - stamp).total_seconds()) < 60
    assert second["msg"] == 'a "quoted"\nmultiline message'
    assert second["level"] == "debug"


def test_json_resource_from_the_error_and_the_context(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "json")
    error = TemplateError("app/nginx.toml: nginx.conf.j2:3: key does not exist: /upstreams/a")
    with pytest.raises(TemplateError), context(resource="app/nginx.toml"):
        raise error
    logger.error("%s", error)
    logger.info("/etc/confd/conf.d/x.toml: unknown field 'srcc' in [template] is ignored")
    with context(resource="web.toml"):
        logger.error("check_cmd for web.toml failed (exit status 1): nginx -t")
    logger.info("reloading: stoml: not a resource")
    named, path, command, plain = _json_lines(capsys.readouterr().err)
    assert named["resource"] == "app/nginx.toml"
    assert named["msg"] == "nginx.conf.j2:3: key does not exist: /upstreams/a"
    assert "resource" not in path
    assert command["resource"] == "web.toml"
    assert command["msg"] == "check_cmd for web.toml failed (exit status 1): nginx -t"
    assert "resource" not in plain


def test_json_resource_is_never_read_from_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    # A value that looks like a resource's prefix ("foo.toml: ") names no resource.
    setup_logging("info", "json")
    logger.error("%s", "foo.toml: key does not exist: /a")
    logger.error("%s", TemplateError("foo.toml: check_cmd for foo.toml failed"))
    with context(resource="bar.toml"):
        logger.info("foo.toml: in sync")
    plain, error, other = _json_lines(capsys.readouterr().err)
    assert "resource" not in plain and plain["msg"] == "foo.toml: key does not exist: /a"
    assert "resource" not in error and error["msg"] == "foo.toml: check_cmd for foo.toml failed"
    assert other["resource"] == "bar.toml" and other["msg"] == "foo.toml: in sync"


def test_json_resource_from_extra(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "json")
    logger.info("rendered in %d ms", 4, extra={"resource": "db.toml"})
    (entry,) = _json_lines(capsys.readouterr().err)
    assert entry["resource"] == "db.toml"
    assert entry["msg"] == "rendered in 4 ms"


@pytest.mark.parametrize(
    ("level", "shown"),
    [("trace", {"trace", "debug", "info"}), ("info", {"info"}), ("error", set())],
)
def test_levels(level: str, shown: set[str], capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(level, "json")
    logger.log(TRACE, "t")
    logger.debug("d")
    logger.info("i")
    assert {str(e["level"]) for e in _json_lines(capsys.readouterr().err)} == shown


def test_fatal_level_name_and_exception_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("debug", "json")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.critical("it broke", exc_info=True)
    (entry,) = _json_lines(capsys.readouterr().err)
    assert entry["level"] == "fatal"
    assert "ValueError: boom" in str(entry["exception"])


def test_exception_hidden_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "json")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.error("it broke", exc_info=True)
    (entry,) = _json_lines(capsys.readouterr().err)
    assert "exception" not in entry


def test_bad_format_and_level() -> None:
    with pytest.raises(ConfigError, match="unknown log format 'xml'"):
        setup_logging("info", "xml")
    with pytest.raises(ConfigError, match="unknown log level 'loud'"):
        setup_logging("loud")


def test_json_lines_on_a_real_stderr() -> None:
    code = (
        "from confpy.log import logger, setup_logging\n"
        "setup_logging('info', 'json')\n"
        "logger.info('x.toml: h\\u00e9llo', extra={'resource': 'x.toml'})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert proc.stdout == ""
    (entry,) = _json_lines(proc.stderr)
    assert entry["msg"] == "héllo"
    assert entry["resource"] == "x.toml"
