"""Start-up time: a run imports only what it uses.

Jinja2 costs ~40 ms to import and the Go engine ~30 ms; a confdir with only Go templates (confd's
own) must not pay for Jinja2, nor one with only Jinja2 templates for the Go engine (the engine is
chosen in confpy.engines.select). Nor does a plain `-onetime` pay for what only rarer runs use
(check_cmd, `-noop`, `each`, ...): those modules are imported by the functions that need them.
A plain `-watch` renders before it imports what it needs only afterwards (the confdir watcher).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.etcd_server import EtcdServer
from tests.support.helpers import make_confdir, wait_until

RESOURCE = '[template]\nsrc = "{src}"\ndest = "{dest}"\nkeys = ["/app"]\n'
TEMPLATES = {"app.conf.tmpl": '{{getv "/app/name"}}\n', "app.conf.j2": "{{ getv('/app/name') }}\n"}


# The run path below the command (what it calls once its flags are parsed), so that what the
# command's own parser imports does not hide what the run imports.
RUN_PATH = (
    "import sys; from confpy.runtime.launch import run_from_flags; "
    "sys.exit(run_from_flags({'onetime': True, 'backend': 'env', 'confdir': sys.argv[1]}))"
)
COMMAND = ("-m", "confpy", "-onetime", "-backend", "env", "-confdir")
WATCH = ("-m", "confpy", "-watch", "-backend", "env", "-log-level", "info", "-confdir")

# What only rarer runs use, and which: a plain -onetime run imports none of it.
ONLY_FOR = {
    "confpy.pipeline.commands": "check_cmd and reload_cmd",
    "subprocess": "check_cmd and reload_cmd",
    "confpy.pipeline.diff": "-noop's diff",
    "difflib": "-noop's diff",
    "confpy.pipeline.each": "each",
    "shlex": "check_cmd and reload_cmd",
    "confpy.config.signals": "reload_signal and kill_signal",
    "signal": "reload_signal and kill_signal",
    "pwd": "owner",
    "grp": "group",
    "confpy.engines.analysis": "confpy check and convert",
    # ~23 M instructions with what it imports, and each dataclass ~4 M more (its methods are
    # compiled from generated source): a run's own records are NamedTuples or __slots__ classes.
    "dataclasses": "confpy check's analysis, convert and the MemoryBackend",
    "inspect": "the typer CLI's subcommands, and a Go template's call with wrong arguments",
    "confpy._go.encjson": "json, jsonArray, toJson and fromJson",
    "confpy._go.regexp": "regexMatch, regexFind and regexReplaceAll",
    "hashlib": "sha256sum",
    "unicodedata": "snakecase, camelcase and kebabcase, and Go's regexp",
    "confpy.backends.memory": "the library's and the tests' MemoryBackend",
    "confpy.engines.gotemplate.gotime": "datetime (Go's time.Time)",
    "confpy.engines.gotemplate.gosort": "sortByLength and sortKVByLength",
    # watch mode's mallopt goes through _ctypes: ctypes's own import is 1 ms of the first render
    "ctypes": "a render that passes its render_timeout",
    "random": "a retry's jitter",
}
# What a plain `-watch` run imports only after its first render, or only for a flag it lacks.
WATCH_AFTER_THE_FIRST_RENDER = {
    "watchdog": "the confdir watcher, started once every resource has rendered",
    "confpy.ops.metrics": "-metrics-addr",
}
# Jinja2's own (bytecode cache, nodes, lorem ipsum), whatever the template calls
JINJA2_IMPORTS = {"hashlib", "inspect", "random"}


def _imported(tmp_path: Path, src: str, entry: tuple[str, ...] = COMMAND) -> set[str]:
    """The modules a `confpy -onetime` of one resource with template `src` imports (`entry`: how
    Python is told to run it, the confdir last)."""
    dest = tmp_path / "app.conf"
    confdir = make_confdir(tmp_path, {"app.toml": RESOURCE.format(src=src, dest=dest)}, {src: TEMPLATES[src]})
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *entry, str(confdir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        # HOME set: without it site.py looks the user up in pwd
        env={"APP_NAME": "web", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "web\n"
    return {
        line.rpartition("|")[2].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }


@pytest.mark.parametrize(
    ("src", "used", "unused"),
    [
        ("app.conf.tmpl", "confpy.engines.go", ("jinja2", "confpy.engines.jinja", "confpy.engines.convert")),
        ("app.conf.j2", "confpy.engines.jinja", ("confpy.engines.go", "confpy.engines.gotemplate")),
    ],
)
def test_a_run_imports_only_the_engine_it_uses(
    tmp_path: Path, src: str, used: str, unused: tuple[str, ...]
) -> None:
    imported = _imported(tmp_path, src)
    assert used in imported
    assert not {m for m in imported if m.startswith(unused)}


@pytest.mark.parametrize("src", TEMPLATES)
def test_a_plain_run_imports_nothing_only_rarer_runs_use(tmp_path: Path, src: str) -> None:
    imported = _imported(tmp_path, src, ("-c", RUN_PATH))
    assert "confpy.pipeline.writer" in imported  # it ran
    if src.endswith(".j2"):
        imported -= JINJA2_IMPORTS
    assert {m: why for m, why in ONLY_FOR.items() if m in imported} == {}


def test_a_run_on_etcd_by_default_imports_neither_grpc_nor_http_client_nor_ssl(
    tmp_path: Path, etcd: EtcdServer, etcd_client: Any, etcd_prefix: str
) -> None:
    """`-etcd-transport auto` over http://: etcd's JSON gateway through confpy's own HTTP/1.1
    (backends/etcd/http11.py); gRPC (~30 MiB), http.client and its email parser, and ssl (for
    https:// nodes only) stay out."""
    etcd_client.put(f"{etcd_prefix}/app/name", "web")
    dest = tmp_path / "app.conf"
    toml = RESOURCE.format(src="app.conf.tmpl", dest=dest).replace('"/app"', f'"{etcd_prefix}/app/name"')
    confdir = make_confdir(
        tmp_path, {"app.toml": toml}, {"app.conf.tmpl": f'{{{{getv "{etcd_prefix}/app/name"}}}}\n'}
    )
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "confpy",
            "-onetime",
            "-node",
            etcd.url,
            "-confdir",
            str(confdir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "web\n"
    imported = {
        line.rpartition("|")[2].strip() for line in result.stderr.splitlines() if line.startswith("import")
    }
    assert "confpy.backends.etcd.http11" in imported
    assert {
        m for m in imported if m.split(".")[0] in ("grpc", "pyetcd", "ssl", "email") or m == "http.client"
    } == set()
    # Nor does the etcd backend import what only rarer runs use (dataclasses, inspect, ...).
    assert {m: why for m, why in ONLY_FOR.items() if m in imported} == {}


@pytest.mark.parametrize("src", TEMPLATES)
def test_a_plain_watch_run_renders_before_it_imports_the_confdir_watcher(tmp_path: Path, src: str) -> None:
    dest = tmp_path / "app.conf"
    confdir = make_confdir(tmp_path, {"app.toml": RESOURCE.format(src=src, dest=dest)}, {src: TEMPLATES[src]})
    log = tmp_path / "stderr"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-X", "importtime", *WATCH, str(confdir)],
            stderr=stderr,
            env={"APP_NAME": "web", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        try:  # until the watcher runs: it must start after the first render, but start
            wait_until(lambda: "| watchdog.observers\n" in log.read_text(), what="the confdir watcher")
        finally:
            proc.terminate()
            proc.wait(20)
    assert dest.read_text() == "web\n"
    # Both the imports (-X importtime) and the log go to stderr, in the order they happen.
    before = log.read_text().partition("has been updated")[0]
    imported = {
        line.rpartition("|")[2].strip() for line in before.splitlines() if line.startswith("import time:")
    }
    assert "confpy.pipeline.writer" in imported  # it rendered
    only_for = {**ONLY_FOR, **WATCH_AFTER_THE_FIRST_RENDER}
    del only_for["signal"]  # the service's own: SIGHUP and SIGTERM
    if src.endswith(".j2"):
        imported -= JINJA2_IMPORTS
    assert {
        m: why for m, why in only_for.items() if m in imported or any(i.startswith(f"{m}.") for i in imported)
    } == {}


@pytest.mark.parametrize(
    ("command", "status"),
    [
        # the command's status: it saw the rendered file
        (["exec", "-ttl", "20s", "--", "sh", "-c", 'test "$(cat {dest})" = web && exit 3'], 3),
        (["wait", "/app/name", "-timeout", "5s"], 0),  # a flag after the keys, as click takes it
        (["register", "/app/x", "1", "-ttl", "20s"], 2),  # the env backend holds no lease
    ],
)
def test_the_sidecar_commands_start_without_the_typer_cli(
    tmp_path: Path, command: list[str], status: int
) -> None:
    """`confpy exec`, a container's entrypoint, and `register` and `wait` are parsed by Go's
    rules as a run is: typer and click (~20 ms, 4 MiB of every sidecar) are only for their --help
    and refused command lines."""
    dest = tmp_path / "app.conf"
    confdir = make_confdir(tmp_path, {"app.toml": RESOURCE.format(src="app.conf.tmpl", dest=dest)}, TEMPLATES)
    name, *args = (arg.format(dest=dest) for arg in command)
    flags = ["-backend", "env", "-confdir", str(confdir)]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "confpy", name, *flags, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"APP_NAME": "web", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == status, result.stderr
    imported = {
        line.rpartition("|")[2].strip() for line in result.stderr.splitlines() if line.startswith("import")
    }
    assert f"confpy.sidecar.{name}" in imported
    assert {m for m in imported if m.split(".")[0] in ("typer", "click")} == set()
    assert "confpy.cli.app" not in imported and "inspect" not in imported


def test_serving_metrics_imports_no_http_library(tmp_path: Path) -> None:
    """-metrics-addr's server and its text format are confpy's own: prometheus-client and
    http.server import http.client, the email parser and ssl (8 MiB of an idle sidecar)."""
    dest = tmp_path / "app.conf"
    confdir = make_confdir(tmp_path, {"app.toml": RESOURCE.format(src="app.conf.tmpl", dest=dest)}, TEMPLATES)
    log = tmp_path / "stderr"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-X", "importtime", *WATCH, str(confdir), "-metrics-addr", "127.0.0.1:0"],
            stderr=stderr,
            env={"APP_NAME": "web", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        try:
            wait_until(lambda: "serving /metrics" in log.read_text(), what="the metrics server")
            port = int(log.read_text().partition("serving /metrics")[2].split("port ")[1].split()[0])

            def scrape() -> bytes:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                    client.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    return b"".join(iter(lambda: client.recv(4096), b""))

            # The server starts with the engine, before the first render is counted.
            wait_until(lambda: b'confpy_renders_total{resource="app.toml"} ' in scrape(), what="a run")
        finally:
            proc.terminate()
            proc.wait(20)
    imported = {
        line.rpartition("|")[2].strip() for line in log.read_text().splitlines() if line.startswith("import")
    }
    assert "confpy.ops.metrics" in imported
    assert {m for m in imported if m.split(".")[0] in ("prometheus_client", "ssl", "email", "http")} == set()
