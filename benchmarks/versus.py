"""confd and confpy side by side (issue 16): the same workload, the same etcd, the same rounds.

With `CONFD_BIN` naming a confd binary, every `versus_*` scenario measures confd, confpy on the
same confdir of Go templates (`.tmpl`: what a confd user brings), and confpy with the same
templates in Jinja2, alternating run by run, and reports each figure's ratio to confd's. Without
it they measure confpy alone and say `"comparison": "skipped: CONFD_BIN is not set"`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probe import cpu_seconds, rss_kib, summarize, thread_count
from scenarios import (
    SETTLE,
    _Bench,
    _context_switches,
    _mib,
    _paced,
    _Reactor,
    _wakeups,
    _with_bench,
    burst_figures,
    burst_once,
    run_fanout,
)
from sizes import Sizes
from workload import ROOT, WatchProcess, clean_env, confpy_command, run_onetime

__all__ = ["VERSUS", "confd_binary"]

Result = dict[str, Any]


def confd_binary() -> str | None:
    """The confd to compare with (`CONFD_BIN`), None when unset or not executable."""
    path = os.environ.get("CONFD_BIN", "")
    return path if path and os.access(path, os.X_OK) else None


def confd_version(binary: str) -> str:
    done = subprocess.run([binary, "-version"], capture_output=True, text=True, check=False, env=clean_env())
    return (done.stdout or done.stderr).strip()


@dataclass(frozen=True)
class Impl:
    """One contender: its name in the results, the template engine of its confdir, its command."""

    name: str
    engine: str  # "go" (.tmpl) or "jinja" (.j2)
    binary: str | None = None  # confd's binary; None: confpy
    flags: tuple[str, ...] = ()  # confpy's own, after the common ones: ("-etcd-transport", "grpc")
    sidecar: bool = False  # `confpy exec ... -- sleep`, the container entrypoint, for -watch

    def command(self, mode: str, url: str, confdir: Path) -> list[str]:
        if self.binary is None:
            if self.sidecar:
                return confpy_command("exec", url, confdir, *self.flags, "--", "sleep", "3600")
            return confpy_command(mode, url, confdir, *self.flags)
        flags = ["-backend", "etcdv3", "-node", url, "-confdir", str(confdir), "-log-level", "error"]
        return [self.binary, mode, *flags]


_CONFPY = Impl("confpy", "go")
_SIDECAR = Impl("confpy_exec", "go", sidecar=True)


def _contenders(grpc: bool = False) -> tuple[list[Impl], str]:
    """Who runs, confd first when there is one, and what the comparison is: confpy as it runs by
    default (over etcd's JSON gateway), on .tmpl and on Jinja2; with `grpc`, also confpy (.tmpl)
    over `-etcd-transport grpc` (`confpy_grpc`), where the transport's cost shows (start-up, idle,
    reaction)."""
    impls = [_CONFPY, Impl("confpy_jinja", "jinja")]
    if grpc:
        impls.append(Impl("confpy_grpc", "go", flags=("-etcd-transport", "grpc")))
    binary = confd_binary()
    if binary is None:
        return impls, "skipped: CONFD_BIN is not set"
    return [Impl("confd", "go", binary), *impls], confd_version(binary)


def _with_ratios(figures: dict[str, Result], comparison: str, keys: list[str]) -> Result:
    """Each contender's figures, and confpy's `keys` divided by confd's (when confd ran), named
    with `_` for `.` (`latency_ms_p50`) so that a target's dotted path reaches them."""
    result: Result = {"comparison": comparison, **figures}
    confd = figures.get("confd")
    if confd is not None:
        result["ratio"] = {
            name: {
                key.replace(".", "_"): round(_get(own, key) / max(_get(confd, key), 1e-9), 2) for key in keys
            }
            for name, own in figures.items()
            if name != "confd"
        }
    return result


def _get(node: Result, dotted: str) -> float:
    for part in dotted.split("."):
        node = node[part]
    return float(node)  # type: ignore[arg-type]


def _layouts(bench: _Bench, impls: list[Impl], shape: tuple[int, int], name: str) -> dict[str, Any]:
    """A confdir per contender over the same keys (loaded once)."""
    layouts = {impl.name: bench.layout(f"{name}-{impl.name}", *shape, engine=impl.engine) for impl in impls}
    bench.load(next(iter(layouts.values())))
    return layouts


# -- idle: RSS and wake-ups -------------------------------------------------------------------------


def versus_idle(sizes: Sizes, workdir: Path) -> Result:
    """Idle after the initial render: RSS, threads, CPU and voluntary context switches (each one
    a thread that blocked and was woken again), over all threads, for `wakeup_seconds`; confpy
    also with `-metrics-addr` and as `confpy exec` (its command not counted), the sidecar."""
    impls, comparison = _contenders(grpc=True)
    impls += [Impl("confpy_metrics", "go", flags=("-metrics-addr", "127.0.0.1:0")), _SIDECAR]

    def body(bench: _Bench) -> Result:
        layouts = _layouts(bench, impls, sizes.idle, "idle")
        figures: dict[str, Result] = {}
        for impl in impls:  # one after the other: an idle process must not share the cores
            layout = layouts[impl.name]
            watcher = bench.watch(layout, impl.name, impl.command("-watch", bench.etcd.url, layout.confdir))
            time.sleep(1.0)
            cpu, switches = (
                cpu_seconds(watcher.pid),
                _context_switches(watcher.pid, "voluntary_ctxt_switches"),
            )
            time.sleep(sizes.wakeup_seconds)
            wakeups = _wakeups(switches, _context_switches(watcher.pid, "voluntary_ctxt_switches"))
            figures[impl.name] = {
                "rss_mib": _mib(rss_kib(watcher.pid)),
                "threads": thread_count(watcher.pid),
                "wakeups_per_s": round(wakeups / sizes.wakeup_seconds, 2),
                "idle_cpu_percent": round((cpu_seconds(watcher.pid) - cpu) / sizes.wakeup_seconds * 100, 2),
            }
            watcher.stop()
        result = _with_ratios(figures, comparison, ["rss_mib", "wakeups_per_s"])
        return {
            "keys": sizes.idle[0] * sizes.idle[1],
            "resources": sizes.idle[0],
            "seconds_idle": sizes.wakeup_seconds,
            **result,
        }

    return _with_bench(workdir, body)


# -- -onetime, and -watch until the first full render -------------------------------------------------


def versus_onetime(sizes: Sizes, workdir: Path) -> Result:
    """`-onetime` (dest files absent): wall time, CPU and peak RSS, the contenders taking turns."""
    impls, comparison = _contenders(grpc=True)

    def body(bench: _Bench) -> Result:
        layouts = _layouts(bench, impls, sizes.onetime_small, "onetime")
        runs: dict[str, list[Any]] = {impl.name: [] for impl in impls}
        for n in range(sizes.onetime_runs + 1):  # run 0 warms the page cache
            for impl in impls:
                layout = layouts[impl.name]
                layout.clear_dests()
                run = run_onetime(impl.command("-onetime", bench.etcd.url, layout.confdir))
                if not layout.all_rendered():
                    raise RuntimeError(f"{impl.name} -onetime did not write every dest file")
                if n:
                    runs[impl.name].append(run)
        figures = {
            name: {
                "wall_ms": round(statistics.median(r.wall for r in done) * 1000, 1),
                "cpu_ms": round(statistics.median(r.cpu for r in done) * 1000, 1),
                "peak_rss_mib": _mib(int(statistics.median(r.max_rss_kib for r in done))),
            }
            for name, done in runs.items()
        }
        result = _with_ratios(figures, comparison, ["wall_ms", "cpu_ms", "peak_rss_mib"])
        return {"keys": sizes.onetime_small[0] * sizes.onetime_small[1], "runs": sizes.onetime_runs, **result}

    return _with_bench(workdir, body)


def versus_first_render(sizes: Sizes, workdir: Path) -> Result:
    """`-watch` from the exec until every dest file exists, the contenders taking turns; confpy
    also as `confpy exec` (the sidecar's start, its command after the first render)."""
    impls, comparison = _contenders(grpc=True)
    impls.append(_SIDECAR)

    def body(bench: _Bench) -> Result:
        layouts = _layouts(bench, impls, sizes.onetime_small, "first")
        ready: dict[str, list[float]] = {impl.name: [] for impl in impls}
        for n in range(sizes.onetime_runs + 1):
            for impl in impls:
                layout = layouts[impl.name]
                layout.clear_dests()
                command = impl.command("-watch", bench.etcd.url, layout.confdir)
                watcher = WatchProcess(command, layout, workdir / f"first-{impl.name}.log").start()
                watcher.stop()
                if n:
                    ready[impl.name].append(watcher.ready_after)
        figures = {name: {"ms": round(statistics.median(r) * 1000, 1)} for name, r in ready.items()}
        result = _with_ratios(figures, comparison, ["ms"])
        return {"keys": sizes.onetime_small[0] * sizes.onetime_small[1], "runs": sizes.onetime_runs, **result}

    return _with_bench(workdir, body)


# -- the watch path -----------------------------------------------------------------------------------


class _Flush:
    """The flush of a new file of a dest's size in its directory, timed between the puts.

    What confpy waits for before its rename on a filesystem that does not commit a rename after
    the renamed file's data (confpy/pipeline/renames.py, this VM's journal-less ext4) and what
    confd never waits for: it does not fsync (resource/template/resource.go, createStageFile and
    sync; consul-template does, renderer/renderer.go, AtomicWrite). The O_TMPFILE is never linked.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = b""
        self.times: list[float] = []

    def open(self) -> None:
        self.data = b"x" * max(path.stat().st_size for path in self.directory.iterdir())

    def step(self) -> None:
        fd = os.open(self.directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, self.data)
            started = time.perf_counter()
            os.fsync(fd)
            self.times.append(time.perf_counter() - started)
        finally:
            os.close(fd)

    def result(self, figures: dict[str, Result]) -> Result:
        """The flush's latency, whether confpy waits for it here, and if it does (and confd ran)
        confpy's reaction p50 less the flush's p50, as a ratio to confd's: the rest of the path."""
        from confpy.pipeline.renames import data_before_rename

        before = not data_before_rename(os.stat(self.directory).st_dev)
        flush = summarize(self.times)
        result: Result = {"flush": {"bytes": len(self.data), "fsync_ms": flush, "before_rename": before}}
        confd = figures.get("confd")
        if before and confd is not None:
            result["ratio_without_flush"] = {
                name: {
                    "latency_ms_p50": round(
                        (own["latency_ms"]["p50"] - flush["p50"]) / confd["latency_ms"]["p50"], 2
                    )
                }
                for name, own in figures.items()
                if name != "confd"
            }
        return result


def _versus_reaction(sizes: Sizes, workdir: Path, shape: tuple[int, int], grpc: bool) -> Result:
    """Put returns -> dest holds the value: all contenders watch at once, each its own keys (its own
    root), and the puts alternate between them, so that the machine's load hits them alike."""
    impls, comparison = _contenders(grpc=grpc)

    def body(bench: _Bench) -> Result:
        reactors: list[_Reactor] = []
        try:
            for impl in impls:
                layout = bench.layout(
                    f"react-{impl.name}", *shape, engine=impl.engine, root=f"{ROOT}-{impl.name}"
                )
                bench.load(layout)
                command = impl.command("-watch", bench.etcd.url, layout.confdir)
                reactors.append(_Reactor(bench, layout, seed=4, name=impl.name, command=command))
            flush = _Flush(reactors[impls.index(_CONFPY)].layout.dest_dir)
            _paced([*reactors, flush], sizes.puts, sizes.put_interval / (len(reactors) + 1))
            figures = {impl.name: reactor.result() for impl, reactor in zip(impls, reactors, strict=True)}
        finally:
            for reactor in reactors:
                reactor.close()
        result = _with_ratios(
            figures, comparison, ["latency_ms.p50", "latency_ms.p99", "cpu_ms_per_100_puts"]
        )
        return {**result, **flush.result(figures)}

    return _with_bench(workdir, body)


def versus_reaction(sizes: Sizes, workdir: Path) -> Result:
    """200 keys / 5 resources, confpy over gRPC too (the transport's cost shows here)."""
    return _versus_reaction(sizes, workdir, sizes.watch_small, grpc=True)


def versus_reaction_large(sizes: Sizes, workdir: Path) -> Result:
    """20,000 keys / 50 resources (watch_large's shape), where confd re-reads a resource's whole
    prefix on every change and confpy renders from its mirror."""
    return _versus_reaction(sizes, workdir, sizes.watch_large, grpc=False)


def versus_burst(sizes: Sizes, workdir: Path) -> Result:
    """`burst` for each contender, all watching at once on keys of their own: how late after the
    last put of a burst the final state is on disk, and how many reloads the burst cost. The bursts
    take turns, contender by contender, `burst_repeats` rounds."""
    impls, comparison = _contenders()

    def body(bench: _Bench) -> Result:
        contenders = []
        for impl in impls:
            reloads = workdir / f"reloads-{impl.name}.log"
            layout = bench.layout(
                f"burst-{impl.name}",
                1,
                sizes.burst_keys,
                engine=impl.engine,
                root=f"{ROOT}-{impl.name}",
                reload_cmd=f"echo x >> {reloads}",
            )
            bench.load(layout)
            watcher = bench.watch(layout, impl.name, impl.command("-watch", bench.etcd.url, layout.confdir))
            contenders.append((impl, layout, reloads, watcher))
        time.sleep(SETTLE)
        runs: dict[str, list[tuple[float, float, int]]] = {impl.name: [] for impl in impls}
        for _ in range(sizes.burst_repeats):
            for impl, layout, reloads, watcher in contenders:
                runs[impl.name].append(burst_once(bench, sizes, layout, reloads, watcher))
        figures = {name: burst_figures(sizes, own) for name, own in runs.items()}
        return _with_ratios(figures, comparison, ["final_after_last_put_ms", "reloads"])

    return _with_bench(workdir, body)


def versus_fanout(sizes: Sizes, workdir: Path) -> Result:
    """`fanout` (many watchers on one etcd, one put reaches all) for each contender in turn."""
    impls, comparison = _contenders()
    figures = {
        impl.name: run_fanout(
            sizes,
            workdir / impl.name,
            lambda url, confdir, impl=impl: impl.command("-watch", url, confdir),  # type: ignore[misc]
            engine=impl.engine,
        )
        for impl in impls
    }
    return _with_ratios(figures, comparison, ["latency_p50_ms", "latency_max_ms", "rss_mib_each"])


VERSUS: dict[str, Callable[[Sizes, Path], Result]] = {
    "versus_idle": versus_idle,
    "versus_onetime": versus_onetime,
    "versus_first_render": versus_first_render,
    "versus_reaction": versus_reaction,
    "versus_reaction_large": versus_reaction_large,
    "versus_burst": versus_burst,
    "versus_fanout": versus_fanout,
}
