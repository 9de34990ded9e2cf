"""The workloads: keys in etcd, a confdir of N resources over them, and confpy run as a user runs it.

Resource i reads every key under `/bench/p<i>/` and renders them as an nginx-style upstream block,
so a change to one key changes exactly one resource's output.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ROOT",
    "Layout",
    "OnetimeRun",
    "WatchProcess",
    "clean_env",
    "confpy_command",
    "confpy_python",
    "make_layout",
    "raise_open_files_limit",
    "run_onetime",
    "use_python",
    "value_for",
]

ROOT = "/bench"
RUSAGE = Path(__file__).resolve().with_name("rusage.py")
TEMPLATE = """upstream {{ name }} {
{% for kv in gets("/*") %}    server {{ kv.Value }}; # {{ kv.Key | base }}
{% endfor %}}
"""
# The same output from a Go template, as confd and confpy's Go engine render it.
GO_TEMPLATE = """upstream {{ name }} {
{{range gets "/*"}}    server {{.Value}}; # {{base .Key}}
{{end}}}
"""


def value_for(i: int, j: int, version: int = 0) -> str:
    """A realistic upstream address; `version` makes every put's value unique."""
    return f"10.{i % 250}.{j // 250}.{j % 250}:{8000 + version % 1000} v{version}"


@dataclass
class Layout:
    """A confdir with `resources` resources of `keys_per_resource` keys each, and the dest folder."""

    confdir: Path
    dest_dir: Path
    resources: int
    keys_per_resource: int
    width: int
    root: str = ROOT  # the key prefix every resource's prefix is under

    def prefix(self, i: int) -> str:
        return f"{self.root}/p{i:0{self.width}d}"

    def key(self, i: int, j: int) -> str:
        return f"{self.prefix(i)}/k{j:05d}"

    def dest_name(self, i: int) -> str:
        return f"r{i:0{self.width}d}.conf"

    def dest(self, i: int) -> Path:
        return self.dest_dir / self.dest_name(i)

    def items(self) -> Iterator[tuple[str, str]]:
        for i in range(self.resources):
            for j in range(self.keys_per_resource):
                yield self.key(i, j), value_for(i, j)

    def clear_dests(self) -> None:
        for i in range(self.resources):
            self.dest(i).unlink(missing_ok=True)

    def all_rendered(self) -> bool:
        return all(self.dest(i).exists() for i in range(self.resources))


def make_layout(
    root_dir: Path,
    resources: int,
    keys_per_resource: int,
    *,
    wait_min: str | None = None,
    reload_cmd: str | None = None,
    engine: str = "jinja",
    root: str = ROOT,
) -> Layout:
    """Write conf.d/*.toml and templates/ for the workload under `root_dir`, its keys under the
    key prefix `root`: Jinja2 templates (`.j2`)
    or, with `engine="go"`, Go templates (`.tmpl`) that confd and confpy both render alike."""
    width = max(2, len(str(resources - 1)))
    layout = Layout(root_dir / "confdir", root_dir / "out", resources, keys_per_resource, width, root)
    (layout.confdir / "conf.d").mkdir(parents=True)
    (layout.confdir / "templates").mkdir()
    layout.dest_dir.mkdir()
    for i in range(resources):
        name = f"p{i:0{width}d}"
        src = f"{name}.tmpl" if engine == "go" else f"{name}.j2"
        text = GO_TEMPLATE if engine == "go" else TEMPLATE
        (layout.confdir / "templates" / src).write_text(text.replace("{{ name }}", name), encoding="utf-8")
        lines = [
            "[template]",
            f'src = "{src}"',
            f'dest = "{layout.dest(i)}"',
            f'prefix = "{layout.prefix(i)}"',
            'keys = ["/"]',
            'mode = "0644"',
        ]
        if reload_cmd:
            lines.append(f"reload_cmd = {_toml_string(reload_cmd)}")
        if wait_min:
            lines.append(f'wait = {{ min = "{wait_min}" }}')
        (layout.confdir / "conf.d" / f"{name}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return layout


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clean_env() -> dict[str, str]:
    """The environment without CONFPY_/CONFD_ settings that would change what is measured."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "CONFD_"))}


_python = sys.executable


def use_python(python: str) -> None:
    """Run confpy with this interpreter from now on (`make bench`: a venv like the images' one)."""
    global _python
    _python = os.path.abspath(python)  # not resolved: a venv's python is a symlink out of the venv


def confpy_python() -> str:
    """The interpreter confpy runs with: this one unless `use_python` chose another."""
    return _python


def confpy_command(mode: str, url: str, confdir: Path, *extra: str) -> list[str]:
    """confpy as a user types it: the venv's `confpy` script (unlike `python -m confpy`, it never
    imports a confpy source tree from the current directory instead of the installed one)."""
    return [
        str(Path(_python).with_name("confpy")), mode,
        "-backend", "etcdv3", "-node", url, "-confdir", str(confdir), "-log-level", "error",
        *extra,
    ]  # fmt: skip


@dataclass(frozen=True)
class OnetimeRun:
    wall: float
    cpu: float
    max_rss_kib: int
    status: int


def run_onetime(command: Sequence[str], timeout: float = 60.0) -> OnetimeRun:
    """Run to completion; wall time, CPU and peak RSS from the kernel's rusage (see rusage.py)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as figures:
        proc = subprocess.run(
            [sys.executable, str(RUSAGE), figures.name, *command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=clean_env(),
            timeout=timeout,
            check=False,
        )
        measured = json.loads(Path(figures.name).read_text() or "{}")
    if proc.returncode != 0 or not measured or measured["status"] != 0:
        stderr = proc.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{shlex.join(command)} failed: {measured.get('status')} {stderr}")
    return OnetimeRun(measured["wall"], measured["cpu"], measured["max_rss_kib"], measured["status"])


class WatchProcess:
    """`confpy -watch` in the background; waits for the initial render of every dest file."""

    def __init__(self, command: Sequence[str], layout: Layout, log: Path) -> None:
        self.command = list(command)
        self.layout = layout
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.ready_after = 0.0

    def spawn(self) -> None:
        with open(self.log, "wb") as log:
            self.started = time.perf_counter()
            self.proc = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=clean_env()
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every dest file exists (the initial render is done)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not self.layout.all_rendered():
            if self.proc.poll() is not None:
                raise RuntimeError(f"confpy exited {self.proc.returncode}: {self.errors()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"confpy did not render every resource in {timeout:.0f} s")
            time.sleep(0.002)
        if not self.ready_after:
            self.ready_after = time.perf_counter() - self.started

    def start(self, timeout: float = 60.0) -> WatchProcess:
        self.spawn()
        self.wait_ready(timeout)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def errors(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def raise_open_files_limit(wanted: int) -> None:
    """Fan-out runs many processes, each with inotify and gRPC descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
