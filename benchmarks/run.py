"""Run confpy's benchmarks: `make bench` (everything) or `benchmarks/run.py --quick` (tiny, for tests).

Prints each scenario's figures, then every target beside the Go confd's figure on this kind of
machine, met or missed, and writes all of it as JSON (`--json`, default benchmarks/results.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from etcd_local import etcd_version
from scenarios import SCENARIOS as SINGLE
from sizes import FULL, QUICK
from versus import VERSUS, confd_binary, confd_version
from workload import confpy_python, use_python

__all__ = ["SCENARIOS", "TARGETS", "Target", "evaluate", "main"]

SCENARIOS = {**SINGLE, **VERSUS}


@dataclass(frozen=True)
class Target:
    """One target: a figure in the results, the limit it must stay within, and confd's figure."""

    scenario: str
    path: str  # dotted path into the scenario's result
    limit: float
    confd: float | None
    label: str
    strict: bool = False  # True: must be below the limit, not at it

    def value(self, results: dict[str, Any]) -> float | None:
        node: Any = results.get(self.scenario)
        for part in self.path.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return float(node) if isinstance(node, int | float) else None


TARGETS = [
    Target("startup", "help_ms", 100, None, "`confpy --help` wall ms"),
    Target("startup", "version_ms", 100, None, "`confpy -version` wall ms"),
    Target("onetime_small", "wall_ms.p50", 150, 17, "-onetime 200 keys / 5 resources, wall ms"),
    Target("onetime_large", "wall_ms.p50", float("inf"), 176, "-onetime 20,000 keys / 50 resources, wall ms"),
    Target("onetime_large", "peak_rss_mib", float("inf"), 31, "-onetime 20,000 keys, peak RSS MiB"),
    Target("watch_small", "latency_ms.p50", 2.5, 1.6, "reaction p50 ms, 200 keys / 5 resources"),
    Target("watch_small", "latency_ms.p99", 5, 3.3, "reaction p99 ms, 200 keys / 5 resources"),
    Target("watch_small", "missed", 0, 0, "missed puts"),
    Target("watch_large", "latency_ms.p50", 4, 4.7, "reaction p50 ms, 20,000 keys / 50 resources"),
    Target("watch_large", "latency_ms.p99", 8, 8.6, "reaction p99 ms, 20,000 keys / 50 resources"),
    Target("watch_large", "cpu_ms_per_100_puts", 510, 510, "CPU ms per 100 puts, 20,000 keys", strict=True),
    Target("watch_scale", "p50_ratio", 1.5, None, "reaction p50, 500 resources / 5 resources"),
    Target("burst", "final_after_last_put_ms", 10, 3.7, "burst: final state on disk after last put, ms"),
    Target("burst", "reloads", 172, 172, "burst: reloads"),
    Target("burst_wait", "final_after_last_put_ms", 60, None, "burst, wait min 50ms: final state after, ms"),
    Target("burst_wait", "reloads", 13, None, "burst, wait min 50ms: reloads"),
    Target("idle", "rss_mib", 60, 33, "RSS MiB, 20,000 keys / 50 resources"),
    Target("idle", "idle_cpu_percent", 0.5, 0, "idle CPU %, 20,000 keys"),
    Target("memory_big", "rss_mib", 150, None, "RSS MiB, 100,000 keys / 500 resources"),
    Target("soak", "stale_resources", 0, None, "soak: dest files not at the last put's state"),
    # Issue 16: ratios to confd measured in the same run (versus.py; None without CONFD_BIN).
    Target("versus_idle", "ratio.confpy.rss_mib", 1.3, None, "idle RSS 20,000 keys, x confd (.tmpl)"),
    Target("versus_idle", "ratio.confpy_jinja.rss_mib", 1.3, None, "idle RSS 20,000 keys, x confd (Jinja2)"),
    Target("versus_idle", "confpy.wakeups_per_s", 3, None, "idle wake-ups per second (.tmpl)"),
    Target("versus_idle", "confpy_metrics.wakeups_per_s", 3, None, "idle wake-ups per second, -metrics-addr"),
    Target("versus_idle", "confpy_exec.wakeups_per_s", 3, None, "idle wake-ups per second, confpy exec"),
    Target("versus_onetime", "ratio.confpy.wall_ms", 3, None, "-onetime 200 keys wall, x confd (.tmpl)"),
    Target("versus_onetime", "ratio.confpy.peak_rss_mib", float("inf"), None, "-onetime peak RSS, x confd"),
    Target("versus_first_render", "ratio.confpy.ms", 3, None, "-watch start to first render, x confd"),
    Target("versus_first_render", "ratio.confpy_exec.ms", 3, None, "exec start to first render, x confd"),
    Target("versus_reaction", "ratio.confpy.latency_ms_p50", 0.73, None, "reaction p50, x confd (.tmpl)"),
    Target("versus_reaction", "ratio.confpy.latency_ms_p99", 0.53, None, "reaction p99, x confd (.tmpl)"),
    Target(
        "versus_reaction_large", "ratio.confpy.latency_ms_p50", 0.36, None, "reaction p50 20k keys, x confd"
    ),
    Target(
        "versus_reaction_large", "ratio.confpy.latency_ms_p99", 0.28, None, "reaction p99 20k keys, x confd"
    ),
    Target(
        "versus_reaction_large",
        "ratio.confpy.cpu_ms_per_100_puts",
        0.33,
        None,
        "CPU/100 puts 20k keys, x confd",
    ),
    Target("versus_burst", "ratio.confpy.final_after_last_put_ms", 0.2, None, "burst: final state, x confd"),
    Target("versus_burst", "ratio.confpy.reloads", 0.3, None, "burst: reloads, x confd"),
    Target("versus_fanout", "ratio.confpy.latency_p50_ms", float("inf"), None, "fan-out p50, x confd"),
    Target("versus_fanout", "ratio.confpy.rss_mib_each", float("inf"), None, "fan-out RSS each, x confd"),
]


def evaluate(results: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
    """Every target with its measured value, the ratio to confd, and met/missed (None: not measured)."""
    rows = []
    for target in TARGETS:
        value = target.value(results)
        met = None if value is None else (value < target.limit if target.strict else value <= target.limit)
        ratio = None
        if value is not None and target.confd:
            ratio = round(value / target.confd, 2)
        rows.append(
            {
                "target": target.label,
                "scenario": target.scenario,
                "metric": target.path,
                "value": value,
                "limit": None if target.limit == float("inf") else target.limit,
                "confd": target.confd,
                "ratio_to_confd": ratio,
                "met": met if not quick else None,  # quick sizes are not the targets' sizes
            }
        )
    return rows


def _machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "confpy_python": _interpreter(confpy_python()),
        "etcd": etcd_version(),
        "confd": confd_version(binary) if (binary := confd_binary()) else "skipped: CONFD_BIN is not set",
        "kernel": platform.release(),
    }


def _interpreter(python: str) -> dict[str, Any]:
    """Which Python runs confpy and whether confpy is an editable install: start-up figures depend
    on both (Debian's python3 starts in half the time of a build without PGO; modules whose
    bytecode is never written, as with PYTHONDONTWRITEBYTECODE and an editable install, are
    compiled on every start)."""
    probe = (
        "import json, sys, importlib.metadata as m; "
        "d = m.distribution('confpy').read_text('direct_url.json') or ''; "
        "print(json.dumps({'path': sys.executable, 'version': sys.version.split()[0], "
        "'editable': 'editable' in d}))"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    info: dict[str, Any] = json.loads(done.stdout)
    return info


def _flatten(prefix: str, node: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else key, value, out)
    else:
        out.append((prefix, node))


def _print_scenario(name: str, result: dict[str, Any]) -> None:
    pairs: list[tuple[str, Any]] = []
    _flatten("", result, pairs)
    print(f"\n{name}")
    for key, value in pairs:
        print(f"  {key:<40} {value}")


def _print_targets(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'target':<52} {'confpy':>10} {'limit':>8} {'confd':>7} {'x confd':>8}  met")
    for row in rows:
        value = "-" if row["value"] is None else f"{row['value']:g}"
        limit = "-" if row["limit"] is None else f"{row['limit']:g}"
        confd = "-" if row["confd"] is None else f"{row['confd']:g}"
        ratio = "-" if row["ratio_to_confd"] is None else f"{row['ratio_to_confd']:g}"
        met = {True: "yes", False: "MISSED", None: "-"}[row["met"]]
        print(f"{row['target']:<52} {value:>10} {limit:>8} {confd:>7} {ratio:>8}  {met}")


def run(
    names: list[str],
    quick: bool,
    repeat: int = 1,
    log: Callable[[str], None] = print,
    soak_seconds: float | None = None,
) -> dict[str, Any]:
    """Every scenario `repeat` times (round after round); each figure is the median of the rounds."""
    sizes = QUICK if quick else FULL
    if soak_seconds is not None:
        sizes = dataclasses.replace(sizes, soak_seconds=soak_seconds)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="confpy-bench-") as tmp:
        for index in range(repeat):
            for name in names:
                if name in errors:
                    continue
                log(f"running {name} (round {index + 1} of {repeat}) ...")
                load = os.getloadavg()[0]
                started = time.perf_counter()
                try:
                    result = SCENARIOS[name](sizes, Path(tmp) / f"{name}-{index}")
                except Exception as exc:  # one broken scenario must not hide the others' figures
                    errors[name] = f"{type(exc).__name__}: {exc}"
                    traceback.print_exc()
                    continue
                result["seconds"] = round(time.perf_counter() - started, 1)
                result["loadavg_at_start"] = round(load, 2)
                result["loadavg_at_end"] = round(os.getloadavg()[0], 2)
                rounds[name].append(result)
                _print_scenario(name, result)
    results = {name: _median(runs) for name, runs in rounds.items() if runs and name not in errors}
    document: dict[str, Any] = {"results": results, "errors": errors}
    if repeat > 1:
        document["rounds"] = rounds
    return document


def _median(items: list[Any]) -> Any:
    """The median of each number across rounds, keeping the structure of the first round."""
    first = items[0]
    if isinstance(first, dict):
        return {key: _median([item[key] for item in items if key in item]) for key in first}
    if all(isinstance(item, int | float) and not isinstance(item, bool) for item in items):
        middle = statistics.median(items)
        return round(middle, 3) if isinstance(middle, float) else middle
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny configuration of every scenario")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; each figure is their median [1]")
    parser.add_argument(
        "--only", action="append", choices=sorted(SCENARIOS), help="run only these (repeatable)"
    )
    parser.add_argument(
        "--python",
        help="the interpreter that runs confpy, in a venv where confpy is installed "
        "(make bench: .venv-bench, as the images install it) [this one]",
    )
    parser.add_argument(
        "--json", type=Path, help="results file (default benchmarks/results.json; --quick: a temp file)"
    )
    parser.add_argument(
        "--soak-seconds", type=float, help="how long the soak scenario runs [600; --quick: 3]"
    )
    args = parser.parse_args(argv)
    names = args.only or list(SCENARIOS)
    if args.python:
        use_python(args.python)
    default = Path(tempfile.gettempdir(), "confpy-bench-quick.json") if args.quick else None
    output = args.json or default or Path(__file__).resolve().parent / "results.json"
    started = time.time()
    machine = _machine()
    outcome = run(names, args.quick, max(1, args.repeat), soak_seconds=args.soak_seconds)
    rows = evaluate(outcome["results"], args.quick)
    _print_targets(rows)
    document = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": machine,
        **outcome,
        "targets": rows,
    }
    output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {output}")
    if outcome["errors"]:
        print(f"failed scenarios: {', '.join(outcome['errors'])}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
