"""The sample stack on 127.0.0.1, without Docker: each container's boot.sh run as a process group.

Every instance gets what a container would have: its own confdir and its own file system root.
The confdir (`<run>/<name>/confd`) holds the role's resources from the top-level `conf.d/<role>/`
with each `dest` moved under the instance's root (`<run>/<name>/root`), and links `templates/`;
the instance's `STACK_ROOT` variable names that root, so templates and boot scripts put every
path under it (in a container `STACK_ROOT` is empty and the paths are the real ones). Ports are
free ones on 127.0.0.1, given as `PORT`; every service binds and registers 127.0.0.1.

Stopping an instance is what `docker stop` does: SIGTERM to its main process (the boot script,
which has exec'd `confpy exec`), then, once that has ended, the rest of its process group. Killing
one is a crash: SIGKILL to the whole group, so its keys stay until their lease expires.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "REPO",
    "Instance",
    "LoopbackStack",
    "free_port",
    "http_get",
    "iter_lines",
    "make_confdir",
    "missing_requirements",
    "search_counts",
    "wait_for",
]

REPO = Path(__file__).resolve().parent.parent
CONTAINERS = REPO / "containers"

# Image -> (variable naming a confdir, role whose resources it holds); None: an empty confdir.
CONFDIRS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "etcd": (),
    "elk": (("CONFDIR", None),),
    "logstash": (("CONFDIR", "logstash"),),
    "sinatra": (("CONFDIR", None), ("FORWARDER_CONFDIR", "forwarder")),
    "nginx": (("CONFDIR", "nginx"),),
    "test-client": (("CONFDIR", "test-client"),),
}

# What the stack runs, and the Debian package (or pip extra) that brings each.
_BINARIES = {
    "etcd": "etcd-server",
    "etcdctl": "etcd-client",
    "nginx": "nginx",
    "rsyslogd": "rsyslog",
    "openssl": "openssl",
    "ruby": "ruby",
    "puma": "puma",
}
_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


_GIVEN_PORTS: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, and not given out before.

    The kernel hands a port it just freed out again, and an instance binds its port only once
    started: two instances started in a row were given the same port (puma: address in use).
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


def missing_requirements() -> list[str]:
    """What this machine lacks to run the stack, each with the package that brings it."""
    path = os.pathsep.join([str(Path(sys.executable).parent), _SEARCH_PATH])
    missing = [
        f"{name} (apt-get install {package})"
        for name, package in _BINARIES.items()
        if shutil.which(name, path=path) is None
    ]
    if shutil.which("confpy", path=str(Path(sys.executable).parent)) is None:
        missing.append(f"confpy (pip install -e . into {sys.prefix})")
    for module, package in (("omelasticsearch", "rsyslog-elasticsearch"), ("lmnsd_gtls", "rsyslog-gnutls")):
        if not any(Path("/usr/lib").glob(f"*/rsyslog/{module}.so")):
            missing.append(f"rsyslog's {module} module (apt-get install {package})")
    if shutil.which("ruby", path=path) is not None:
        probe = subprocess.run(
            ["ruby", "-e", 'require "sinatra/base"'], capture_output=True, check=False, env={"PATH": path}
        )
        if probe.returncode != 0:
            missing.append("Sinatra (apt-get install ruby-sinatra ruby-webrick)")
    try:
        import osmem_server  # type: ignore[import-untyped]

        osmem_server.resolve_binary()
    except Exception:  # ImportError, or a wheel without a binary for this platform
        missing.append("osmem-server (pip install -e '.[demo]')")
    return missing


def make_confdir(confdir: Path, role: str | None, root: Path) -> Path:
    """A confdir for one instance: `role`'s resources with every dest moved under `root`."""
    resources = confdir / "conf.d"
    resources.mkdir(parents=True, exist_ok=True)
    templates = confdir / "templates"
    if not templates.exists():
        templates.symlink_to(REPO / "templates", target_is_directory=True)
    if role is None:
        return confdir
    for source in sorted((REPO / "conf.d" / role).glob("*.toml")):
        table = dict(tomllib.loads(source.read_text(encoding="utf-8"))["template"])
        dest = Path(table["dest"])
        if not dest.is_absolute():
            raise ValueError(f"{source}: dest {dest} must be an absolute path")
        table["dest"] = str(root / dest.relative_to("/"))
        table["create_dest_dir"] = True
        header = f"# {source.relative_to(REPO)}, its dest moved under {root}\n[template]\n"
        (resources / source.name).write_text(header + _toml_table(table), encoding="utf-8")
    return confdir


def _toml_table(table: Mapping[str, Any]) -> str:
    """The `[template]` fields as TOML lines (strings, booleans, integers, lists of strings)."""
    lines = []
    for name, value in table.items():
        lines.append(f"{name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    """Status and body of a GET; status 0 and the reason when no HTTP answer came."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return 0, str(exc)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> float:
    """Poll until `predicate()` holds; the seconds it took. TimeoutError naming `what` otherwise."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not reached within {timeout:g} s")
        time.sleep(interval)
    return time.monotonic() - start


@dataclass
class Instance:
    """One running container stand-in."""

    name: str
    image: str
    port: int
    directory: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def root(self) -> Path:
        return self.directory / "root"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)


class LoopbackStack:
    """Starts, stops and kills instances of the sample stack's images under `run_dir`."""

    def __init__(self, run_dir: Path, *, ttl: int = 15) -> None:
        self.run_dir = run_dir
        self.ttl = ttl
        self.instances: dict[str, Instance] = {}
        self.etcd_port = 0
        self._bin = str(Path(sys.executable).parent)

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    # -- instances --------------------------------------------------------------------------------

    def start_etcd(self, timeout: float = 15.0) -> Instance:
        """etcd through its boot script, with its settings in ETCD_* variables; returns once healthy."""
        self.etcd_port = free_port()
        peer = f"http://127.0.0.1:{free_port()}"
        directory = self.run_dir / "etcd"
        env = {
            "ETCD_NAME": "demo",
            "ETCD_DATA_DIR": str(directory / "data"),
            "ETCD_LISTEN_CLIENT_URLS": self.etcd_url,
            "ETCD_ADVERTISE_CLIENT_URLS": self.etcd_url,
            "ETCD_LISTEN_PEER_URLS": peer,
            "ETCD_INITIAL_ADVERTISE_PEER_URLS": peer,
            "ETCD_INITIAL_CLUSTER": f"demo={peer}",
        }
        instance = self._spawn("etcd", "etcd", self.etcd_port, env)
        wait_for(
            lambda: self._etcd_healthy(instance),
            timeout,
            f"etcd on {self.etcd_url} (see {instance.log_path})",
            interval=0.05,
        )
        return instance

    def start(
        self, name: str, image: str, *, port: int | None = None, env: Mapping[str, str] | None = None
    ) -> Instance:
        """Run `containers/<image>/boot.sh` as instance `name` on `port` (a free one by default)."""
        if not self.etcd_port:
            raise RuntimeError("start etcd first")
        port = port or free_port()
        directory = self.run_dir / name
        root = directory / "root"
        variables = {
            "CONFPY_NODES": self.etcd_url,
            "STACK_ROOT": str(root),
            "PORT": str(port),
            "BIND_ADDR": "127.0.0.1",
            "ADVERTISE_ADDR": "127.0.0.1",
            "TTL": str(self.ttl),
            "INSTANCE_ID": name,
        }
        for variable, role in CONFDIRS[image]:
            confdir = directory / ("confd" if variable == "CONFDIR" else variable.lower().replace("_", "-"))
            variables[variable] = str(make_confdir(confdir, role, root))
        variables.update(env or {})
        return self._spawn(name, image, port, variables)

    def _spawn(self, name: str, image: str, port: int, variables: Mapping[str, str]) -> Instance:
        if name in self.instances and self.instances[name].running:
            raise RuntimeError(f"instance {name} is already running")
        directory = self.run_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "CONFD_", "ETCD"))}
        env["PATH"] = os.pathsep.join([self._bin, _SEARCH_PATH])
        env.update(variables)
        log_path = directory / "output.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                ["/bin/sh", str(CONTAINERS / image / "boot.sh")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=directory,
                env=env,
                start_new_session=True,
            )
        instance = Instance(name, image, port, directory, env, proc, log_path)
        self.instances[name] = instance
        return instance

    def stop(self, name: str, timeout: float = 10.0) -> int | None:
        """`docker stop`: SIGTERM to the main process, then to what is left of its group."""
        instance = self.instances[name]
        status = None
        if instance.running:
            instance.proc.send_signal(signal.SIGTERM)
            try:
                status = instance.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                instance.signal_group(signal.SIGKILL)
                status = instance.proc.wait()
        else:
            status = instance.proc.returncode
        self._end_group(instance, timeout)
        return status

    def kill(self, name: str) -> None:
        """A crash: SIGKILL to the whole group; registered keys stay until their lease expires."""
        instance = self.instances[name]
        instance.signal_group(signal.SIGKILL)
        instance.proc.wait()

    def _end_group(self, instance: Instance, timeout: float) -> None:
        instance.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _group_alive(instance.proc.pid):
            if time.monotonic() > deadline:
                instance.signal_group(signal.SIGKILL)
                break
            time.sleep(0.02)

    def close(self) -> None:
        """Stop every instance, the others before etcd, so that their keys are deregistered."""
        names = [n for n in self.instances if n != "etcd"]
        for name in names:
            instance = self.instances[name]
            if instance.running:
                instance.proc.send_signal(signal.SIGTERM)
        for name in names:
            self.stop(name, timeout=5.0)
        if "etcd" in self.instances:
            self.stop("etcd", timeout=5.0)

    def __enter__(self) -> LoopbackStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- looking at it ----------------------------------------------------------------------------

    def keys(self, prefix: str = "/") -> dict[str, str]:
        """Every key under `prefix` now (a fresh etcd client each time: the stack may be mid-change)."""
        from confpy.backends.etcd.backend import EtcdBackend

        with EtcdBackend([self.etcd_url], connect_timeout=5.0) as backend:
            return dict(backend.read([prefix]).values)

    def rendered(self, name: str, path: str) -> str:
        """A file an instance rendered, by its path in the container (`/etc/nginx/nginx.conf`)."""
        return (self.instances[name].root / path.lstrip("/")).read_text(encoding="utf-8")

    def _etcd_healthy(self, instance: Instance) -> bool:
        if not instance.running:
            raise RuntimeError(f"etcd exited with status {instance.proc.returncode}:\n{instance.output()}")
        status, body = http_get(f"{self.etcd_url}/health", timeout=1.0)
        return status == 200 and '"true"' in body


def _group_alive(pgid: int) -> bool:
    """True while a process of the group still runs (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_bytes().rpartition(b")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def iter_lines(path: Path, position: int) -> Iterator[tuple[str, int]]:
    """Complete lines appended to `path` after byte `position`, with the position after each."""
    try:
        with path.open("rb") as fh:
            fh.seek(position)
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                position += len(raw)
                yield raw.decode("utf-8", errors="replace").rstrip("\n"), position
    except FileNotFoundError:
        return


def search_counts(url: str, index: str = "logs") -> dict[str, int]:
    """Documents per app in the search node (terms aggregation on `app`); {} if none yet."""
    body = json.dumps({"size": 0, "aggs": {"apps": {"terms": {"field": "app.keyword", "size": 100}}}})
    request = urllib.request.Request(
        f"{url}/{index}/_search", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2.0) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise
    return {b["key"]: int(b["doc_count"]) for b in answer["aggregations"]["apps"]["buckets"]}
