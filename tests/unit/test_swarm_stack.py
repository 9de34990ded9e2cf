"""containers/stack.yaml and containers/swarm.py's pure parts: what the Swarm stack promises, offline.

No Swarm runs here (`make swarm-test` runs one); these check the file's structure against the facts
of this kernel and of swarm.py: no IPVS (every service dnsrr, ports published mode host), one etcd
member pinned to each node with its own volume and TLS with client-certificate auth, a Swarm
secret pair per role matching the certificates pki.py makes, 5 sinatra replicas with a port per
task slot, and daemons that share nothing (key, socket, cgroup).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO

CONTAINERS = REPO / "containers"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, CONTAINERS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


swarm = _load("swarm")
pki = _load("pki")


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CONTAINERS / "stack.yaml").read_text())
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in service.get("environment", {}).items()}


def test_every_service_uses_dns_round_robin_and_host_mode_ports(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        assert service["deploy"]["endpoint_mode"] == "dnsrr", name
        for port in service.get("ports", []):
            assert isinstance(port, dict) and port["mode"] == "host", (name, port)
    assert [p["published"] for p in stack["services"]["nginx"]["ports"]] == [80]


def test_every_image_is_one_swarm_builds_and_pushes(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        image = service["image"]
        assert image.startswith("${REGISTRY}/confpy-demo/"), name
        assert image.rsplit("/", 1)[1] in swarm.IMAGES, name
        assert (CONTAINERS / image.rsplit("/", 1)[1] / "Dockerfile").exists()


def test_one_etcd_member_pinned_to_each_node_with_its_own_volume(stack: dict[str, Any]) -> None:
    services = stack["services"]
    members = sorted(name for name in services if re.fullmatch(r"etcd-\d", name))
    assert members == ["etcd-1", "etcd-2", "etcd-3"]
    cluster = _env(services["etcd-1"])["ETCD_INITIAL_CLUSTER"]
    assert cluster == ",".join(f"{m}=https://{m}:2380" for m in members)
    for member, node in zip(members, swarm.NODES, strict=True):
        service = services[member]
        assert service["deploy"]["placement"]["constraints"] == [f"node.hostname == {node.name}"]
        assert service["volumes"] == [f"{member}-data:/var/lib/etcd"]
        assert f"{member}-data" in stack["volumes"]
        env = _env(service)
        assert env["ETCD_NAME"] == member
        assert env["ETCD_INITIAL_CLUSTER"] == cluster
        assert env["ETCD_ADVERTISE_CLIENT_URLS"] == f"https://{member}:2379"


def test_etcd_speaks_tls_only_and_authenticates_clients_by_certificate(stack: dict[str, Any]) -> None:
    for member in ("etcd-1", "etcd-2", "etcd-3"):
        env = _env(stack["services"][member])
        assert env["ETCD_LISTEN_CLIENT_URLS"].startswith("https://")
        assert env["ETCD_LISTEN_PEER_URLS"].startswith("https://")
        assert env["ETCD_CLIENT_CERT_AUTH"] == env["ETCD_PEER_CLIENT_CERT_AUTH"] == "true"
        secrets = {s["target"] for s in stack["services"][member]["secrets"]}
        for variable in (
            "ETCD_CERT_FILE",
            "ETCD_KEY_FILE",
            "ETCD_TRUSTED_CA_FILE",
            "ETCD_PEER_CERT_FILE",
            "ETCD_PEER_KEY_FILE",
            "ETCD_PEER_TRUSTED_CA_FILE",
        ):
            path = Path(env[variable])
            assert path.parent == Path("/run/secrets") and path.name in secrets, variable


def test_each_client_has_its_roles_certificate_as_secrets(stack: dict[str, Any]) -> None:
    declared = stack["secrets"]
    made = {"ca.crt", "server.crt", "server.key", "peer.crt", "peer.key"}
    made |= {f"{role}.{suffix}" for role in pki.ROLES for suffix in ("crt", "key")}
    for secret in declared.values():
        assert secret["file"].startswith("${SWARM_PKI}/") and secret["file"].split("/", 1)[1] in made
    clients = {name: s for name, s in stack["services"].items() if "CONFPY_NODES" in _env(s)}
    role_of = {name: "root" if name == "etcd-auth" else name for name in clients}
    assert set(role_of.values()) == set(pki.ROLES)
    for name, service in clients.items():
        env = _env(service)
        assert env["CONFPY_NODES"].split(",") == [f"https://etcd-{i}:2379" for i in (1, 2, 3)]
        by_target = {s["target"]: s["source"] for s in service["secrets"]}
        assert by_target == {
            "etcd-ca.crt": "etcd-ca",
            "etcd-client.crt": f"{role_of[name]}-crt",
            "etcd-client.key": f"{role_of[name]}-key",
        }, name
        for source in by_target.values():
            assert source in declared
        assert env["CONFPY_CLIENT_CERT"] == env["ETCDCTL_CERT"] == "/run/secrets/etcd-client.crt"
        assert env["CONFPY_CLIENT_KEY"] == env["ETCDCTL_KEY"] == "/run/secrets/etcd-client.key"
        assert env["CONFPY_CLIENT_CA_KEYS"] == env["ETCDCTL_CACERT"] == "/run/secrets/etcd-ca.crt"


def test_etcd_auth_gives_every_service_role_a_user(stack: dict[str, Any]) -> None:
    script = stack["services"]["etcd-auth"]["entrypoint"][-1]
    granted = set(re.findall(r"^role (\S+) ", script, re.M))
    assert granted == set(pki.ROLES) - {"root"}
    assert "etcdctl auth enable" in script
    assert re.search(r"^role sinatra write /sinatra/ read /logstash$", script, re.M)
    assert re.search(r"^role nginx read /sinatra write /nginx/host$", script, re.M)
    assert stack["services"]["etcd-auth"]["deploy"]["restart_policy"]["condition"] == "on-failure"


def test_sinatra_is_one_service_of_5_replicas_with_a_port_per_task_slot(stack: dict[str, Any]) -> None:
    sinatra = stack["services"]["sinatra"]
    assert sinatra["deploy"]["replicas"] == 5
    assert _env(sinatra)["PORT"] == "456{{.Task.Slot}}"
    assert sinatra["hostname"] == "sinatra-{{.Task.Slot}}"
    assert "placement" not in sinatra["deploy"]  # spread over whatever nodes live
    assert sinatra["deploy"]["update_config"]["parallelism"] == 1


def test_nginx_sits_on_the_node_whose_address_swarm_prints(stack: dict[str, Any]) -> None:
    constraints = stack["services"]["nginx"]["deploy"]["placement"]["constraints"]
    assert constraints == [f"node.hostname == {swarm.NODES[0].name}"]
    assert swarm.nginx_url() == f"http://{swarm.NODES[0].addr}:80/"


def test_every_service_is_on_the_overlay_swarm_makes(stack: dict[str, Any]) -> None:
    assert stack["networks"] == {"default": {"name": "${NETWORK}", "external": True}}
    assert set(swarm.stack_env()) == {"REGISTRY", "SWARM_PKI", "NETWORK"}


def test_nodes_share_nothing_and_stay_inside_the_bridge() -> None:
    configs = [swarm.dockerd_config(node) for node in swarm.NODES]
    for key in ("hosts", "data-root", "exec-root", "pidfile", "deprecated-key-path", "cgroup-parent"):
        values = [str(config[key]) for config in configs]
        assert len(set(values)) == len(values), key
    for config in configs:
        assert config["insecure-registries"] == [swarm.REGISTRY]
        assert all(str(dns).startswith(swarm.SUBNET + ".") for dns in config["dns"])  # type: ignore[attr-defined]
    addresses = [node.addr for node in swarm.NODES] + [swarm.REGISTRY_ADDR, swarm.HOST_ADDR]
    assert len(set(addresses)) == len(addresses)
    assert all(addr.startswith(swarm.SUBNET + ".") for addr in addresses)
    names = [node.netns for node in swarm.NODES] + [swarm.REGISTRY_NS, swarm.BRIDGE]
    assert all(len(name) + 1 <= 15 for name in names)  # veth ends are the name plus one letter


def test_a_node_runs_under_nsenter_and_unshare_with_its_own_resolver() -> None:
    args = swarm._in_netns("cpsw1", "swarm-1", "dockerd")
    assert args[:2] == ["nsenter", "--net=/run/netns/cpsw1"]
    assert args[2:6] == ["unshare", "--uts", "--mount", "--propagation"]
    assert "mount --bind /etc/netns/cpsw1/resolv.conf /etc/resolv.conf" in args[-1]
    assert args[-1].endswith("hostname swarm-1 && exec dockerd")


def test_swarm_test_skips_saying_why_where_no_dockerd_can_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(CONTAINERS))
    try:
        swarm_test = _load("swarm_test")
    finally:
        sys.path.remove(str(CONTAINERS))
    monkeypatch.setattr(swarm_test.os, "geteuid", lambda: 1000)
    assert swarm_test.run_test() == 0
    assert capsys.readouterr().out == "swarm: SKIPPED: not root: network namespaces and dockerd need root\n"


def test_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert swarm.main(["sideways"]) == 2
    assert capsys.readouterr().err == "usage: swarm.sh up|test|down|status\n"


def test_down_with_nothing_made_removes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(swarm, "STATE", tmp_path / "state")
    monkeypatch.setattr(swarm, "CACHE", tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    monkeypatch.setenv("SWARM_KEEP_CACHE", "1")
    swarm.down()
    assert capsys.readouterr().out == "swarm: nothing to remove\n"
    assert (tmp_path / "cache").is_dir()


def test_a_wait_that_times_out_names_the_node_or_task_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = {
        "node": "swarm-1 Ready\nswarm-2 Down\n",
        "service": "confpy_sinatra.1 on swarm-1: Running 2 minutes ago \n"
        "confpy_sinatra.4 on no node: Pending 30 seconds ago no suitable node\n",
    }
    monkeypatch.setattr(swarm, "docker", lambda node, *args, **kw: listed[args[0]])
    with pytest.raises(swarm.StepFailed) as failed:
        swarm.wait_for(
            "3 nodes Ready", lambda: False, 0, 0, lagging=lambda: swarm.nodes_not_ready(swarm.NODES[0])
        )
    assert str(failed.value) == "3 nodes Ready: not within 0 s: swarm-2 Down, swarm-3 never joined"
    assert swarm.tasks_not_running(swarm.NODES[0], "confpy_sinatra") == (
        "confpy_sinatra.4 on no node: Pending 30 seconds ago no suitable node"
    )
