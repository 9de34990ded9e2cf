"""The sample stack on a 3-node Docker Swarm on one machine: `swarm.sh up|down|status|test`.

Each node is a dockerd in a network namespace of its own (cpsw1..cpsw3, 10.77.0.11-13) on a bridge
made here (cpswbr0, 10.77.0.1/24); a fourth namespace (cpswreg, 10.77.0.10) runs Debian's
docker-registry. The images are built once by a builder dockerd in the host's network (it alone
reaches the Debian mirror and PyPI; no bridge, no iptables of its own), pushed to the registry and
pulled by the nodes. The three nodes form a 3-manager Swarm with one overlay network, and
containers/stack.yaml is deployed on it with `docker stack deploy`.

Nothing outside what is made here is touched: every address is inside 10.77.0.0/24, every process
is stopped by its PID (the daemons, the registry, and the processes in the nodes' cgroups and
namespaces), and `down` removes the namespaces, the bridge, its one FORWARD rule, /etc/netns/cpsw*
and the state directory. The machine's facts behind each choice: ../shared/notes/machine.md and
docs/swarm.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NODES", "REGISTRY", "Node", "StepFailed", "down", "main", "status", "up"]

REPO = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("SWARM_DIR", "/var/lib/confpy-swarm"))
CACHE = Path(os.environ.get("SWARM_CACHE", "/var/cache/confpy-swarm"))
BRIDGE = "cpswbr0"
SUBNET = "10.77.0"
HOST_ADDR = f"{SUBNET}.1"
REGISTRY_NS = "cpswreg"
REGISTRY_ADDR = f"{SUBNET}.10"
REGISTRY = f"{REGISTRY_ADDR}:5000"
STACK = "confpy"
NETWORK = "confpy-swarm"
#: The Swarm's own address pool for overlays, apart from the bridge's subnet.
ADDR_POOL = "10.78.0.0/16"
#: Every image of the stack, built in this order (each service image on confpy-base).
IMAGES = ("etcd", "elk", "logstash", "sinatra", "nginx", "test-client")
FORWARD_RULE = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]


@dataclass(frozen=True)
class Node:
    """One Swarm node: a dockerd in network namespace `netns`, with hostname `name`."""

    index: int

    @property
    def name(self) -> str:
        return f"swarm-{self.index}"

    @property
    def netns(self) -> str:
        return f"cpsw{self.index}"

    @property
    def addr(self) -> str:
        return f"{SUBNET}.{10 + self.index}"

    @property
    def dir(self) -> Path:
        return STATE / self.name

    @property
    def sock(self) -> str:
        return f"unix://{self.dir}/docker.sock"

    @property
    def cgroup(self) -> str:
        """The cgroup parent of this node's containers: how a node loss finds its processes."""
        return f"confpy-{self.name}"


NODES = (Node(1), Node(2), Node(3))


class StepFailed(Exception):
    """A step of `up` (or a check of `test`) failed; the message names it and says why."""


def say(text: str) -> None:
    print(f"swarm: {text}", flush=True)


def run(
    args: Sequence[str],
    *,
    host: str | None = None,
    timeout: float = 60,
    check: bool = True,
    input_bytes: bytes | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run a command (against the dockerd at `host`), bounded by `timeout`; its stdout."""
    full_env = dict(os.environ, **(env or {}))
    if host:
        full_env["DOCKER_HOST"] = host
    try:
        result = subprocess.run(
            list(args), capture_output=True, timeout=timeout, env=full_env, input=input_bytes, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise StepFailed(f"{' '.join(args[:4])}: no answer within {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise StepFailed(f"{args[0]}: not installed") from exc
    if check and result.returncode != 0:
        lines = (result.stderr or result.stdout).decode(errors="replace").strip().splitlines()
        raise StepFailed(
            f"{' '.join(args[:4])}: {lines[-1] if lines else f'exit status {result.returncode}'}"
        )
    return result.stdout.decode(errors="replace")


def docker(node: Node, *args: str, timeout: float = 60, check: bool = True) -> str:
    return run(["docker", *args], host=node.sock, timeout=timeout, check=check)


def wait_for(
    what: str,
    probe: Callable[[], bool],
    timeout: float,
    interval: float = 0.5,
    lagging: Callable[[], str] | None = None,
) -> float:
    """Poll `probe` until true, at most `timeout` seconds; the seconds it took. On timeout the
    error ends with `lagging()`: which node or task is not there yet."""
    start = time.monotonic()
    while True:
        try:
            if probe():
                return time.monotonic() - start
        except StepFailed:
            pass
        if time.monotonic() - start > timeout:
            behind = ""
            if lagging is not None:
                try:
                    behind = f": {lagging()}"
                except StepFailed as exc:
                    behind = f" (and asking which failed: {exc})"
            raise StepFailed(f"{what}: not within {timeout:.0f} s{behind}")
        time.sleep(interval)


def nodes_not_ready(manager: Node) -> str:
    """The nodes that `manager` does not list as Ready, with the status it gives them."""
    out = docker(manager, "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
    status = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    behind = [
        f"{node.name} {status.get(node.name, 'never joined')}"
        for node in NODES
        if status.get(node.name) != "Ready"
    ]
    return ", ".join(behind) or "none (they became Ready as the time ran out)"


def tasks_not_running(manager: Node, service: str) -> str:
    """The tasks of `service` that should run and do not: name, node, state and error."""
    out = docker(
        manager, "service", "ps", service, "--filter", "desired-state=running",
        "--format", "{{.Name}} on {{if .Node}}{{.Node}}{{else}}no node{{end}}: {{.CurrentState}} {{.Error}}",
    )  # fmt: skip
    behind = [line.strip() for line in out.splitlines() if ": Running" not in line]
    return "; ".join(behind) or "none (they started as the time ran out)"


def step(name: str, action: Callable[[], object]) -> None:
    """One named step of `up`, timed; a failure says which step."""
    start = time.monotonic()
    try:
        action()
    except StepFailed as exc:
        raise StepFailed(f"step '{name}' failed: {exc}") from exc
    say(f"{name}: {time.monotonic() - start:.1f} s")


# ---------------------------------------------------------------------------------------- network


def _record(kind: str, value: str) -> None:
    """What `down` must remove, written before it is made."""
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / "made").open("a", encoding="utf-8") as fh:
        fh.write(f"{kind} {value}\n")


def _made() -> list[tuple[str, str]]:
    path = STATE / "made"
    if not path.exists():
        return []
    return [tuple(line.split(" ", 1)) for line in path.read_text().splitlines() if " " in line]  # type: ignore[misc]


def _netns_files(netns: str, hosts: str) -> None:
    etc = Path("/etc/netns") / netns
    etc.mkdir(parents=True, exist_ok=True)
    # Lookups inside a namespace hang without these; nothing answers on 127.0.0.1:53, so they fail fast.
    (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    (etc / "hosts").write_text(hosts)


def make_network() -> None:
    hosts = (
        "127.0.0.1 localhost\n"
        + f"{REGISTRY_ADDR} registry\n"
        + "".join(f"{node.addr} {node.name}\n" for node in NODES)
    )
    if not Path("/etc/netns").exists():
        _record("dir", "/etc/netns")
    # Each thing is recorded once made, so that `down` never removes a namesake it did not make.
    run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    _record("link", BRIDGE)
    run(["ip", "addr", "add", f"{HOST_ADDR}/24", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    # The host's FORWARD policy may be DROP with bridge netfilter on: allow traffic within the bridge.
    run(["iptables", "-I", FORWARD_RULE[0], "1", *FORWARD_RULE[1:]])
    _record("iptables", " ".join(FORWARD_RULE))
    for netns, addr in [(REGISTRY_NS, REGISTRY_ADDR)] + [(n.netns, n.addr) for n in NODES]:
        run(["ip", "netns", "add", netns])
        _record("netns", netns)
        _netns_files(netns, hosts)
        outside, inside = f"{netns}h", f"{netns}n"
        run(["ip", "link", "add", outside, "type", "veth", "peer", "name", inside])
        _record("link", outside)
        run(["ip", "link", "set", inside, "netns", netns])
        run(["ip", "link", "set", outside, "master", BRIDGE, "up"])
        run(["ip", "-n", netns, "addr", "add", f"{addr}/24", "dev", inside])
        run(["ip", "-n", netns, "link", "set", inside, "up"])
        run(["ip", "-n", netns, "link", "set", "lo", "up"])


# -------------------------------------------------------------------------------------- processes


def _in_netns(netns: str, hostname: str, command: str) -> list[str]:
    """`command` (sh) in `netns` with a private mount namespace: its mounts vanish with it, and the
    namespace's resolv.conf and hosts are bound over the host's (else dockerd uses the host's resolver)."""
    return [
        "nsenter",
        f"--net=/run/netns/{netns}",
        "unshare",
        "--uts",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        f"mount --bind /etc/netns/{netns}/resolv.conf /etc/resolv.conf && "
        f"mount --bind /etc/netns/{netns}/hosts /etc/hosts && hostname {hostname} && exec {command}",
    ]


def spawn(name: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start a daemon in the background, recorded by PID for `down`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, **(env or {})),
            start_new_session=True,
        )
    _record("pid", f"{proc.pid} {name}")
    return proc.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
            return False
    return True


def start_registry() -> None:
    root = STATE / "registry"
    (root / "data").mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\nhttp:\n  addr: {REGISTRY}\n"
    )
    pid = spawn(
        "registry",
        ["nsenter", f"--net=/run/netns/{REGISTRY_NS}", "docker-registry", "serve", str(config)],
        root / "registry.log",
    )

    def answers() -> bool:
        if not _alive(pid):
            raise SystemExit(
                f"swarm: step 'registry' failed: docker-registry exited: {_tail(root / 'registry.log')}"
            )
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=2) as resp:
            return bool(resp.status == 200)

    wait_for("the registry", lambda: _quiet(answers), 20, 0.2)


def _quiet(probe: Callable[[], bool]) -> bool:
    try:
        return probe()
    except OSError:
        return False


def _tail(path: Path, lines: int = 1) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def dockerd_config(node: Node) -> dict[str, object]:
    return {
        "hosts": [node.sock],
        "data-root": str(node.dir / "data"),
        "exec-root": str(node.dir / "exec"),
        "pidfile": str(node.dir / "dockerd.pid"),
        "storage-driver": "overlay2",
        "insecure-registries": [REGISTRY],
        # Its own key, or every daemon shares /etc/docker/key.json and one engine ID.
        "deprecated-key-path": str(node.dir / "key.json"),
        # Containers' lookups of outside names go nowhere (nothing answers there), never off the bridge.
        "dns": [REGISTRY_ADDR],
        "cgroup-parent": f"/{node.cgroup}",
        "log-level": "warn",
    }


def start_dockerd(node: Node) -> None:
    node.dir.mkdir(parents=True, exist_ok=True)
    config = node.dir / "daemon.json"
    config.write_text(json.dumps(dockerd_config(node), indent=2) + "\n")
    log = node.dir / "dockerd.log"
    # Without it each task waits ~40 s on digest look-ups against a public registry.
    pid = spawn(
        f"dockerd {node.name}",
        _in_netns(node.netns, node.name, f"dockerd --config-file {config}"),
        log,
        {"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"},
    )
    _record("cgroup", node.cgroup)

    def ready() -> bool:
        if not _alive(pid):
            raise SystemExit(f"swarm: step 'dockerd {node.name}' failed: dockerd exited: {_tail(log)}")
        return bool(docker(node, "info", "--format", "{{.ID}}", timeout=5, check=False).strip())

    wait_for(f"dockerd on {node.name}", ready, 60, 0.2)


def node_pids(node: Node) -> list[int]:
    """Every process of a node: those in its network namespace (dockerd, containerd, the shims)
    and those in its containers' cgroups (the containers have network namespaces of their own)."""
    pids: set[int] = set()
    out = run(["ip", "netns", "pids", node.netns], check=False, timeout=10)
    pids.update(int(p) for p in out.split() if p.isdigit())
    root = Path("/sys/fs/cgroup/pids") / node.cgroup
    if root.is_dir():
        for procs in root.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                pids.update(int(p) for p in procs.read_text().split())
    return sorted(pids)


def kill_node(node: Node) -> int:
    """The node's host crashes: SIGKILL to every process of it at once; how many there were."""
    pids = node_pids(node)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


# ----------------------------------------------------------------------------------------- images


def _context_tar() -> Path:
    """Only what the images copy, as stack.sh stages it."""
    path = STATE / "context.tar"
    with tarfile.open(path, "w") as tar:
        for name in ("pyproject.toml", "README.md", "confpy", "conf.d", "templates", "containers"):
            tar.add(
                REPO / name, arcname=name, filter=lambda info: None if "__pycache__" in info.name else info
            )
    return path


def _debootstrap_base() -> Path:
    tarball = CACHE / "bookworm-minbase.tar"
    if tarball.exists():
        return tarball
    mirror = "http://deb.debian.org/debian"
    for source in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        with contextlib.suppress(OSError):
            for line in source.read_text().splitlines():
                words = line.split()
                if words[:1] == ["URIs:"] or words[:1] == ["deb"]:
                    url = next((w for w in words[1:] if w.startswith("http")), "")
                    if url and "security" not in url:
                        mirror = url
                        break
    rootfs = CACHE / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.mkdir(parents=True)
    run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror], timeout=900)
    with tarball.with_suffix(".part").open("wb") as out:
        subprocess.run(["tar", "-C", str(rootfs), "-c", "."], stdout=out, check=True)
    tarball.with_suffix(".part").rename(tarball)
    shutil.rmtree(rootfs, ignore_errors=True)
    return tarball


BUILDER = Node(0)  # not a Swarm node: the builder dockerd, in the host's network


def start_builder() -> str:
    """A dockerd in the host's network namespace for the builds only: no bridge, no iptables, its
    mounts in a private mount namespace, its data under CACHE so that a second `up` builds in seconds."""
    root = CACHE / "builder"
    root.mkdir(parents=True, exist_ok=True)
    sock = f"unix://{root}/docker.sock"
    config = root / "daemon.json"
    config.write_text(
        json.dumps(
            {
                "hosts": [sock],
                "data-root": str(root / "data"),
                "exec-root": str(root / "exec"),
                "pidfile": str(root / "dockerd.pid"),
                "storage-driver": "overlay2",
                "bridge": "none",
                "iptables": False,
                "ip-masq": False,
                "insecure-registries": [REGISTRY],
                "deprecated-key-path": str(root / "key.json"),
                "cgroup-parent": f"/{BUILDER.cgroup}",
                "log-level": "warn",
            }
        )
        + "\n"
    )
    log = root / "dockerd.log"
    _record("cgroup", BUILDER.cgroup)
    pid = spawn(
        "dockerd builder",
        ["unshare", "--mount", "--propagation", "private", "dockerd", "--config-file", str(config)],
        log,
    )

    def ready() -> bool:
        if not _alive(pid):
            raise StepFailed(f"the builder dockerd exited: {_tail(log)}")
        return bool(run(["docker", "info", "--format", "{{.ID}}"], host=sock, timeout=5, check=False).strip())

    wait_for("the builder dockerd", ready, 60, 0.2)
    return sock


def stop_pid(pid: int, grace: float = 15) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def build_and_push() -> None:
    """Build confpy-base and every service image once (one build at a time), push them to the registry."""
    sock = start_builder()
    pid = next(
        int(v.split()[0]) for k, v in reversed(_made()) if k == "pid" and v.endswith(" dockerd builder")
    )
    try:
        base = "confpy-swarm/bookworm:minbase"
        if not run(["docker", "images", "-q", base], host=sock).strip():
            tarball = _debootstrap_base()
            with tarball.open("rb") as fh:
                run(["docker", "import", "-", base], host=sock, input_bytes=fh.read(), timeout=300)
        context = STATE / "context"
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir(parents=True)
        with tarfile.open(_context_tar()) as tar:
            tar.extractall(context)
        extra_ca = "".join(
            p.read_text() for p in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
        )
        env = {"DOCKER_BUILDKIT": "0"}
        build = ["docker", "build", "--quiet", "--network", "host"]
        run(
            [
                *build,
                "--tag",
                "confpy-base",
                "--build-arg",
                f"BASE={base}",
                "--build-arg",
                f"EXTRA_CA={extra_ca}",
                "--file",
                str(context / "containers/base/Dockerfile"),
                str(context),
            ],
            host=sock,
            env=env,
            timeout=1200,
        )
        for image in IMAGES:
            tag = f"{REGISTRY}/confpy-demo/{image}"
            run(
                [
                    *build,
                    "--tag",
                    tag,
                    "--build-arg",
                    "CONFPY_BASE=confpy-base",
                    "--file",
                    str(context / f"containers/{image}/Dockerfile"),
                    str(context),
                ],
                host=sock,
                env=env,
                timeout=1200,
            )
            run(["docker", "push", "--quiet", tag], host=sock, timeout=300)
    finally:
        stop_pid(pid)


def pull_images() -> None:
    """Every node pulls every image from the registry, so that no task waits for a pull."""
    procs = [
        subprocess.Popen(
            ["docker", "pull", "--quiet", f"{REGISTRY}/confpy-demo/{image}"],
            env=dict(os.environ, DOCKER_HOST=node.sock),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for node in NODES
        for image in IMAGES
    ]
    errors = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            err = b"no answer within 300 s"
        if proc.returncode:
            errors.append(err.decode(errors="replace").strip())
    if errors:
        raise StepFailed(f"docker pull: {errors[0]}")


# ------------------------------------------------------------------------------------------ swarm


def form_swarm() -> None:
    first, others = NODES[0], NODES[1:]
    docker(
        first,
        "swarm",
        "init",
        "--advertise-addr",
        first.addr,
        "--listen-addr",
        f"{first.addr}:2377",
        "--default-addr-pool",
        ADDR_POOL,
    )
    token = docker(first, "swarm", "join-token", "-q", "manager").strip()
    for node in others:
        docker(
            node,
            "swarm",
            "join",
            "--token",
            token,
            "--advertise-addr",
            node.addr,
            "--listen-addr",
            f"{node.addr}:2377",
            f"{first.addr}:2377",
            timeout=60,
        )

    def all_ready() -> bool:
        out = docker(first, "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}")
        return sum(1 for line in out.splitlines() if " Ready " in f"{line} ") == len(NODES)

    wait_for("3 nodes Ready", all_ready, 60, lagging=lambda: nodes_not_ready(first))
    docker(first, "network", "create", "--driver", "overlay", "--attachable", NETWORK)


def make_secrets_dir() -> Path:
    sys.path.insert(0, str(REPO / "containers"))
    from pki import make_pki

    pki = STATE / "pki"
    shutil.rmtree(pki, ignore_errors=True)
    pki.mkdir(parents=True)
    try:
        make_pki(pki, ["etcd-1", "etcd-2", "etcd-3", "etcd", "localhost"])
    except RuntimeError as exc:
        raise StepFailed(str(exc)) from exc
    for path in pki.iterdir():
        path.chmod(0o600)
    return pki


def stack_env() -> dict[str, str]:
    return {"REGISTRY": REGISTRY, "SWARM_PKI": str(STATE / "pki"), "NETWORK": NETWORK}


def deploy() -> None:
    run(
        [
            "docker",
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "--compose-file",
            str(REPO / "containers" / "stack.yaml"),
            STACK,
        ],
        host=NODES[0].sock,
        env=stack_env(),
        timeout=120,
    )


def nginx_url() -> str:
    return f"http://{NODES[0].addr}:80/"


def served_by() -> str:
    with urllib.request.urlopen(nginx_url(), timeout=2) as resp:
        return str(resp.read().decode().strip())


def wait_for_replicas(count: int = 5, timeout: float = 240) -> float:
    seen: set[str] = set()

    def all_seen() -> bool:
        with contextlib.suppress(OSError):
            answer = served_by()
            if answer.startswith("sinatra-"):
                seen.add(answer)
        return len(seen) >= count

    try:
        return wait_for(f"nginx at {nginx_url()} serving {count} replicas", all_seen, timeout, 0.1)
    except StepFailed as exc:
        raise StepFailed(f"{exc} (seen: {sorted(seen)})") from exc


# ------------------------------------------------------------------------------------ up and down


def is_up() -> bool:
    return (STATE / "made").exists()


TOOLS = (
    "ip",
    "nsenter",
    "unshare",
    "iptables",
    "dockerd",
    "docker",
    "docker-registry",
    "openssl",
    "debootstrap",
)


def missing_tool() -> str:
    """The first tool `up` needs that is not installed, with the packages that bring them all."""
    for tool in TOOLS:
        if not shutil.which(tool):
            packages = "docker.io docker-registry debootstrap iproute2 iptables openssl"
            return f"{tool} is not installed (apt-get install {packages})"
    return ""


def up() -> None:
    if is_up():
        raise SystemExit("swarm: already up (or a failed run left state): run `swarm.sh down` first")
    if missing := missing_tool():
        raise SystemExit(f"swarm: step 'tools' failed: {missing}")
    started = time.monotonic()
    try:
        step("network", make_network)
        step("registry", start_registry)
        for node in NODES:
            step(f"dockerd {node.name}", lambda node=node: start_dockerd(node))  # type: ignore[misc]
        step("swarm (3 managers) and overlay", form_swarm)
        step("images built and pushed", build_and_push)
        step("images pulled on every node", pull_images)
        step("certificates", make_secrets_dir)
        step("stack deployed", deploy)
        step("nginx serves all 5 replicas", wait_for_replicas)
    except (StepFailed, SystemExit, KeyboardInterrupt) as exc:
        print(
            f"swarm: up FAILED: {exc}" if isinstance(exc, StepFailed) else str(exc),
            file=sys.stderr,
            flush=True,
        )
        down(quiet=True)
        raise SystemExit(1) from None
    say(f"up in {time.monotonic() - started:.1f} s")
    print(f"DOCKER_HOST={NODES[0].sock}")
    print(f"NGINX_URL={nginx_url()}", flush=True)


def down(quiet: bool = False) -> None:
    """Remove everything `up` made, in reverse, by what it recorded: nothing else is touched."""
    made = _made()
    if not made and not quiet:
        say("nothing to remove")
    if any(kind == "pid" for kind, _ in made) and any(
        n.netns == v for k, v in made for n in NODES if k == "netns"
    ):
        with contextlib.suppress(StepFailed):
            run(["docker", "stack", "rm", STACK], host=NODES[0].sock, timeout=30, check=False)
    for kind, value in reversed(made):
        if kind == "pid":
            stop_pid(int(value.split()[0]), grace=10)
    for kind, value in reversed(made):
        if kind == "cgroup":
            # What the daemons leave behind when killed: their shims and containers, by PID.
            for node in [*NODES, BUILDER]:
                if node.cgroup == value:
                    kill_node(node)
            for _ in range(50):
                if not any(_cgroup_pids(value)):
                    break
                time.sleep(0.1)
            _remove_cgroups(value)
    for kind, value in reversed(made):
        if kind == "netns":
            for pid in run(["ip", "netns", "pids", value], check=False, timeout=10).split():
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            run(["ip", "netns", "delete", value], check=False, timeout=10)
            shutil.rmtree(Path("/etc/netns") / value, ignore_errors=True)
        elif kind == "link":
            if run(["ip", "link", "show", value], check=False, timeout=10).strip():
                run(["ip", "link", "delete", value], check=False, timeout=10)
        elif kind == "dir":
            with contextlib.suppress(OSError):
                Path(value).rmdir()  # only if empty: others may have put namespaces' files there since
        elif kind == "iptables":
            rule = value.split()
            for _ in range(5):  # every copy, should `up` have been interrupted and rerun
                if (
                    run(["iptables", "-D", *rule], check=False, timeout=10) == ""
                    and subprocess.run(["iptables", "-C", *rule], capture_output=True).returncode != 0
                ):
                    break
    shutil.rmtree(STATE, ignore_errors=True)
    if os.environ.get("SWARM_KEEP_CACHE") != "1":
        shutil.rmtree(CACHE, ignore_errors=True)
    if made and not quiet:
        say("down: namespaces, bridge, FORWARD rule, daemons, registry and state removed")


def _cgroup_pids(cgroup: str) -> list[int]:
    root = Path("/sys/fs/cgroup/pids") / cgroup
    pids: list[int] = []
    if root.is_dir():
        for procs in root.rglob("cgroup.procs"):
            with contextlib.suppress(OSError, ValueError):
                pids.extend(int(p) for p in procs.read_text().split())
    return pids


def _remove_cgroups(cgroup: str) -> None:
    """The node's cgroup directories in every v1 hierarchy (and v2), deepest first."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        root = hierarchy / cgroup
        if not root.is_dir():
            continue
        for directory in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            root.rmdir()


def status() -> None:
    if not is_up():
        say("not up")
        return
    print(docker(NODES[0], "node", "ls", check=False), end="")
    print(
        docker(
            NODES[0],
            "stack",
            "ps",
            STACK,
            "--filter",
            "desired-state=running",
            "--format",
            "table {{.Name}}\t{{.Node}}\t{{.CurrentState}}\t{{.Error}}",
            check=False,
        ),
        end="",
    )
    print(f"DOCKER_HOST={NODES[0].sock}")
    print(f"NGINX_URL={nginx_url()}")


def main(argv: Iterable[str]) -> int:
    args = list(argv)
    mode = args[0] if args else ""
    if mode == "up":
        up()
    elif mode == "down":
        down()
    elif mode == "status":
        status()
    elif mode == "test":
        sys.path.insert(0, str(REPO / "containers"))
        from swarm_test import run_test

        return run_test()
    else:
        print("usage: swarm.sh up|test|down|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # A TERM (a timeout, a CI's stop) unwinds like Ctrl-C, so that what was made is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main(sys.argv[1:]))
