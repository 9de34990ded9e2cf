"""Every benchmark scenario: each starts its own etcd, runs confpy as a user would, measures from outside.

A scenario is a function `(sizes, workdir) -> dict` of plain numbers (milliseconds, MiB, counts);
`Sizes` holds the full configuration and the tiny `--quick` one that the test suite runs.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from etcd_local import LocalEtcd
from inprocess import mirror_memory, render, stages
from probe import FileProbe, cpu_seconds, rss_kib, summarize, thread_count
from sizes import Sizes
from soak import soak
from workload import (
    Layout,
    WatchProcess,
    confpy_command,
    confpy_python,
    make_layout,
    raise_open_files_limit,
    run_onetime,
    value_for,
)

__all__ = ["SCENARIOS"]

Result = dict[str, Any]
SETTLE = 0.5  # after the initial render: let every watch stream open before measuring


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)


class _Bench:
    """One scenario's etcd, loaded with a layout's keys, and helpers to run confpy against it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.etcd = LocalEtcd().start()
        self.client = self.etcd.client()
        self.version = 0
        self.watchers: list[WatchProcess] = []

    def layout(self, name: str, resources: int, keys: int, **options: str) -> Layout:
        """A layout under this scenario's workdir (options: make_layout's keywords)."""
        layout = make_layout(self.workdir / name, resources, keys, **options)
        return layout

    def load(self, layout: Layout) -> None:
        self.client.load(layout.items())

    def watch(self, layout: Layout, name: str = "confpy", command: list[str] | None = None) -> WatchProcess:
        """`confpy -watch` on `layout` (or `command`, another watcher such as confd), ready."""
        command = command or confpy_command("-watch", self.etcd.url, layout.confdir)
        watcher = WatchProcess(command, layout, self.workdir / f"{name}.log")
        self.watchers.append(watcher)
        return watcher.start()

    def next_value(self, i: int, j: int) -> str:
        self.version += 1
        return value_for(i, j, self.version)

    def close(self) -> None:
        for watcher in self.watchers:
            watcher.stop()
        self.client.close()
        self.etcd.stop()


def _with_bench(workdir: Path, body: Callable[[_Bench], Result]) -> Result:
    bench = _Bench(workdir)
    try:
        return body(bench)
    finally:
        bench.close()


# -- start-up -------------------------------------------------------------------------------------


def startup(sizes: Sizes, workdir: Path) -> Result:
    """`confpy --help` and `confpy -version` (the venv's script), wall time to exit."""
    script = str(Path(confpy_python()).with_name("confpy"))
    result: Result = {}
    for label, args in (("help", ["--help"]), ("version", ["-version"])):
        runs = [run_onetime([script, *args]) for _ in range(sizes.startup_runs + 1)][1:]
        result[f"{label}_ms"] = round(statistics.median(r.wall for r in runs) * 1000, 1)
        result[f"{label}_rss_mib"] = _mib(int(statistics.median(r.max_rss_kib for r in runs)))
    return result


# -- onetime --------------------------------------------------------------------------------------


def _onetime(sizes: Sizes, workdir: Path, shape: tuple[int, int]) -> Result:
    def body(bench: _Bench) -> Result:
        layout = bench.layout("onetime", *shape)
        bench.load(layout)
        command = confpy_command("-onetime", bench.etcd.url, layout.confdir)
        runs = []
        for _ in range(sizes.onetime_runs + 1):  # the first run warms the page cache
            layout.clear_dests()
            runs.append(run_onetime(command))
            if not layout.all_rendered():
                raise RuntimeError("confpy -onetime did not write every dest file")
        runs = runs[1:]
        walls = [r.wall for r in runs]
        return {
            "resources": shape[0],
            "keys": shape[0] * shape[1],
            "wall_ms": summarize(walls),
            "cpu_ms": round(statistics.median(r.cpu for r in runs) * 1000, 1),
            "peak_rss_mib": _mib(int(statistics.median(r.max_rss_kib for r in runs))),
            "runs": len(runs),
        }

    return _with_bench(workdir, body)


def onetime_small(sizes: Sizes, workdir: Path) -> Result:
    return _onetime(sizes, workdir, sizes.onetime_small)


def onetime_large(sizes: Sizes, workdir: Path) -> Result:
    return _onetime(sizes, workdir, sizes.onetime_large)


# -- reaction: put returns -> dest holds the value --------------------------------------------------


def _holding(needles: list[str]) -> Callable[[str], bool]:
    """Accepts a dest file's content once it holds every one of `needles`."""
    return lambda text: all(needle in text for needle in needles)


def _react(bench: _Bench, layout: Layout, probe: FileProbe, i: int, j: int) -> float | None:
    """Put one new value; seconds from the put's return until the dest holds it (None: missed)."""
    value = bench.next_value(i, j)
    needle = f"server {value};"
    since = probe.mark()
    bench.client.put(layout.key(i, j), value)
    returned = time.perf_counter()
    seen = probe.wait_for(layout.dest_name(i), _holding([needle]), since=since, timeout=1.0)
    return None if seen is None else max(0.0, seen.time - returned)


class _Reactor:
    """One running confpy -watch and the puts measured against it (see `_react`)."""

    def __init__(
        self, bench: _Bench, layout: Layout, seed: int, name: str = "confpy", command: list[str] | None = None
    ) -> None:
        self.bench = bench
        self.layout = layout
        self.watcher = bench.watch(layout, name, command)
        self.rng = random.Random(seed)
        self.latencies: list[float] = []
        self.missed = 0
        self.puts = 0
        self.probe: FileProbe | None = None
        self.cpu = 0.0

    def open(self) -> None:
        self.probe = FileProbe(self.layout.dest_dir)
        for _ in range(3):  # warm-up: page in every code path once
            _react(self.bench, self.layout, self.probe, 0, 0)
        self.cpu = cpu_seconds(self.watcher.pid)

    def step(self) -> None:
        assert self.probe is not None
        layout = self.layout
        i, j = self.rng.randrange(layout.resources), self.rng.randrange(layout.keys_per_resource)
        latency = _react(self.bench, layout, self.probe, i, j)
        self.puts += 1
        if latency is None:
            self.missed += 1
        else:
            self.latencies.append(latency)

    def close(self) -> None:
        if self.probe is not None:
            self.probe.close()
            self.probe = None

    def result(self) -> Result:
        cpu = cpu_seconds(self.watcher.pid) - self.cpu
        if not self.latencies:
            raise RuntimeError(f"confpy missed every put: {self.watcher.errors()[-2000:]}")
        return {
            "resources": self.layout.resources,
            "keys": self.layout.resources * self.layout.keys_per_resource,
            "puts": self.puts,
            "latency_ms": summarize(self.latencies),
            "missed": self.missed,
            "cpu_ms_per_100_puts": round(cpu / self.puts * 100 * 1000, 1),
            "rss_mib": _mib(rss_kib(self.watcher.pid)),
            "ready_s": round(self.watcher.ready_after, 3),
        }


class Paced(Protocol):
    """What `_paced` takes turns with: a reactor, or another measurement made between the puts."""

    def open(self) -> None: ...

    def step(self) -> None: ...


def _paced(reactors: Sequence[Paced], puts: int, interval: float) -> None:
    """`puts` rounds, one step of each reactor each, a step every `interval` seconds overall."""
    time.sleep(SETTLE)
    for reactor in reactors:
        reactor.open()
    for _ in range(puts):
        for reactor in reactors:
            started = time.perf_counter()
            reactor.step()
            time.sleep(max(0.0, interval - (time.perf_counter() - started)))


def _reaction(sizes: Sizes, workdir: Path, shape: tuple[int, int], seed: int) -> Result:
    def body(bench: _Bench) -> Result:
        layout = bench.layout("watch", *shape)
        bench.load(layout)
        reactor = _Reactor(bench, layout, seed)
        try:
            _paced([reactor], sizes.puts, sizes.put_interval)
            return reactor.result()
        finally:
            reactor.close()

    return _with_bench(workdir, body)


def watch_small(sizes: Sizes, workdir: Path) -> Result:
    return _reaction(sizes, workdir, sizes.watch_small, seed=1)


def watch_large(sizes: Sizes, workdir: Path) -> Result:
    return _reaction(sizes, workdir, sizes.watch_large, seed=2)


def watch_scale(sizes: Sizes, workdir: Path) -> Result:
    """The same per-resource work with few and with many resources: the cost must not grow.

    Both run at once, each on its own etcd, and their puts alternate, so that whatever else the
    machine does meanwhile affects both alike: the ratio compares confpy with itself.
    """
    few, many, keys = sizes.scale
    benches: dict[str, _Bench] = {}
    reactors: dict[str, _Reactor] = {}
    try:
        for label, count in (("few", few), ("many", many)):
            benches[label] = _Bench(workdir / label)
            layout = benches[label].layout("watch", count, keys)
            benches[label].load(layout)
            reactors[label] = _Reactor(benches[label], layout, seed=3)
        _paced(list(reactors.values()), sizes.scale_puts, sizes.put_interval / 2)
        result: Result = {label: reactor.result() for label, reactor in reactors.items()}
    finally:
        for reactor in reactors.values():
            reactor.close()
        for bench in benches.values():
            bench.close()
    result["p50_ratio"] = round(
        result["many"]["latency_ms"]["p50"] / max(result["few"]["latency_ms"]["p50"], 1e-6), 2
    )
    result["cpu_ratio"] = round(
        result["many"]["cpu_ms_per_100_puts"] / max(result["few"]["cpu_ms_per_100_puts"], 1e-6), 2
    )
    return result


# -- bursts ---------------------------------------------------------------------------------------


def burst_once(
    bench: _Bench, sizes: Sizes, layout: Layout, reloads: Path, watcher: WatchProcess
) -> tuple[float, float, int]:
    """One burst on resource 0 of `layout`: (seconds the puts took, seconds from the last put's
    return until the dest holds the final state, reloads meanwhile, counted as lines of `reloads`)."""
    before = _lines(reloads)
    probe = FileProbe(layout.dest_dir)
    try:
        last: dict[int, str] = {}
        since = probe.mark()
        started = time.perf_counter()
        for n in range(sizes.burst_puts):
            j = n % sizes.burst_keys
            last[j] = bench.next_value(0, j)
            bench.client.put(layout.key(0, j), last[j])
        returned = time.perf_counter()
        needles = [f"server {v};" for v in last.values()]
        seen = probe.wait_for(layout.dest_name(0), _holding(needles), since=since, timeout=5.0)
    finally:
        probe.close()
    if seen is None:
        raise RuntimeError(f"the final state never reached the dest file: {watcher.errors()[-2000:]}")
    time.sleep(1.0)  # let the last reloads finish
    return returned - started, max(0.0, seen.time - returned), _lines(reloads) - before


def burst_figures(sizes: Sizes, runs: list[tuple[float, float, int]]) -> Result:
    """What `burst_once`'s runs add up to: medians, and the worst run."""
    return {
        "puts": sizes.burst_puts,
        "keys": sizes.burst_keys,
        "bursts": len(runs),
        "burst_s": round(statistics.median(r[0] for r in runs), 3),
        "final_after_last_put_ms": round(statistics.median(r[1] for r in runs) * 1000, 2),
        "final_after_last_put_max_ms": round(max(r[1] for r in runs) * 1000, 2),
        "reloads": int(statistics.median(r[2] for r in runs)),
        "reloads_max": max(r[2] for r in runs),
    }


def _burst(sizes: Sizes, workdir: Path, wait_min: str | None) -> Result:
    """Puts as fast as one client can, round-robin over the keys of one resource, several times."""

    def body(bench: _Bench) -> Result:
        reloads = workdir / "reloads.log"
        layout = bench.layout(
            "burst",
            1,
            sizes.burst_keys,
            reload_cmd=f"echo x >> {reloads}",
            **({"wait_min": wait_min} if wait_min else {}),
        )
        bench.load(layout)
        watcher = bench.watch(layout)
        time.sleep(SETTLE + (0.3 if wait_min else 0.0))
        runs = [burst_once(bench, sizes, layout, reloads, watcher) for _ in range(sizes.burst_repeats)]
        return {**burst_figures(sizes, runs), "wait_min": wait_min or ""}

    return _with_bench(workdir, body)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def burst(sizes: Sizes, workdir: Path) -> Result:
    return _burst(sizes, workdir, None)


def burst_wait(sizes: Sizes, workdir: Path) -> Result:
    return _burst(sizes, workdir, "50ms")


# -- idle and memory ------------------------------------------------------------------------------


def _context_switches(pid: int, kind: str = "ctxt_switches") -> dict[str, int]:
    """Context switches of each thread (by thread id) so far: voluntary + involuntary, or with
    `kind="voluntary_ctxt_switches"` only the voluntary ones (the thread blocked: its wake-ups)."""
    counts: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            lines = (task / "status").read_text().splitlines()
        except OSError:  # the thread ended meanwhile
            continue
        counts[task.name] = sum(int(line.split()[1]) for line in lines if line.split(":")[0].endswith(kind))
    return counts


def _wakeups(before: dict[str, int], after: dict[str, int]) -> int:
    """Switches between two samples, over the threads alive at the second one."""
    return sum(count - before.get(tid, 0) for tid, count in after.items())


def _idle_run(bench: _Bench, layout: Layout, seconds: float) -> Result:
    watcher = bench.watch(layout)
    time.sleep(1.0)
    cpu, switches = cpu_seconds(watcher.pid), _context_switches(watcher.pid)
    time.sleep(seconds)
    cpu_idle = cpu_seconds(watcher.pid) - cpu
    wakeups = _wakeups(switches, _context_switches(watcher.pid))
    return {
        "resources": layout.resources,
        "keys": layout.resources * layout.keys_per_resource,
        "ready_s": round(watcher.ready_after, 3),
        "rss_mib": _mib(rss_kib(watcher.pid)),
        "peak_rss_mib": _mib(rss_kib(watcher.pid, "VmHWM")),
        "threads": thread_count(watcher.pid),
        "idle_seconds": seconds,
        "idle_cpu_percent": round(cpu_idle / seconds * 100, 2),
        "wakeups_per_s": round(wakeups / seconds, 1),
    }


def idle(sizes: Sizes, workdir: Path) -> Result:
    def body(bench: _Bench) -> Result:
        layout = bench.layout("idle", *sizes.idle)
        bench.load(layout)
        return _idle_run(bench, layout, sizes.idle_seconds)

    return _with_bench(workdir, body)


def memory_big(sizes: Sizes, workdir: Path) -> Result:
    def body(bench: _Bench) -> Result:
        layout = bench.layout("big", *sizes.big)
        bench.load(layout)
        return _idle_run(bench, layout, min(sizes.idle_seconds, 5.0))

    return _with_bench(workdir, body)


# -- fan-out --------------------------------------------------------------------------------------


def fanout(sizes: Sizes, workdir: Path) -> Result:
    """Many confpy watchers on one etcd, one resource each on the same prefix; one put reaches all."""
    return run_fanout(sizes, workdir, lambda url, confdir: confpy_command("-watch", url, confdir))


def run_fanout(
    sizes: Sizes, workdir: Path, command: Callable[[str, Path], list[str]], engine: str = "jinja"
) -> Result:
    """`fanout` with the watch command `command(url, confdir)` (confd's, in versus.py)."""
    count = sizes.fanout_watchers
    raise_open_files_limit(4096)

    def body(bench: _Bench) -> Result:
        layouts = [bench.layout(f"w{k:02d}", 1, 40, engine=engine) for k in range(count)]
        bench.load(layouts[0])
        watchers = [
            WatchProcess(command(bench.etcd.url, layout.confdir), layout, workdir / f"w{k:02d}.log")
            for k, layout in enumerate(layouts)
        ]
        bench.watchers.extend(watchers)
        started = time.perf_counter()
        for watcher in watchers:  # spawn all, then wait for each: they start in parallel
            watcher.spawn()
        for watcher in watchers:
            watcher.wait_ready(30 + count)
        all_ready = time.perf_counter() - started
        time.sleep(SETTLE + count * 0.02)
        probes = [FileProbe(layout.dest_dir) for layout in layouts]
        try:
            per_put_p50: list[float] = []
            per_put_max: list[float] = []
            every: list[float] = []
            missed = 0
            for n in range(sizes.fanout_puts + 1):
                value = bench.next_value(0, 0)
                needle = f"server {value};"
                marks = [p.mark() for p in probes]
                bench.client.put(layouts[0].key(0, 0), value)
                returned = time.perf_counter()
                latencies = []
                for probe, mark, layout in zip(probes, marks, layouts, strict=True):
                    seen = probe.wait_for(layout.dest_name(0), _holding([needle]), since=mark, timeout=3.0)
                    if seen is None:
                        missed += 1
                    else:
                        latencies.append(max(0.0, seen.time - returned))
                if n == 0 or not latencies:  # the first put is a warm-up
                    continue
                per_put_p50.append(statistics.median(latencies))
                per_put_max.append(max(latencies))
                every.extend(latencies)
                time.sleep(0.1)
        finally:
            for probe in probes:
                probe.close()
        rss = [rss_kib(w.pid) for w in watchers]
        return {
            "watchers": count,
            "puts": sizes.fanout_puts,
            "all_ready_s": round(all_ready, 2),
            "latency_p50_ms": round(statistics.median(per_put_p50) * 1000, 2),
            "latency_max_ms": round(statistics.median(per_put_max) * 1000, 2),
            "latency_all": summarize(every),
            "missed": missed,
            "rss_mib_each": _mib(int(statistics.median(rss))),
        }

    return _with_bench(workdir, body)


SCENARIOS: dict[str, Callable[[Sizes, Path], Result]] = {
    "startup": startup,
    "onetime_small": onetime_small,
    "onetime_large": onetime_large,
    "watch_small": watch_small,
    "watch_large": watch_large,
    "watch_scale": watch_scale,
    "burst": burst,
    "burst_wait": burst_wait,
    "idle": idle,
    "memory_big": memory_big,
    "fanout": fanout,
    "render": render,
    "stages": stages,
    "mirror_memory": mirror_memory,
    "soak": soak,
}
