"""The benchmarks, once, in their tiny `--quick` configuration, so that they cannot rot.

No timed assertions (performance is `make bench`'s job): every scenario must run, and report
numbers that are present, finite and consistent with what was asked of it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from tests.support.paths import REPO

BENCHMARKS = REPO / "benchmarks"
SCENARIOS = [
    "startup",
    "onetime_small",
    "onetime_large",
    "watch_small",
    "watch_large",
    "watch_scale",
    "burst",
    "burst_wait",
    "idle",
    "memory_big",
    "fanout",
    "render",
    "stages",
    "soak",
    "mirror_memory",
    "versus_idle",
    "versus_onetime",
    "versus_first_render",
    "versus_reaction",
    "versus_reaction_large",
    "versus_burst",
    "versus_fanout",
]
VERSUS = [name for name in SCENARIOS if name.startswith("versus_")]


def _sizes() -> ModuleType:
    """benchmarks/sizes.py under a name of its own (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("confpy_bench_sizes", BENCHMARKS / "sizes.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


QUICK = _sizes().QUICK


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    output = tmp_path_factory.mktemp("bench") / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "run.py"),
            "--quick",
            "--json",
            str(output),
            "--python",
            sys.executable,
        ],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    document: dict[str, Any] = json.loads(output.read_text())
    return document


def numbers(node: Any) -> list[float]:
    if isinstance(node, dict):
        return [n for value in node.values() for n in numbers(value)]
    return [float(node)] if isinstance(node, int | float) and not isinstance(node, bool) else []


def latency_ok(stats: dict[str, float]) -> bool:
    return 0 <= stats["p50"] <= stats["p99"] <= stats["max"]


def test_run_reports_machine_and_every_scenario(report: dict[str, Any]) -> None:
    assert report["quick"] is True
    assert report["errors"] == {}
    assert sorted(report["results"]) == sorted(SCENARIOS)
    machine = report["machine"]
    assert machine["nproc"] >= 1 and machine["python"] and machine["etcd"] != "unknown"
    # The interpreter that ran confpy, and how confpy is installed there (make test: editable).
    assert machine["confpy_python"] == {
        "path": sys.executable,
        "version": sys.version.split()[0],
        "editable": True,
    }
    compared = not report["machine"]["confd"].startswith("skipped")
    for target in report["targets"]:
        # A ratio to confd exists only where confd ran (CONFD_BIN).
        if compared or not target["metric"].startswith("ratio."):
            assert target["value"] is not None, f"target {target['target']} has no figure"
        assert target["met"] is None  # quick sizes are not the targets' sizes


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_numbers_are_present_and_finite(report: dict[str, Any], name: str) -> None:
    values = numbers(report["results"][name])
    assert len(values) >= 3
    assert all(math.isfinite(v) for v in values)
    assert report["results"][name]["seconds"] >= 0
    assert report["results"][name]["loadavg_at_start"] >= 0


def test_startup_and_onetime(report: dict[str, Any]) -> None:
    results = report["results"]
    assert results["startup"]["help_ms"] > 0 and results["startup"]["version_ms"] > 0
    for name, shape in (("onetime_small", QUICK.onetime_small), ("onetime_large", QUICK.onetime_large)):
        result = results[name]
        assert result["keys"] == shape[0] * shape[1]
        assert result["runs"] == QUICK.onetime_runs
        assert latency_ok(result["wall_ms"])
        assert result["peak_rss_mib"] > 5


def test_reaction_scenarios(report: dict[str, Any]) -> None:
    results = report["results"]
    scale = results["watch_scale"]
    for result in (results["watch_small"], results["watch_large"], scale["few"], scale["many"]):
        assert latency_ok(result["latency_ms"])
        assert 0 <= result["missed"] < result["puts"]
        assert result["cpu_ms_per_100_puts"] >= 0
        assert result["rss_mib"] > 5
    assert scale["few"]["resources"] == QUICK.scale[0]
    assert scale["many"]["resources"] == QUICK.scale[1]
    assert scale["p50_ratio"] > 0


def test_bursts_count_reloads(report: dict[str, Any]) -> None:
    for name, wait in (("burst", ""), ("burst_wait", "50ms")):
        result = report["results"][name]
        assert result["puts"] == QUICK.burst_puts
        assert result["bursts"] == QUICK.burst_repeats
        assert result["wait_min"] == wait
        assert 1 <= result["reloads"] <= QUICK.burst_puts
        assert result["final_after_last_put_ms"] >= 0


def test_idle_memory_and_fanout(report: dict[str, Any]) -> None:
    results = report["results"]
    for name in ("idle", "memory_big"):
        result = results[name]
        assert result["rss_mib"] > 5 and result["peak_rss_mib"] >= result["rss_mib"]
        assert result["threads"] >= 1
        assert result["idle_cpu_percent"] >= 0 and result["wakeups_per_s"] >= 0
    fanout = results["fanout"]
    assert fanout["watchers"] == QUICK.fanout_watchers
    assert 0 <= fanout["latency_p50_ms"] <= fanout["latency_max_ms"]
    assert latency_ok(fanout["latency_all"])
    assert fanout["missed"] < QUICK.fanout_watchers * QUICK.fanout_puts


def test_in_process_render_and_stages(report: dict[str, Any]) -> None:
    render = report["results"]["render"]
    assert render["upstreams"] == QUICK.render_upstreams
    assert render["renders_per_s"] > 0 and latency_ok(render["render_ms"])
    stages = report["results"]["stages"]
    assert stages["keys"] == QUICK.watch_large[0] * QUICK.watch_large[1]
    assert latency_ok(stages["end_to_end_ms"])
    assert stages["stage_fsync_ms"] > 0 and stages["render_ms"] > 0


@pytest.mark.parametrize("name", VERSUS)
def test_versus_confd_runs_every_contender_or_says_skipped(report: dict[str, Any], name: str) -> None:
    """Side by side with confd when CONFD_BIN names one (ratios to it), else confpy alone."""
    result = report["results"][name]
    assert result["comparison"] == report["machine"]["confd"]
    contenders = ["confpy", "confpy_jinja"]
    if name not in ("versus_fanout", "versus_reaction_large", "versus_burst"):
        contenders.append("confpy_grpc")  # over -etcd-transport grpc: where the transport's cost shows
    if result["comparison"].startswith("skipped"):
        assert "confd" not in result and "ratio" not in result
    else:
        assert sorted(result["ratio"]) == sorted(contenders)
        contenders.append("confd")
        # 0 is a figure: confpy over etcd's gateway may have no idle wake-ups at all.
        assert all(
            math.isfinite(v) and v >= 0 for ratios in result["ratio"].values() for v in ratios.values()
        )
    for contender in contenders:
        assert all(math.isfinite(v) and v >= 0 for v in numbers(result[contender]))


@pytest.mark.parametrize("name", ["versus_reaction", "versus_reaction_large"])
def test_versus_reaction_times_the_flush_confd_never_waits_for(report: dict[str, Any], name: str) -> None:
    """The flush confpy's writer makes before the rename where the filesystem needs it, timed
    between the puts; with confd beside it, confpy's reaction less that flush as a ratio too."""
    result = report["results"][name]
    flush = result["flush"]
    assert flush["bytes"] > 0 and latency_ok(flush["fsync_ms"]) and flush["fsync_ms"]["p50"] > 0
    assert isinstance(flush["before_rename"], bool)
    if not flush["before_rename"] or "ratio" not in result:
        assert "ratio_without_flush" not in result
        return
    without = result["ratio_without_flush"]
    assert sorted(without) == sorted(result["ratio"])
    for contender, ratios in without.items():
        assert ratios["latency_ms_p50"] <= result["ratio"][contender]["latency_ms_p50"]


def test_mirror_memory_counts_bytes_per_key(report: dict[str, Any]) -> None:
    result = report["results"]["mirror_memory"]
    assert result["keys"] == QUICK.big[0] * QUICK.big[1]
    # At least the keys' and values' characters, and not absurdly more.
    assert result["key_and_value_chars_per_key"] < result["bytes_per_key"] < 2000


def test_soak_samples_and_converges(report: dict[str, Any]) -> None:
    soak = report["results"]["soak"]
    assert soak["keys"] == QUICK.soak[0] * QUICK.soak[1]
    assert soak["duration_s"] >= QUICK.soak_seconds and soak["puts"] > 0
    assert soak["samples"] >= 2
    for series in ("rss_mib", "threads", "fds"):
        figures = soak[series]
        assert 0 < figures["min"] <= figures["last"] <= figures["max"]
        assert math.isfinite(figures["growth_per_hour"])
    assert soak["stale_resources"] == 0
