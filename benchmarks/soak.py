"""The soak: one `confpy -watch` under a steady stream of puts for a long time; does it leak?

50 resources x 100 keys (5,000 keys), 200 puts/s spread at random over every key, for
`Sizes.soak_seconds` (10 minutes in `make bench`; `--soak-seconds` changes it). Every
`soak_sample` seconds the process's RSS, threads and open fds are read from /proc. Growth is the
least-squares slope of each over the samples after a warm-up (the first fifth, at most 60 s:
allocator pools, code paths paged in), scaled to one hour. At the end every dest file must hold
the last value put for each of its keys: a soak that stopped rendering would otherwise look lean.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from etcd_local import LocalEtcd
from probe import cpu_seconds, rss_kib, thread_count
from sizes import Sizes
from workload import WatchProcess, confpy_command, make_layout, value_for

__all__ = ["soak"]

Result = dict[str, Any]


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _per_hour(times: list[float], values: list[float]) -> float:
    """Least-squares slope of `values` over `times` (seconds), per hour."""
    if len(times) < 2:
        return 0.0
    mean_t, mean_v = statistics.fmean(times), statistics.fmean(values)
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread == 0:
        return 0.0
    slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / spread
    return slope * 3600


def _series(times: list[float], values: list[float], digits: int = 1) -> Result:
    return {
        "first": round(values[0], digits),
        "last": round(values[-1], digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "growth_per_hour": round(_per_hour(times, values), digits),
    }


def soak(sizes: Sizes, workdir: Path) -> Result:
    resources, keys = sizes.soak
    layout = make_layout(workdir / "soak", resources, keys)
    with LocalEtcd() as etcd:
        client = etcd.client()
        watcher = WatchProcess(
            confpy_command("-watch", etcd.url, layout.confdir), layout, workdir / "soak.log"
        )
        try:
            client.load(layout.items())
            watcher.start()
            return _run(sizes, layout, client, watcher)
        finally:
            watcher.stop()
            client.close()


def _run(sizes: Sizes, layout: Any, client: Any, watcher: WatchProcess) -> Result:
    rng = random.Random(12)
    pid = watcher.pid
    last: dict[tuple[int, int], str] = {}
    samples: list[tuple[float, float, int, int]] = []  # (seconds, RSS MiB, threads, fds)
    interval = 1.0 / sizes.soak_rate
    started = time.monotonic()
    cpu_before = cpu_seconds(pid)
    next_sample = started
    puts = 0
    while (now := time.monotonic()) - started < sizes.soak_seconds:
        if now >= next_sample:
            samples.append((now - started, rss_kib(pid) / 1024, thread_count(pid), _fds(pid)))
            next_sample += sizes.soak_sample
        i, j = rng.randrange(layout.resources), rng.randrange(layout.keys_per_resource)
        puts += 1
        value = value_for(i, j, puts)
        client.put(layout.key(i, j), value)
        last[(i, j)] = value
        # Paced on an absolute schedule: a slow put is caught up, not lost from the rate.
        time.sleep(max(0.0, started + puts * interval - time.monotonic()))
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_before
    samples.append((elapsed, rss_kib(pid) / 1024, thread_count(pid), _fds(pid)))
    stale = _stale(layout, last, deadline=time.monotonic() + 30)
    warmup = min(60.0, sizes.soak_seconds / 5)
    kept = [s for s in samples if s[0] >= warmup] or samples
    times = [s[0] for s in kept]
    return {
        "resources": layout.resources,
        "keys": layout.resources * layout.keys_per_resource,
        "duration_s": round(elapsed, 1),
        "puts": puts,
        "puts_per_s": round(puts / elapsed, 1),
        "samples": len(samples),
        "warmup_s": round(warmup, 1),
        "cpu_percent": round(cpu / elapsed * 100, 1),
        "rss_mib": _series(times, [s[1] for s in kept]),
        "threads": _series(times, [float(s[2]) for s in kept], 0),
        "fds": _series(times, [float(s[3]) for s in kept], 0),
        "rss_mib_at_start": round(samples[0][1], 1),
        "stale_resources": stale,
        # The shape of the curve, which one slope hides: levelling off, or still climbing?
        "rss_mib_by_minute": [
            round(s[1], 1) for s in samples if s[0] // 60 > (s[0] - sizes.soak_sample) // 60
        ],
    }


def _stale(layout: Any, last: dict[tuple[int, int], str], deadline: float) -> int:
    """Resources whose dest does not hold the last value put for each key, once `deadline` passed."""
    wanted: dict[int, list[str]] = {}
    for (i, _j), value in last.items():
        wanted.setdefault(i, []).append(f"server {value};")
    while True:
        stale = [
            i for i, needles in wanted.items() if not all(n in layout.dest(i).read_text() for n in needles)
        ]
        if not stale or time.monotonic() > deadline:
            return len(stale)
        time.sleep(0.2)
