"""The sample stack end to end on 127.0.0.1: the containers' boot scripts, confpy doing the wiring.

A real etcd, nginx, Sinatra on puma, rsyslog forwarders and central agent over TLS, and the
osmem-server search node, all started as `make demo` starts them (containers/loopback.py). The
checks are bounded: every wait has a deadline, every request loop a time limit.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.paths import REPO

sys.path.insert(0, str(REPO / "containers"))

from dashboard import missing_requirements as dashboard_missing
from loopback import (
    LoopbackStack,
    http_get,
    missing_requirements,
    wait_for,
)

from tests.support.chromium import Chromium

TTL = 3  # lease TTL of every registration: short, so that a crash shows within the test
APPS = ("sinatra-1", "sinatra-2", "sinatra-3")
NGINX_CONF = "/etc/nginx/nginx.conf"
MISSING = missing_requirements()
needs_stack = pytest.mark.skipif(bool(MISSING), reason="the stack needs: " + "; ".join(MISSING))
DEMO_MISSING = (
    MISSING + dashboard_missing() + ([] if Chromium.binary() else ["chromium (apt-get install chromium)"])
)


class Traffic:
    """GET requests through nginx on a thread, every `interval` s, for at most `limit` s."""

    def __init__(self, url: str, interval: float = 0.01, limit: float = 30.0) -> None:
        self.url = url
        self.interval = interval
        self.limit = limit
        self.answers: list[tuple[float, int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + self.limit
        while not self._stop.is_set() and time.monotonic() < end:
            status, body = http_get(self.url, timeout=3.0)
            self.answers.append((time.monotonic(), status, body.strip()))
            self._stop.wait(self.interval)

    @property
    def failures(self) -> list[tuple[float, int, str]]:
        return [a for a in self.answers if a[1] != 200]

    def served_by(self, name: str) -> list[float]:
        return [t for t, status, body in self.answers if status == 200 and body == name]

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackStack]:
    """etcd, the search node, the central agent, three apps, nginx and the test client, all up."""
    if MISSING:
        pytest.skip("the stack needs: " + "; ".join(MISSING))
    with LoopbackStack(tmp_path_factory.mktemp("stack"), ttl=TTL) as running:
        running.start_etcd()
        running.start("elk", "elk")
        running.start("logstash", "logstash")
        for name in APPS:
            running.start(name, "sinatra")
        running.start("nginx", "nginx")
        running.start("test-client", "test-client", env={"INTERVAL": "0.2"})
        seen: set[str] = set()

        def all_served() -> bool:
            status, body = http_get(url(running))
            if status == 200:
                seen.add(body.strip())
            return seen >= set(APPS)

        try:
            wait_for(all_served, 30.0, f"nginx serving {', '.join(APPS)}", interval=0.05)
        except TimeoutError as exc:
            pytest.fail(f"{exc}\n{outputs(running)}")
        yield running


def url(stack: LoopbackStack) -> str:
    return f"http://{stack.instances['nginx'].address}/"


def outputs(stack: LoopbackStack, lines: int = 15) -> str:
    """The tail of every instance's output, for a failure message."""
    parts = []
    for name, instance in stack.instances.items():
        tail = "\n".join(instance.output().splitlines()[-lines:])
        parts.append(f"--- {name} ({'running' if instance.running else 'ended'})\n{tail}")
    return "\n".join(parts)


def upstreams(stack: LoopbackStack) -> str:
    return stack.rendered("nginx", NGINX_CONF)


def join(stack: LoopbackStack, name: str) -> str:
    """Start another app; its key once registered."""
    instance = stack.start(name, "sinatra")
    key = f"/sinatra/{instance.port}/host"
    wait_for(lambda: key in stack.keys("/sinatra/"), 15.0, f"{name} registered")
    return key


def search_documents(stack: LoopbackStack) -> list[dict[str, object]]:
    """Every document in the search node's `logs` index."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"http://{stack.instances['elk'].address}/logs/_search",
        data=json.dumps({"size": 10000, "query": {"match_all": {}}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=3.0) as resp:
            return [hit["_source"] for hit in json.load(resp)["hits"]["hits"]]
    except OSError:
        return []


# -- without the stack ----------------------------------------------------------------------------


def test_every_resource_renders_from_sample_keys(tmp_path: Path) -> None:
    """`confpy check` renders all of conf.d/ (every role) against a full set of keys."""
    data = tmp_path / "keys.yaml"
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    data.write_text(
        yaml.safe_dump(
            {
                "sinatra": {"4567": {"host": "10.0.0.5:4567"}, "4568": {"host": "[2001:db8::1]:4568"}},
                "logstash": {"host": "10.0.0.3:5000", "ssl": {"certificate": pem, "key": pem}},
                "elasticsearch": {"host": "elk:9200"},
                "nginx": {"host": "10.0.0.2:80"},
            }
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "confpy", "check", "-confdir", str(REPO), "-data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "INSTANCE_ID": "sinatra-4567"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "server 10.0.0.5:4567 " in result.stdout
    assert "server [2001:db8::1]:4568 " in result.stdout
    assert 'target="10.0.0.3" port="5000"' in result.stdout
    assert 'server="http://elk:9200"' in result.stdout
    assert "http://10.0.0.2:80/" in result.stdout


def test_an_injected_upstream_fails_the_render(tmp_path: Path) -> None:
    """A value that would add nginx directives is refused by `hostport`, naming the template."""
    data = tmp_path / "keys.yaml"
    data.write_text(yaml.safe_dump({"sinatra": {"1": {"host": "10.0.0.5:80; deny all"}}}))
    confdir = tmp_path / "confdir"
    (confdir / "conf.d").mkdir(parents=True)
    (confdir / "conf.d" / "nginx.toml").write_text((REPO / "conf.d/nginx/nginx.toml").read_text())
    (confdir / "templates").symlink_to(REPO / "templates")
    result = subprocess.run(
        [sys.executable, "-m", "confpy", "check", "-confdir", str(confdir), "-data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "nginx.conf.j2" in result.stderr and "hostport" in result.stderr


# -- the demo -------------------------------------------------------------------------------------


class DemoOutput:
    """The demo's output, read on a thread as it comes, so that a test can act on a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._proc = proc
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first line from now on matching `pattern`; AssertionError with the output if none."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} within {timeout:g} s:\n{self.text}")

    def rest(self, timeout: float) -> str:
        """Everything until the output ends (at most `timeout` s)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return self.text

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def dashboard_apps(browser: Chromium, page: str) -> dict[str, int]:
    """Hits per app in the dashboard's Virtual Hosts table, as the page shows it now.

    goaccess's page redraws a table on a live update only while it is in view: scroll to it.
    """
    rows = browser.evaluate(
        page,
        """(() => {
            const panel = document.getElementById('panel-vhosts');
            if (!panel) return [];
            panel.scrollIntoView();
            return [...panel.querySelectorAll('tbody tr')].map(tr => tr.innerText);
        })()""",
    )
    hits = {}
    for row in rows or []:
        cells = row.split("\t")
        if len(cells) >= 4 and cells[-1].strip().startswith("sinatra-"):
            hits[cells[-1].strip()] = int(cells[1].split()[0])
    return hits


@pytest.mark.skipif(bool(DEMO_MISSING), reason="the demo test needs: " + "; ".join(DEMO_MISSING))
def test_demo_runs_the_story_shows_its_traffic_and_cleans_up(tmp_path: Path) -> None:
    """`make demo`'s program, ended by Ctrl-C: it checks its own story and exits 0 only if it held.

    While it runs, what it says to look at works: the rendered files, nginx, the search node's
    query, and the traffic dashboard, opened in headless Chromium, lists requests from every app,
    including, without a reload, the app started after the page was opened.
    """
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "containers" / "demo.py"), "--duration", "0", "--apps", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = DemoOutput(proc)
    try:
        run_dir = output.wait_for(r"run directory (/tmp/confpy-demo-\S+)", 30)[1]
        output.wait_for("nginx serves all 3 apps", 60)
        files = output.wait_for(r"look +rendered files: .* \(list them: (find .*)\)$", 5)[1]
        found = subprocess.run(files, shell=True, capture_output=True, text=True, timeout=10, check=True)
        assert f"{run_dir}/nginx/root/etc/nginx/nginx.conf" in found.stdout.splitlines()
        nginx = output.wait_for(r"look +nginx: (http://127\.0\.0\.1:\d+/) ", 5)[1]
        status, body = http_get(nginx)
        assert (status, body.strip() in APPS) == (200, True), (status, body)
        query = output.wait_for(r"look +search node: (curl .*)$", 5)[1]

        answers: list[str] = []

        def searched() -> set[str]:
            """The apps the search node has events from (none before the first is indexed)."""
            try:
                answer = subprocess.run(
                    query, shell=True, capture_output=True, text=True, timeout=20, check=False
                )
            except subprocess.TimeoutExpired:
                answers.append("no answer within 20 s")
                return set()  # on a busy machine the first search of a new index took 15 s
            answers.append(answer.stdout + answer.stderr)
            found = json.loads(answer.stdout or "{}").get("aggregations", {"apps": {"buckets": []}})
            return {bucket["key"] for bucket in found["apps"]["buckets"]}

        try:
            wait_for(lambda: searched() >= set(APPS), 45.0, "the search node's answer naming every app", 0.5)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; its last answer: {answers[-1:]}\n{output.rest(1.0)}") from None
        url = output.wait_for(r"look +traffic dashboard: (http://127\.0\.0\.1:\d+/)$", 5)[1]

        with Chromium(tmp_path / "chromium") as browser:
            page = browser.open(url)
            seen: dict[str, int] = {}

            def shows(apps: set[str]) -> bool:
                seen.update(dashboard_apps(browser, page))
                return apps <= set(seen)

            try:
                wait_for(lambda: shows(set(APPS)), 20.0, "the dashboard listing every app", interval=0.5)
                output.wait_for("sinatra-4 served its first request", 30)
                wait_for(lambda: shows({"sinatra-4"}), 20.0, "the dashboard listing sinatra-4", interval=0.5)
            except TimeoutError as exc:
                raise AssertionError(f"{exc}; it listed {seen}\n{browser.text(page)[:3000]}") from None
        output.wait_for("running until Ctrl-C", 30)
    finally:
        proc.send_signal(signal.SIGINT)
        text = output.rest(60)
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    assert proc.returncode == 0, text
    assert "everything worked" in text
    # Its own run directory: other demos (a developer's, another checkout's tests) may run at once.
    assert not Path(run_dir).exists(), "the run directory was left behind"
    assert not processes_naming(run_dir), "processes left behind"
    assert http_get(url, timeout=1.0)[0] == 0, "the dashboard still answers after the demo ended"


def processes_naming(text: str) -> list[str]:
    """The command lines of running processes that contain `text` (goaccess names its log file)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command and entry.name.isdigit():
            found.append(command)
    return found


# -- the running stack ----------------------------------------------------------------------------


@needs_stack
def test_requests_spread_over_all_instances(stack: LoopbackStack) -> None:
    answers = Counter(http_get(url(stack))[1].strip() for _ in range(60))
    apps = [name for name in APPS if stack.instances[name].running]
    assert set(answers) == set(apps), answers
    assert min(answers.values()) >= 60 // len(apps) // 2, answers
    config = upstreams(stack)
    for name in apps:
        assert f"server {stack.instances[name].address} " in config
    client = stack.instances["test-client"].output()
    assert any(f"200 {name}" in client for name in apps), client[-2000:]


@needs_stack
def test_a_new_instance_gets_traffic_within_2_s(stack: LoopbackStack) -> None:
    """Within 2 s of being registered and answering (confpy exec registers before puma is up)."""
    try:
        with Traffic(url(stack)) as traffic:
            join(stack, "sinatra-new")
            direct = f"http://{stack.instances['sinatra-new'].address}/"
            wait_for(lambda: http_get(direct)[0] == 200, 15.0, "sinatra-new answering")
            ready = time.monotonic()
            wait_for(lambda: bool(traffic.served_by("sinatra-new")), 5.0, "sinatra-new served")
        first = traffic.served_by("sinatra-new")[0]
        assert first - ready < 2.0, f"first served through nginx {first - ready:.2f} s after it was ready"
        assert not traffic.failures
    finally:
        stack.stop("sinatra-new")


@needs_stack
def test_sigterm_takes_an_instance_out_without_a_failed_request(stack: LoopbackStack) -> None:
    key = join(stack, "sinatra-term")
    address = stack.instances["sinatra-term"].address
    wait_for(lambda: f"server {address} " in upstreams(stack), 5.0, "sinatra-term in nginx.conf")
    with Traffic(url(stack)) as traffic:
        # A precondition, not the point: on a busy machine the first request took over 5 s.
        wait_for(lambda: bool(traffic.served_by("sinatra-term")), 15.0, "sinatra-term served")
        signalled = time.monotonic()
        stack.instances["sinatra-term"].proc.send_signal(signal.SIGTERM)
        wait_for(lambda: key not in stack.keys("/sinatra/"), 2.0, "key deleted after SIGTERM")
        left = 2.0 - (time.monotonic() - signalled)
        wait_for(lambda: f"server {address} " not in upstreams(stack), left, "nginx.conf without it")
        time.sleep(1.0)
    stack.stop("sinatra-term")
    assert not traffic.failures, traffic.failures
    late = [t - signalled for t in traffic.served_by("sinatra-term") if t - signalled > 2.0]
    assert not late, f"served by the stopped instance {late} s after SIGTERM"
    assert len(traffic.answers) > 50


@needs_stack
def test_sigkill_key_expires_after_the_ttl_and_nginx_drops_it(stack: LoopbackStack) -> None:
    key = join(stack, "sinatra-kill")
    address = stack.instances["sinatra-kill"].address
    wait_for(lambda: f"server {address} " in upstreams(stack), 5.0, "sinatra-kill in nginx.conf")
    with Traffic(url(stack), interval=0.02) as traffic:
        stack.kill("sinatra-kill")
        killed = time.monotonic()
        assert key in stack.keys("/sinatra/"), "a crash must leave the key to its lease"
        wait_for(lambda: key not in stack.keys("/sinatra/"), TTL + 3.0, "key expired")
        expired = time.monotonic() - killed
        wait_for(lambda: f"server {address} " not in upstreams(stack), 2.0, "nginx.conf without it")
    assert expired >= TTL - 1.5, f"the key went after {expired:.1f} s, before its {TTL} s lease ran out"
    assert not traffic.failures, traffic.failures


@needs_stack
def test_log_events_from_every_app_reach_the_search_node(stack: LoopbackStack) -> None:
    marker = uuid.uuid4().hex
    apps = [name for name in APPS if stack.instances[name].running]
    for name in apps:
        assert http_get(f"http://{stack.instances[name].address}/probe/{marker}")[0] == 404

    def arrived() -> set[str]:
        return {str(d.get("app")) for d in search_documents(stack) if d.get("path") == f"/probe/{marker}"}

    wait_for(lambda: arrived() >= set(apps), 15.0, "a log event from every app in the search node")
    assert arrived() == set(apps)


@needs_stack
def test_both_ends_use_the_tls_pair_from_etcd(stack: LoopbackStack) -> None:
    keys = stack.keys("/logstash/ssl/")
    certificate, key = keys["/logstash/ssl/certificate"], keys["/logstash/ssl/key"]
    for name, folder in [("logstash", "rsyslog-central")] + [(a, "rsyslog-forwarder") for a in APPS]:
        tls = stack.instances[name].root / "etc" / folder / "tls"
        assert (tls / "certificate.pem").read_text().strip() == certificate.strip()
        assert (tls / "key.pem").read_text().strip() == key.strip()
        assert (tls / "key.pem").stat().st_mode & 0o777 == 0o600

    tls = stack.instances["logstash"].root / "etc/rsyslog-central/tls"
    good = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls / "certificate.pem"))
    good.load_cert_chain(tls / "certificate.pem", tls / "key.pem")
    anonymous = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls / "certificate.pem"))
    address = ("127.0.0.1", stack.instances["logstash"].port)
    refused, accepted = uuid.uuid4().hex, uuid.uuid4().hex
    # Without a client certificate the agent drops the connection; with the pair from etcd it
    # indexes the event. The refused one is sent first, so it had every chance to arrive.
    send_event(anonymous, address, refused)
    assert send_event(good, address, accepted) == ssl.PEM_cert_to_DER_cert(certificate)

    def markers() -> set[object]:
        return {d.get("marker") for d in search_documents(stack)}

    wait_for(lambda: accepted in markers(), 15.0, "the event sent with the pair from etcd")
    assert refused not in markers()


def send_event(context: ssl.SSLContext, address: tuple[str, int], marker: str) -> bytes | None:
    """One syslog event over TLS; the server's certificate (DER), or None if the connection failed."""
    line = f'<13>1 2024-01-01T00:00:00Z probe probe - - - {{"marker":"{marker}"}}\n'
    try:
        with (
            socket.create_connection(address, timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="logstash") as conn,
        ):
            peer = conn.getpeercert(binary_form=True)
            conn.sendall(line.encode())
            return peer
    except OSError:
        return None
