"""How big each scenario is: the full configuration (`make bench`) and the tiny one (`--quick`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FULL", "QUICK", "Sizes"]


@dataclass(frozen=True)
class Sizes:
    startup_runs: int
    onetime_runs: int
    onetime_small: tuple[int, int]  # (resources, keys per resource)
    onetime_large: tuple[int, int]
    watch_small: tuple[int, int]
    watch_large: tuple[int, int]
    puts: int
    put_interval: float
    scale: tuple[int, int, int]  # (few resources, many resources, keys per resource)
    scale_puts: int
    burst_puts: int
    burst_keys: int
    burst_repeats: int
    idle: tuple[int, int]
    idle_seconds: float
    wakeup_seconds: float  # versus_idle's window for counting wake-ups
    big: tuple[int, int]
    fanout_watchers: int
    fanout_puts: int
    render_upstreams: int
    render_runs: int
    soak: tuple[int, int]  # (resources, keys per resource)
    soak_rate: float  # puts per second
    soak_seconds: float  # `run.py --soak-seconds` overrides it
    soak_sample: float  # seconds between samples of RSS, threads and fds


FULL = Sizes(
    startup_runs=20,
    onetime_runs=10,
    onetime_small=(5, 40),
    onetime_large=(50, 400),
    watch_small=(5, 40),
    watch_large=(50, 400),
    puts=300,
    put_interval=0.02,
    scale=(5, 500, 40),
    scale_puts=200,
    burst_puts=1000,
    burst_keys=50,
    burst_repeats=5,
    idle=(50, 400),
    idle_seconds=10.0,
    wakeup_seconds=30.0,
    big=(500, 200),
    fanout_watchers=50,
    fanout_puts=20,
    render_upstreams=200,
    render_runs=200,
    soak=(50, 100),
    soak_rate=200.0,
    soak_seconds=600.0,
    soak_sample=5.0,
)

QUICK = Sizes(
    startup_runs=2,
    onetime_runs=2,
    onetime_small=(2, 10),
    onetime_large=(5, 40),
    watch_small=(2, 10),
    watch_large=(5, 40),
    puts=10,
    put_interval=0.02,
    scale=(2, 10, 10),
    scale_puts=10,
    burst_puts=60,
    burst_keys=10,
    burst_repeats=1,
    idle=(5, 40),
    idle_seconds=1.0,
    wakeup_seconds=1.0,
    big=(10, 40),
    fanout_watchers=3,
    fanout_puts=3,
    render_upstreams=20,
    render_runs=5,
    soak=(3, 10),
    soak_rate=50.0,
    soak_seconds=3.0,
    soak_sample=0.5,
)
