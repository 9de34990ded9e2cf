"""`swarm.sh test` (`make swarm-test`): the Swarm stack's checks, with figures printed.

Brings the swarm up first (and down after) unless it is up already. Checks: tasks on all 3 nodes;
nginx reaches all 5 sinatra replicas; every replica's log events reach the search node (over the
forwarders' TLS); a node lost (every process of swarm-3 SIGKILLed at once: its dockerd, containerd
and containers, as when a host dies) -> Down, its sinatra tasks rescheduled, their old
registrations gone with their lease, nginx's upstreams equal the live set, etcd keeps quorum, and
the failed requests during the loss counted; the node restored and rejoined (its etcd member
healthy again); a rolling update of sinatra with the failed requests counted. Every wait is
bounded; a failure names the check and the node or task, and the teardown still runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import swarm
from swarm import NODES, STACK, StepFailed, docker, nodes_not_ready, say, tasks_not_running, wait_for

__all__ = ["Load", "run_test"]

#: Where the figures are written as JSON besides being printed (SWARM_FIGURES; unset: nowhere).
FIGURES = os.environ.get("SWARM_FIGURES", "")
ETCD_IMAGE = f"{swarm.REGISTRY}/confpy-demo/logstash"  # has etcdctl


@dataclass
class Load:
    """Requests to nginx in a thread, one every `interval` s, counted until `stop` (at most `limit` s)."""

    interval: float = 0.02
    limit: float = 300
    ok: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    served: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        end = time.monotonic() + self.limit
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                answer = swarm.served_by()
                self.ok += 1
                self.served.add(answer)
            except OSError as exc:
                self.failed += 1
                if len(self.errors) < 5:
                    self.errors.append(str(exc))
            time.sleep(self.interval)

    def stop(self) -> Load:
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        return self

    def figure(self) -> str:
        return f"{self.failed} failed of {self.ok + self.failed}" + (
            f" ({self.errors[0]})" if self.errors else ""
        )


def service_tasks(service: str, skip_node: str = "") -> list[dict[str, str]]:
    """Running tasks of a service (desired state running, current state Running), with node, slot, address."""
    first = NODES[0] if skip_node != NODES[0].name else NODES[1]
    ids = docker(
        first, "service", "ps", f"{STACK}_{service}", "--filter", "desired-state=running", "-q", "--no-trunc"
    ).split()
    tasks = []
    for task_id in ids:
        info = json.loads(docker(first, "inspect", task_id))[0]
        node = docker(
            first, "node", "inspect", info["NodeID"], "--format", "{{.Description.Hostname}}"
        ).strip()
        if info["Status"]["State"] != "running" or node == skip_node:
            continue
        addrs = [
            a.split("/")[0]
            for net in info.get("NetworksAttachments", [])
            if net["Network"]["Spec"]["Name"] == swarm.NETWORK
            for a in net["Addresses"]
        ]
        tasks.append(
            {
                "id": task_id,
                "node": node,
                "slot": str(info.get("Slot", "")),
                "addr": addrs[0] if addrs else "",
            }
        )
    return tasks


def etcdctl(
    *args: str, endpoints: str = "https://etcd-1:2379,https://etcd-2:2379,https://etcd-3:2379"
) -> str:
    """etcdctl as root (the root certificate never leaves the host otherwise), from a container on swarm-1."""
    return docker(
        NODES[0],
        "run",
        "--rm",
        "--network",
        swarm.NETWORK,
        "-v",
        f"{swarm.STATE / 'pki'}:/pki:ro",
        "-e",
        f"ETCDCTL_ENDPOINTS={endpoints}",
        "-e",
        "ETCDCTL_CACERT=/pki/ca.crt",
        "-e",
        "ETCDCTL_CERT=/pki/root.crt",
        "-e",
        "ETCDCTL_KEY=/pki/root.key",
        "--entrypoint",
        "etcdctl",
        ETCD_IMAGE,
        "--dial-timeout",
        "3s",
        "--command-timeout",
        "5s",
        *args,
        timeout=30,
    )


def registrations(endpoints: str = "https://etcd-1:2379,https://etcd-2:2379") -> set[str]:
    lines = etcdctl("get", "--prefix", "/sinatra/", endpoints=endpoints).splitlines()
    return {value for key, value in zip(lines[::2], lines[1::2], strict=False) if key.endswith("/host")}


def container_of(node: swarm.Node, service: str) -> str:
    ids = docker(
        node, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_{service}"
    ).split()
    if not ids:
        raise StepFailed(f"no {service} container on {node.name}")
    return ids[0]


def nginx_upstreams() -> set[str]:
    conf = docker(NODES[0], "exec", container_of(NODES[0], "nginx"), "cat", "/etc/nginx/nginx.conf")
    return set(re.findall(r"^\s*server (\S+) max_fails", conf, re.M))


def live_set(skip_node: str = "") -> set[str]:
    return {f"{t['addr']}:456{t['slot']}" for t in service_tasks("sinatra", skip_node)}


COUNT_APPS = """
import json, urllib.request as u
query = json.dumps({"size": 0, "aggs": {"apps": {"terms": {"field": "app.keyword"}}}}).encode()
request = u.Request("http://127.0.0.1:9200/logs/_search", query, {"Content-Type": "application/json"})
buckets = json.load(u.urlopen(request, timeout=2))["aggregations"]["apps"]["buckets"]
print(" ".join(sorted(b["key"] for b in buckets)))
"""


def apps_logged() -> set[str]:
    for node in NODES:
        with contextlib.suppress(StepFailed):
            cid = container_of(node, "elk")
            return set(docker(node, "exec", cid, "python3", "-c", COUNT_APPS, timeout=20).split())
    raise StepFailed("no elk container on any node")


def check(name: str, figures: dict[str, object], action: object) -> None:
    start = time.monotonic()
    try:
        result = action() if callable(action) else action
    except StepFailed as exc:
        raise StepFailed(f"check '{name}' FAILED: {exc}") from exc
    figures[name] = result
    say(f"ok  {name}: {result}  ({time.monotonic() - start:.1f} s)")


def checks(figures: dict[str, object]) -> None:
    victim = NODES[2]

    def spread() -> str:
        tasks = service_tasks("sinatra")
        per_node = {n.name: sum(1 for t in tasks if t["node"] == n.name) for n in NODES}
        if len(tasks) != 5 or min(per_node.values()) == 0:
            raise StepFailed(f"sinatra tasks per node {per_node} (want 5, on all 3 nodes)")
        return " ".join(f"{k}={v}" for k, v in per_node.items())

    check(
        "sinatra tasks per node", figures, lambda: wait_for_value("5 sinatra tasks on 3 nodes", spread, 120)
    )
    check(
        "seconds until nginx reached all 5 replicas",
        figures,
        lambda: round(swarm.wait_for_replicas(5, 120), 1),
    )

    def logs() -> str:
        want = {f"sinatra-456{i}" for i in range(1, 6)}
        seen: set[str] = set()

        def probe() -> bool:
            seen.clear()
            seen.update(apps_logged())
            return want <= seen

        took = wait_for(f"log events of {sorted(want)} in the search node", probe, 120, 2)
        return f"{' '.join(sorted(seen))} after {took:.1f} s"

    check("log events of every replica in the search node", figures, logs)

    wait_for("etcd's registrations equal to the running tasks", lambda: registrations() == live_set(), 60, 1)
    on_victim = {f"{t['addr']}:456{t['slot']}" for t in service_tasks("sinatra") if t["node"] == victim.name}
    check(
        f"sinatra registrations on {victim.name} before the loss",
        figures,
        lambda: " ".join(sorted(on_victim)),
    )
    load = Load().start()
    time.sleep(2)
    killed_at = time.monotonic()
    killed = swarm.kill_node(victim)
    say(f"{victim.name} lost: SIGKILL to its {killed} processes (dockerd, containerd, shims, containers)")

    def since_kill() -> float:
        return round(time.monotonic() - killed_at, 1)

    def down() -> bool:
        out = docker(NODES[0], "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
        return f"{victim.name} Down" in out

    wait_for(f"{victim.name} marked Down", down, 90)
    check(f"seconds until {victim.name} Down", figures, since_kill)

    def rescheduled() -> bool:
        return len(service_tasks("sinatra", victim.name)) == 5

    wait_for(
        "5 sinatra tasks running on swarm-1 and swarm-2",
        rescheduled,
        120,
        lagging=lambda: tasks_not_running(NODES[0], f"{STACK}_sinatra"),
    )
    check("seconds until sinatra rescheduled (5 running on the 2 live nodes)", figures, since_kill)

    wait_for("the dead registrations expired", lambda: not registrations() & on_victim, 90, 0.5)
    check(f"seconds until the registrations of {victim.name}'s tasks expired", figures, since_kill)

    def registrations_current() -> bool:
        regs = registrations()
        return not (regs & on_victim) and regs == live_set(victim.name)

    wait_for("the dead registrations gone and every live task registered", registrations_current, 90, 1)
    check("seconds until etcd's registrations equal the live set", figures, since_kill)
    wait_for(
        "nginx upstreams equal to the live set", lambda: nginx_upstreams() == live_set(victim.name), 60, 1
    )
    check("seconds until nginx's upstreams equal the live set", figures, since_kill)
    two = "https://etcd-1:2379,https://etcd-2:2379"

    def quorum() -> str:
        etcdctl("put", "/swarm-test/quorum", "kept", endpoints=two)
        return etcdctl("get", "--print-value-only", "/swarm-test/quorum", endpoints=two).strip()

    check("etcd keeps quorum (a put and a get through etcd-1, etcd-2)", figures, quorum)
    time.sleep(3)
    load.stop()
    check("requests failed during the node loss", figures, load.figure)

    restored_at = time.monotonic()
    swarm.start_dockerd(victim)

    def ready() -> bool:
        out = docker(NODES[0], "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
        return f"{victim.name} Ready" in out

    wait_for(f"{victim.name} Ready again", ready, 120, lagging=lambda: nodes_not_ready(NODES[0]))
    check(
        f"seconds until {victim.name} rejoined (Ready)",
        figures,
        lambda: round(time.monotonic() - restored_at, 1),
    )

    def member_back() -> bool:
        # A linearizable read through etcd-3 alone: it is back in the cluster and has caught up.
        return (
            etcdctl(
                "get", "--print-value-only", "/swarm-test/quorum", endpoints="https://etcd-3:2379"
            ).strip()
            == "kept"
        )

    wait_for("etcd-3 healthy again", member_back, 120, 2)
    check("seconds until etcd-3 healthy again", figures, lambda: round(time.monotonic() - restored_at, 1))

    load = Load().start()
    time.sleep(2)
    started = time.monotonic()
    docker(NODES[0], "service", "update", "--force", "--detach", f"{STACK}_sinatra")

    def updated() -> bool:
        state = docker(
            NODES[0],
            "service",
            "inspect",
            f"{STACK}_sinatra",
            "--format",
            "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
        ).strip()
        if state in ("paused", "rollback_completed"):
            raise SystemExit(f"swarm: check 'rolling update' FAILED: update {state}")
        return state == "completed" and len(service_tasks("sinatra")) == 5

    wait_for(
        "the rolling update of sinatra completed",
        updated,
        300,
        1,
        lagging=lambda: tasks_not_running(NODES[0], f"{STACK}_sinatra"),
    )
    check(
        "seconds for the rolling update of 5 replicas", figures, lambda: round(time.monotonic() - started, 1)
    )
    time.sleep(3)
    load.stop()
    check("requests failed during the rolling update", figures, load.figure)
    if load.failed:
        raise StepFailed(f"check 'rolling update' FAILED: {load.figure()}")
    # Swarm never moves running tasks back to a node that returns; a forced update places them anew.
    check(
        "sinatra tasks per node after the update", figures, lambda: wait_for_value("5 on 3 nodes", spread, 60)
    )
    check(
        "seconds until nginx reached all 5 replicas after the update",
        figures,
        lambda: round(swarm.wait_for_replicas(5, 120), 1),
    )


def wait_for_value(what: str, probe: object, timeout: float) -> str:
    """Poll `probe` (raising StepFailed while not yet) until it returns, at most `timeout` s."""
    end = time.monotonic() + timeout
    while True:
        try:
            return str(probe())  # type: ignore[operator]
        except StepFailed:
            if time.monotonic() > end:
                raise
            time.sleep(1)


def _skip_reason() -> str:
    if os.geteuid() != 0:
        return "not root: network namespaces and dockerd need root"
    if missing := swarm.missing_tool():
        return missing
    try:
        subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "ip netns does not work here"
    return ""


def run_test() -> int:
    reason = _skip_reason()
    if reason:
        say(f"SKIPPED: {reason}")
        return 0
    brought_up = not swarm.is_up()
    if brought_up:
        swarm.up()
    figures: dict[str, object] = {}
    try:
        checks(figures)
    except StepFailed as exc:
        say(str(exc))
        with contextlib.suppress(StepFailed):
            swarm.status()
        return 1
    finally:
        print(json.dumps(figures, indent=2), flush=True)
        if FIGURES:
            Path(FIGURES).write_text(json.dumps(figures, indent=2) + "\n")
        if brought_up and os.environ.get("SWARM_KEEP") != "1":
            swarm.down()
    say("PASSED")
    return 0
