"""`make demo`: the sample stack on 127.0.0.1, wired by confpy, with a running commentary.

etcd, the search node, the central log agent, APPS Sinatra apps (each with its log forwarder),
nginx and the test client start from their containers' boot scripts (see loopback.py), and a
traffic dashboard (dashboard.py) shows the requests that reached the central agent. The demo
prints what happens: keys registered in etcd, nginx re-rendered and reloaded, requests served per
app, log events per app in the search node; once the stack is up, where to look for yourself (the
rendered files, nginx, a query for the search node, the dashboard). Then it stops one app
(SIGTERM, as `docker stop`) and starts a new one, to show the rotation following. After
--duration seconds (0: at Ctrl-C once the rotation is shown) it gives the final tally and
removes every process and its run directory. Exit status 0 when everything it showed worked: all
apps served, the stopped one gone from nginx with no failed request, the new one served, and log
events from every app in the search node and on the dashboard.
"""

from __future__ import annotations

import argparse
import queue
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dashboard
from loopback import LoopbackStack, iter_lines, missing_requirements, search_counts

from confpy.backends import Event
from confpy.errors import BackendError

__all__ = ["Demo", "main"]

# The story's deadlines, generous: on a busy 2-core machine a new puma took ~7 s to register.
STARTUP_TIMEOUT = 30.0
ROTATION_TIMEOUT = 20.0
CLIENT_INTERVAL = "0.1"
_SERVER = re.compile(r"^\s*server (\S+) ", re.MULTILINE)
_CONFPY_LINE = re.compile(r"confpy\[\d+\]: \w+ (nginx\.toml: .*)$")


class Demo:
    """The stack and the commentary: `pump()` prints what happened since it last ran."""

    def __init__(self, stack: LoopbackStack, apps: int) -> None:
        self.stack = stack
        self.apps = [f"sinatra-{i}" for i in range(1, apps + 1)]
        self.t0 = time.monotonic()
        self.served: Counter[str] = Counter()
        self.window: Counter[str] = Counter()
        self.failed_after_up = 0
        self.up = False
        self.problems: list[str] = []
        self._events: queue.SimpleQueue[list[Event] | BackendError] = queue.SimpleQueue()
        self._positions: dict[str, int] = {}
        self._upstreams: list[str] = []
        self._close_watch: Callable[[], None] = lambda: None
        self.dashboard = dashboard.Dashboard(
            stack.run_dir / "dashboard", stack.run_dir / "dashboard" / "access.log"
        )

    def say(self, who: str, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:5.1f}s] {who:<12} {text}", flush=True)

    # -- the story --------------------------------------------------------------------------------

    def run(self, duration: float) -> int:
        self.say("demo", f"run directory {self.stack.run_dir}")
        self.stack.start_etcd()
        self.say("etcd", f"up on {self.stack.etcd_url}")
        self._watch_etcd()
        self.stack.start("elk", "elk")
        self.say("elk", "starting: the search node, osmem-server (an OpenSearch-API emulator)")
        url = self.dashboard.start()
        self.say("dashboard", f"up on {url}: goaccess, live, of the requests the central agent receives")
        self.stack.start("logstash", "logstash", env={"ACCESS_LOG": str(self.dashboard.access_log)})
        self.say(
            "logstash",
            "starting: the central agent, rsyslog (TLS in, omelasticsearch and the dashboard's log out)",
        )
        for name in self.apps:
            self.stack.start(name, "sinatra")
        self.say(
            "sinatra", f"starting {', '.join(self.apps)}: Sinatra on puma, each with an rsyslog forwarder"
        )
        self.stack.start("nginx", "nginx")
        self.say("nginx", "starting: the load balancer, its config rendered from /sinatra/*/host")
        self.stack.start("test-client", "test-client", env={"INTERVAL": CLIENT_INTERVAL})
        self.say("test-client", f"starting: a request to /nginx/host every {CLIENT_INTERVAL} s")

        if not self._until(lambda: all(self.served[a] for a in self.apps), STARTUP_TIMEOUT):
            self.problems.append(f"not every app was served within {STARTUP_TIMEOUT:g} s")
            return self._finish()
        self.up = True
        self.say(
            "demo", f"stack up in {time.monotonic() - self.t0:.1f} s: nginx serves all {len(self.apps)} apps"
        )
        self._point_the_way()
        # An app stopped before its forwarder shipped anything would be missing from the search
        # node for good (on a busy machine the first events took over 20 s): stop one only once
        # every app's events are there.
        self._until(lambda: set(self.apps) <= set(self._search_counts()), STARTUP_TIMEOUT, interval=0.5)
        self._pause(4.0)
        self._report_traffic()

        leaving, joining = self.apps[0], f"sinatra-{len(self.apps) + 1}"
        self._rotate(leaving, joining)
        self._pause(3.0)
        self._report_traffic()

        if duration <= 0:
            try:  # the line is inside: a Ctrl-C that answers it at once still gets the tally
                self.say("demo", "running until Ctrl-C, then the final tally")
                while True:
                    self._pause(5.0)
                    self._report_traffic()
            except KeyboardInterrupt:
                self.say("demo", "interrupted: the final tally")
            return self._finish()
        while (left := duration - (time.monotonic() - self.t0)) > 0:
            self._pause(min(5.0, left))
            self._report_traffic(search=time.monotonic() - self.t0 < duration)
        return self._finish()

    def _rotate(self, leaving: str, joining: str) -> None:
        port = self.stack.instances[leaving].port
        self.say("demo", f"stopping {leaving} (SIGTERM, as `docker stop` does)")
        self.stack.stop(leaving)
        if not self._until(lambda: f":{port}" not in " ".join(self._upstreams), ROTATION_TIMEOUT):
            self.problems.append(f"nginx still sends traffic to the stopped {leaving}")
        self.window.clear()
        self.say("demo", f"starting {joining}")
        self.stack.start(joining, "sinatra")
        self.apps.append(joining)
        start = time.monotonic()
        if self._until(lambda: self.served[joining] > 0, ROTATION_TIMEOUT):
            self.say(
                "demo",
                f"{joining} served its first request {time.monotonic() - start:.1f} s after it started",
            )
        else:
            self.problems.append(f"{joining} was not served within {ROTATION_TIMEOUT:g} s")
        self.apps.remove(leaving)

    def _point_the_way(self) -> None:
        """Where a person can look while the stack runs."""
        run, nginx = self.stack.run_dir, self.stack.instances["nginx"].address
        query = '{"size": 3, "aggs": {"apps": {"terms": {"field": "app.keyword"}}}}'
        search = f"http://{self.stack.instances['elk'].address}/logs/_search?pretty"
        for text in (
            f"rendered files: {run}/<instance>/root/etc/ (list them: find {run}/*/root/etc -type f)",
            f"nginx: http://{nginx}/ (each answer names the app that served it)",
            "search node: curl -s -H 'Content-Type: application/json' "
            f"{shlex.quote(search)} -d {shlex.quote(query)}",
            f"traffic dashboard: {self.dashboard.url}",
        ):
            self.say("look", text)

    def _finish(self) -> int:
        served = [a for a in self.served if self.served[a]]
        self._until(lambda: set(served) <= set(self._search_counts()), 10.0, interval=0.5)
        counts = self._search_counts()
        self.say("search node", "log events per app: " + _tally(counts))
        missing = sorted(set(served) - set(counts))
        if missing:
            self.problems.append(f"no log events in the search node from {', '.join(missing)}")
        self._until(lambda: set(served) <= set(self._dashboard_counts()), 5.0, interval=0.5)
        counts = self._dashboard_counts()
        self.say("dashboard", "requests per app: " + _tally(counts))
        missing = sorted(set(served) - set(counts))
        if missing:
            self.problems.append(f"no requests on the dashboard from {', '.join(missing)}")
        total = sum(self.served.values())
        self.say("demo", f"{total} requests served, {self.failed_after_up} failed once the stack was up")
        if self.failed_after_up:
            self.problems.append(f"{self.failed_after_up} requests failed once the stack was up")
        for problem in self.problems:
            self.say("PROBLEM", problem)
        if not self.problems:
            self.say("demo", "everything worked; cleaning up")
        return 1 if self.problems else 0

    # -- watching ---------------------------------------------------------------------------------

    def _watch_etcd(self) -> None:
        from confpy.backends.etcd.backend import EtcdBackend

        backend = EtcdBackend([self.stack.etcd_url], connect_timeout=5.0)
        self._close_watch = backend.close
        revision = backend.read(["/"]).revision
        backend.watch("/", revision + 1, self._events.put)

    def close(self) -> None:
        self._close_watch()
        self.dashboard.close()

    def pump(self) -> None:
        """Print the etcd events, nginx's renders and reloads; count the test client's answers."""
        while not self._events.empty():
            batch = self._events.get()
            if isinstance(batch, BackendError):
                self.say("etcd", f"watch ended: {batch}")
                continue
            for event in batch:
                self.say("etcd", _describe(event.key, event.value))
        for line in self._new_lines("nginx"):
            match = _CONFPY_LINE.search(line)
            if match:
                self._nginx_line(match.group(1))
        for line in self._new_lines("test-client"):
            status, _, body = line.partition(" ")
            if status == "200":
                self.served[body] += 1
                self.window[body] += 1
            elif self.up:
                self.failed_after_up += 1
                self.say("test-client", line)

    def _nginx_line(self, text: str) -> None:
        if "has been updated" in text:
            try:
                config = self.stack.rendered("nginx", "/etc/nginx/nginx.conf")
            except OSError:
                return
            self._upstreams = _SERVER.findall(config)
            servers = ", ".join(self._upstreams) or "none (503)"
            self.say("nginx", f"confpy re-rendered nginx.conf: upstream {servers}")
        elif "reload_cmd succeeded" in text:
            self.say("nginx", f"confpy reloaded nginx ({text.rpartition(' in ')[2]})")
        elif "failed" in text:
            self.say("nginx", text)

    def _new_lines(self, name: str) -> list[str]:
        instance = self.stack.instances.get(name)
        if instance is None:
            return []
        lines = []
        for line, position in iter_lines(instance.log_path, self._positions.get(name, 0)):
            lines.append(line)
            self._positions[name] = position
        return lines

    def _search_counts(self) -> dict[str, int]:
        try:
            return search_counts(f"http://{self.stack.instances['elk'].address}")
        except (OSError, KeyError, ValueError):
            return {}

    def _dashboard_counts(self) -> Counter[str]:
        """Requests per app in the dashboard's log (the first field of each line)."""
        return Counter(line.partition(" ")[0] for line, _ in iter_lines(self.dashboard.access_log, 0))

    def _report_traffic(self, search: bool = True) -> None:
        self.say("test-client", "answers since the last report: " + _tally(self.window))
        self.window.clear()
        if search:
            self.say("search node", "log events per app so far: " + _tally(self._search_counts()))

    def _until(self, predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
        """Pump until `predicate()` holds (asked every `interval` s) or `timeout` s have passed."""
        deadline = time.monotonic() + timeout
        asked = 0.0
        while time.monotonic() < deadline:
            self.pump()
            if time.monotonic() - asked >= interval:
                asked = time.monotonic()
                if predicate():
                    return True
            time.sleep(0.05)
        self.pump()
        return False

    def _pause(self, seconds: float) -> None:
        self._until(lambda: False, seconds)


def _describe(key: str, value: str | None) -> str:
    if value is None:
        return f"- {key} (deleted: lease revoked or expired)"
    if key.startswith("/logstash/ssl/"):
        return f"+ {key} ({len(value)} bytes of PEM)"
    return f"+ {key} = {value}"


def _tally(counts: Counter[str] | dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none yet"


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The confpy sample stack on 127.0.0.1.")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds to run; 0: until Ctrl-C [30]")
    parser.add_argument("--apps", type=int, default=5, help="Sinatra apps to start [5]")
    parser.add_argument("--ttl", type=int, default=15, help="lease TTL of every registration, seconds [15]")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (configs and logs)")
    args = parser.parse_args(argv)
    missing = missing_requirements() + dashboard.missing_requirements()
    if missing:
        print("the demo needs: " + "; ".join(missing), file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    run_dir = Path(tempfile.mkdtemp(prefix="confpy-demo-", dir="/tmp"))
    stack = LoopbackStack(run_dir, ttl=args.ttl)
    demo = Demo(stack, args.apps)
    status = 1
    try:
        status = demo.run(args.duration)
    except KeyboardInterrupt:
        demo.say("demo", "interrupted; cleaning up")
        status = 0 if args.duration <= 0 else 130
    except (RuntimeError, TimeoutError) as exc:
        demo.say("PROBLEM", str(exc))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.close()
        stack.close()
        if args.keep:
            print(f"run directory kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
