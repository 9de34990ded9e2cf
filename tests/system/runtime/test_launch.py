"""What `confpy` says and the exit status it ends with, run as a user runs it (a subprocess, real etcd).

docs/operations.md: exit 0 when every resource succeeded, 1 when any failed, 2 for bad flags or configuration.
"""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until

LOG_LINE = r"^\S+ \S+ confpy\[\d+\]: "


def lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line]


def test_an_empty_conf_d_is_said(tmp_path: Path) -> None:
    # confd's processor.go getTemplateResources warns "Found no templates"; confpy said nothing.
    confdir = make_confdir(tmp_path, {}, {})
    result = run_confpy("-onetime", "-backend", "env", "-confdir", str(confdir))
    assert result.returncode == 0, result.stderr
    assert f"WARNING {confdir}/conf.d: found no template resources (*.toml files)" in result.stderr


@pytest.mark.parametrize("mode", ["-onetime", "-watch"])
def test_a_missing_confdir_is_a_configuration_error(tmp_path: Path, mode: str) -> None:
    # It exited 1 with "1 of the template resources failed" (and -watch retried forever).
    result = run_confpy(mode, "-backend", "env", "-confdir", str(tmp_path / "nope"), timeout=30)
    assert result.returncode == 2, result.stderr
    assert len(lines(result.stderr)) == 1, result.stderr
    assert f"ERROR {tmp_path}/nope/conf.d: template resource directory does not exist" in result.stderr


@pytest.mark.parametrize("mode", ["-onetime", "-watch"])
def test_a_bad_node_url_is_a_configuration_error(tmp_path: Path, mode: str) -> None:
    confdir = make_confdir(tmp_path, {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/x"\n'}, {"a.j2": ""})
    result = run_confpy(mode, "-node", "ftp://127.0.0.1:2379", "-confdir", str(confdir), timeout=30)
    assert result.returncode == 2, result.stderr
    assert len(lines(result.stderr)) == 1, result.stderr
    assert "ERROR bad etcd node 'ftp://127.0.0.1:2379': expected http://host:port" in result.stderr


def test_a_run_that_changes_nothing_still_says_what_started(
    tmp_path: Path, etcd: Any, etcd_prefix: str, etcd_client: Any
) -> None:
    # confd.go logs "Starting confd" and config.go "Backend set to etcdv3" at INFO; confpy was silent.
    etcd_client.put(f"{etcd_prefix}/app/x", "1")
    dest = tmp_path / "out.conf"
    toml = f'[template]\nsrc = "a.j2"\ndest = "{dest}"\nprefix = "{etcd_prefix}"\nkeys = ["/app"]\n'
    confdir = make_confdir(tmp_path, {"a.toml": toml}, {"a.j2": "{{ getv('/app/x') }}\n"})
    args = ("-onetime", "-node", etcd.url, "-confdir", str(confdir))
    assert run_confpy(*args).returncode == 0
    again = run_confpy(*args)
    assert again.returncode == 0, again.stderr
    assert lines(again.stderr) == [again.stderr.strip()], again.stderr  # one line, and only that
    assert (
        f"INFO starting confpy {_version()}: backend etcdv3 (nodes {etcd.url}), confdir {confdir}, "
        "1 template resource, onetime"
    ) in again.stderr


def _version() -> str:
    from confpy import __version__

    return __version__


def test_confd_toml_warnings_follow_the_log_format(tmp_path: Path) -> None:
    # They were printed bare (logging's last resort handler), before the log was set up.
    confdir = make_confdir(tmp_path, {}, {})
    (confdir / "confd.toml").write_text('nodess = ["http://127.0.0.1:2379"]\nlog-format = "json"\n')
    result = run_confpy("-onetime", "-backend", "env", "-confdir", str(confdir))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in lines(result.stderr)]
    warning = records[0]
    assert warning["level"] == "warning" and "resource" not in warning
    assert warning["msg"] == (
        f"{confdir}/confd.toml: unknown setting 'nodess' is ignored (did you mean nodes?)"
    )
    text = run_confpy("-onetime", "-backend", "env", "-confdir", str(confdir), "-log-format", "text")
    assert "WARNING " in text.stderr and "(did you mean nodes?)" in text.stderr
    assert all(line.split()[2].startswith("confpy[") for line in lines(text.stderr)), text.stderr


def test_a_configuration_error_follows_the_log_format_asked_for(tmp_path: Path) -> None:
    result = run_confpy("-onetime", "-log-format", "json", "-interval", "soon", "-confdir", str(tmp_path))
    assert result.returncode == 2
    (record,) = [json.loads(line) for line in lines(result.stderr)]
    assert record["level"] == "error" and "interval" in record["msg"]


def test_a_port_that_answers_plain_http_fails_at_once_in_one_line(
    tmp_path: Path, transport: list[str]
) -> None:
    # gRPC said "Failed parsing HTTP/2 (Expected SETTINGS frame ...)", retried for -connect-timeout.
    # A configuration error: exit 2 (it was 1; issue 10, tests/system/runtime/test_start_errors.py).
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    toml = '[template]\nsrc = "a.j2"\ndest = "/tmp/x"\nkeys = ["/a"]\n'
    confdir = make_confdir(tmp_path, {"a.toml": toml}, {"a.j2": ""})
    try:
        # A retry until -connect-timeout would outlast the subprocess's own bound of 30 s.
        result = run_confpy(
            "-onetime",
            "-node",
            url,
            "-confdir",
            str(confdir),
            "-connect-timeout",
            "5m",
            *transport,
            timeout=30,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 2
    errors = [line for line in lines(result.stderr) if " ERROR " in line]
    assert len(errors) == 1, result.stderr
    api = "gRPC" if "grpc" in transport else "HTTP (JSON gateway)"
    assert (
        f"ERROR {url} is not an etcd {api} endpoint: something answers there, but not etcd's v3 API"
        in errors[0]
    )
    assert "HTTP/2" not in result.stderr and "SETTINGS" not in result.stderr


def test_a_reload_without_conf_d_is_refused_and_the_running_config_kept(tmp_path: Path) -> None:
    # It stopped every resource and retried a start that could not succeed.
    dest = tmp_path / "out.conf"
    toml = f'[template]\nsrc = "a.j2"\ndest = "{dest}"\nkeys = ["/"]\n'
    confdir = make_confdir(tmp_path, {"a.toml": toml}, {"a.j2": "{{ getenv('MARK') }}\n"})
    args = ("-watch", "-backend", "env", "-confdir", str(confdir), "-interval", "1h")
    with ConfpyProcess(*args, log_path=tmp_path / "log", env={"MARK": "one"}) as proc:
        wait_until(lambda: dest.exists() and dest.read_text() == "one\n", what="first render")
        (confdir / "conf.d").rename(tmp_path / "elsewhere")
        proc.signal(signal.SIGHUP)
        proc.wait_log("reload refused, keeping the running configuration: ")
        assert f"{confdir}/conf.d: template resource directory does not exist" in proc.log
        assert proc.proc.poll() is None
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0


def test_json_log_names_a_resource_the_same_way_when_it_loads_and_when_it_runs(tmp_path: Path) -> None:
    # Load messages gave the file's path as `resource` ("/x/confdir/conf.d/a.toml"), run messages "a.toml".
    toml = '[template]\nsrc = "a.j2"\ndest = "/tmp/never-written"\nreload_cmdd = "x"\n'
    confdir = make_confdir(
        tmp_path, {"a.toml": toml, "sub/b.toml": "[template\n"}, {"a.j2": "{{ nosuch() }}"}
    )
    result = run_confpy("-onetime", "-backend", "env", "-confdir", str(confdir), "-log-format", "json")
    assert result.returncode == 1
    records = [json.loads(line) for line in lines(result.stderr)]
    about = [(r["level"], r.get("resource")) for r in records if "resource" in r]
    assert about == [("warning", "a.toml"), ("error", "sub/b.toml"), ("error", "a.toml")], records


ARENAS = """
import ctypes, sys, threading
{cap}
barrier = threading.Barrier(8)
held = []
def allocate():
    barrier.wait()
    held.append([bytearray(50_000) for _ in range(20)])  # below the mmap threshold: from an arena
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()  # glibc: one "Arena N:" paragraph per arena, on stderr
"""


@pytest.mark.parametrize("capped", [True, False])
def test_a_watching_confpy_keeps_to_two_malloc_arenas(capped: bool) -> None:
    """cap_malloc_arenas: eight threads that each malloc use two glibc arenas, not nine."""
    cap = "from confpy.runtime.launch import cap_malloc_arenas; cap_malloc_arenas()" if capped else ""
    done = subprocess.run(
        [sys.executable, "-c", ARENAS.format(cap=cap)], capture_output=True, text=True, timeout=60, check=True
    )
    arenas = done.stderr.count("Arena ")
    assert arenas == 2 if capped else arenas > 2, done.stderr
