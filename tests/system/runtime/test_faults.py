"""Faults a user meets, with real etcd and real confpy processes: kills mid-write, runaway
templates, two resources on one dest, a dest that is a symlink. Every loop and wait is bounded."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until

# A ~220 KB file whose first and last lines name the value it was rendered from.
BIG_J2 = (
    '{% set v = getv("/v") %}begin {{ v }}\n'
    '{% for i in range(2000) %}{{ i }} {{ v }} {{ "x" * 100 }}\n{% endfor %}'
    "end {{ v }}\n"
)


def big(v: str) -> str:
    return f"begin {v}\n" + "".join(f"{i} {v} {'x' * 100}\n" for i in range(2000)) + f"end {v}\n"


def complete(text: str) -> bool:
    """Whether `text` is the whole render of the value its first line names."""
    return text.startswith("begin ") and text == big(text.split("\n", 1)[0].removeprefix("begin "))


def resource(dest: Path, src: str, prefix: str, extra: str = "") -> str:
    return f'[template]\nsrc = "{src}"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/"]\n{extra}'


def stage_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def watch(tmp: Path, confdir: Path, url: str, *extra: str) -> ConfpyProcess:
    args = ("-watch", "-confdir", str(confdir), "-node", url, "-log-level", "debug", *extra)
    return ConfpyProcess(*args, log_path=tmp / f"confpy-{time.monotonic_ns()}.log")


def onetime(confdir: Path, url: str, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_confpy("-onetime", "-confdir", str(confdir), "-node", url, *extra, timeout=timeout)


# A small parent that reports its child's peak RSS: measured from the test's own (large) process,
# wait4 would report the test's RSS, which Linux carries over into the child's through exec.
_MEASURE = """
import os, subprocess, sys
proc = subprocess.Popen([sys.executable, "-m", "confpy", *sys.argv[1:]])
_, status, usage = os.wait4(proc.pid, 0)
print(f"maxrss={usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(*args: str, timeout: float = 120) -> tuple[int, str, float]:
    """`confpy ARGS` to its end: exit status, stderr, and its peak RSS in MiB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "CONFD_"))}
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    maxrss = int(result.stdout.rsplit("maxrss=", 1)[1])
    return result.returncode, result.stderr, maxrss / 1024


class Putter(threading.Thread):
    """Puts /v = 1, 2, 3, ... until told to stop (bounded in count and time)."""

    def __init__(self, client: Any, key: str) -> None:
        super().__init__(daemon=True)
        self.client, self.key = client, key
        self.stopping = threading.Event()
        self.last = 0

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.stopping.is_set() and self.last < 20_000 and time.monotonic() < deadline:
            self.client.put(self.key, str(self.last + 1))
            self.last += 1
            time.sleep(0.005)


# --- kills mid-write --------------------------------------------------------------------------


def test_sigkills_during_writes_leave_complete_files_and_no_stage_file(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    etcd_client.put(f"{etcd_prefix}/v", "0")
    checked, plain = out / "checked.conf", out / "plain.conf"
    confdir = make_confdir(
        tmp_path,
        {
            # check_cmd needs a named stage file: a kill while it runs leaves one for the next start.
            "checked.toml": resource(checked, "big.j2", etcd_prefix, 'check_cmd = "test -s {{.src}}"\n'),
            "plain.toml": resource(plain, "big.j2", etcd_prefix),
        },
        {"big.j2": BIG_J2},
    )
    putter = Putter(etcd_client, f"{etcd_prefix}/v")
    putter.start()
    rng = random.Random(12)
    left_behind = 0
    try:
        for _ in range(10):
            with watch(tmp_path, confdir, etcd.url) as proc:
                proc.wait_log("has been updated", timeout=30)
                time.sleep(rng.uniform(0.05, 0.6))
                proc.signal(signal.SIGKILL)
                proc.wait()
            left_behind += len(stage_files(out))
            for dest in (checked, plain):
                assert complete(dest.read_text())  # old or new, never partial
    finally:
        putter.stopping.set()
        putter.join(10)
    etcd_client.put(f"{etcd_prefix}/v", "final")
    with watch(tmp_path, confdir, etcd.url) as proc:
        wait_until(lambda: checked.read_text() == plain.read_text() == big("final"), 30, "the final render")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
        print(f"{left_behind} stage files seen after 10 SIGKILLs; the restart removed them")
    assert stage_files(out) == []


HANG_SH = """#!/bin/sh
touch "$1/checking"
while [ -e "$1/hang" ]; do sleep 0.05; done
test -s "$2"
"""


def test_a_double_sigterm_during_check_leaves_a_stage_file_the_next_start_removes(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "hang").touch()
    script = tmp_path / "check.sh"
    script.write_text(HANG_SH)
    etcd_client.put(f"{etcd_prefix}/v", "1")
    dest = out / "app.conf"
    dest.write_text("old\n")
    check = f'check_cmd = "sh {script} {tmp_path} {{{{.src}}}}"\n'
    confdir = make_confdir(
        tmp_path, {"app.toml": resource(dest, "big.j2", etcd_prefix, check)}, {"big.j2": BIG_J2}
    )
    try:
        with watch(tmp_path, confdir, etcd.url) as proc:
            wait_until(lambda: (tmp_path / "checking").exists(), 30, "check_cmd running")
            proc.signal(signal.SIGTERM)
            proc.wait_log("stopping")
            proc.signal(signal.SIGTERM)  # the second one exits at once (os._exit)
            assert proc.wait() == 128 + signal.SIGTERM
        (left,) = stage_files(out)
        assert left.startswith(".app.conf.confpy-")
    finally:
        (tmp_path / "hang").unlink()  # the orphaned check ends
    result = onetime(confdir, etcd.url)
    assert result.returncode == 0, result.stderr
    assert f"app.toml: removed stale stage file {out / left}" in result.stderr
    assert dest.read_text() == big("1") and stage_files(out) == []


def test_kept_stage_files_stay_until_a_run_without_keep_stage_file(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/v", "1")
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "app.conf"
    failing = resource(dest, "ok.j2", etcd_prefix, 'check_cmd = "false"\n')
    confdir = make_confdir(tmp_path, {"app.toml": failing}, {"ok.j2": OK_J2})
    for runs in (1, 2):
        assert onetime(confdir, etcd.url, "-keep-stage-file").returncode == 1
        kept = stage_files(out)
        assert len(kept) == runs and all(name.startswith(".app.conf.confpy-") for name in kept)
    assert onetime(confdir, etcd.url, "-noop").returncode == 0 and stage_files(out) == kept
    (confdir / "conf.d" / "app.toml").write_text(resource(dest, "ok.j2", etcd_prefix))
    result = onetime(confdir, etcd.url)
    assert result.returncode == 0 and stage_files(out) == [], result.stderr
    assert result.stderr.count("removed stale stage file") == 2


# --- runaway templates ------------------------------------------------------------------------

NEVER_J2 = "{% for i in range(10**12) %}{% endfor %}"
NEVER_TMPL = "{{range 1000000000000}}{{end}}"
OK_J2 = 'v={{ getv("/v") }}\n'


def runaway_confdir(tmp: Path, prefix: str, templates: dict[str, str], extra: dict[str, str]) -> Path:
    out = tmp / "out"
    out.mkdir()
    resources = {}
    for src in templates:
        stem = src.split(".")[0]
        (out / f"{stem}.conf").write_text("old\n")
        resources[f"{stem}.toml"] = resource(out / f"{stem}.conf", src, prefix, extra.get(stem, ""))
    return make_confdir(tmp, resources, templates)


def test_never_ending_templates_fail_alone_in_onetime(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/v", "1")
    templates = {"never.j2": NEVER_J2, "nevergo.tmpl": NEVER_TMPL, "ok.j2": OK_J2}
    confdir = runaway_confdir(tmp_path, etcd_prefix, templates, {"never": 'render_timeout = "1s"\n'})
    result = onetime(confdir, etcd.url, "-render-timeout", "2s")
    assert result.returncode == 1, result.stderr
    out = tmp_path / "out"
    errors = [line.split(" ERROR ", 1)[1] for line in result.stderr.splitlines() if " ERROR " in line]
    stopped = "rendering took longer than render_timeout"
    assert errors == [
        f"never.toml: {stopped} (1 s): stopped, {out}/never.conf not changed",
        f"nevergo.toml: {stopped} (2 s): stopped, {out}/nevergo.conf not changed",
        "2 of the template resources failed",
    ]
    assert (out / "ok.conf").read_text() == "v=1\n"
    assert (out / "never.conf").read_text() == (out / "nevergo.conf").read_text() == "old\n"
    assert stage_files(out) == []


def test_a_never_ending_template_in_watch_mode_harms_no_other_resource(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/v", "1")
    templates = {"never.j2": NEVER_J2, "ok.j2": OK_J2}
    confdir = runaway_confdir(tmp_path, etcd_prefix, templates, {"never": 'render_timeout = "500ms"\n'})
    out = tmp_path / "out"
    with watch(tmp_path, confdir, etcd.url) as proc:
        proc.wait_log("never.toml: rendering took longer than render_timeout (500 ms)", timeout=30)
        wait_until(lambda: (out / "ok.conf").read_text() == "v=1\n", 30, "ok.conf rendered")
        etcd_client.put(f"{etcd_prefix}/v", "2")
        wait_until(lambda: (out / "ok.conf").read_text() == "v=2\n", 30, "ok.conf updated")
        wait_until(lambda: proc.log.count("never.toml: rendering took longer") >= 2, 30, "never.toml retried")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    assert (out / "never.conf").read_text() == "old\n"
    assert stage_files(out) == []


HUGE_J2 = '{% for i in range(500000) %}{{ "x" * 999 }}\n{% endfor %}'  # 500 MB
HUGE_TMPL = '{{range 200000}}{{"' + "y" * 999 + '"}}\n{{end}}'  # 200 MB
RSS_LIMIT_MIB = 150  # confpy itself takes ~50 MiB; the outputs here are 200 and 500 MB


def test_an_output_past_the_size_limit_fails_with_bounded_memory(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/v", "1")
    confdir = runaway_confdir(tmp_path, etcd_prefix, {"huge.j2": HUGE_J2, "ok.j2": OK_J2}, {})
    status, stderr, peak = run_measured("-onetime", "-confdir", str(confdir), "-node", etcd.url)
    out = tmp_path / "out"
    assert status == 1, stderr
    assert (
        f"huge.toml: the output is larger than max_output_size (64 MiB): rendering stopped, "
        f"{out}/huge.conf not changed"
    ) in stderr
    assert (out / "huge.conf").read_text() == "old\n" and (out / "ok.conf").read_text() == "v=1\n"
    assert stage_files(out) == []
    assert peak < RSS_LIMIT_MIB, f"peak RSS {peak:.0f} MiB"


def test_large_outputs_stream_to_the_stage_file(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/v", "1")
    templates = {"huge.j2": HUGE_J2, "hugego.tmpl": HUGE_TMPL}
    confdir = runaway_confdir(tmp_path, etcd_prefix, templates, {"huge": 'max_output_size = "600MB"\n'})
    args = ("-onetime", "-confdir", str(confdir), "-node", etcd.url, "-max-output-size", "250MB")
    status, stderr, peak = run_measured(*args)
    out = tmp_path / "out"
    assert status == 0, stderr
    assert (out / "huge.conf").stat().st_size == 500_000_000
    assert (out / "hugego.conf").stat().st_size == 200_000_000
    assert peak < RSS_LIMIT_MIB, f"peak RSS {peak:.0f} MiB"
    print(f"peak RSS {peak:.0f} MiB for a 500 MB and a 200 MB output")


# --- two resources, one dest; a dest that is a symlink ------------------------------------------


def test_two_resources_writing_one_dest_are_refused(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/v", "1")
    out = tmp_path / "out"
    out.mkdir()
    shared = out / "app.conf"
    confdir = make_confdir(
        tmp_path,
        {
            "a.toml": resource(shared, "ok.j2", etcd_prefix),
            "b.toml": resource(shared, "ok.j2", etcd_prefix),
            "c.toml": resource(out / "c.conf", "ok.j2", etcd_prefix),
        },
        {"ok.j2": OK_J2},
    )
    result = onetime(confdir, etcd.url)
    assert result.returncode == 1
    conf = confdir / "conf.d"
    (line,) = [line for line in result.stderr.splitlines() if "is also the dest of" in line]
    assert line.endswith(
        f"ERROR {conf}/a.toml: dest {shared} is also the dest of {conf}/b.toml: "
        "two resources must not write one file (none of them is applied)"
    )
    assert not shared.exists() and (out / "c.conf").read_text() == "v=1\n"
    check = run_confpy("check", "-confdir", str(confdir))
    assert check.returncode == 1 and f"{conf}/a.toml:3: dest {shared} is also the dest of" in check.stderr


def test_a_symlink_dest_is_replaced_with_one_warning(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/v", "1")
    out = tmp_path / "out"
    out.mkdir()
    real, dest = out / "real.conf", out / "app.conf"
    real.write_text("real\n")
    dest.symlink_to(real)
    confdir = make_confdir(tmp_path, {"app.toml": resource(dest, "ok.j2", etcd_prefix)}, {"ok.j2": OK_J2})
    warning = f"app.toml: {dest} is a symlink to {real}: writing replaces the link with a regular file"
    with watch(tmp_path, confdir, etcd.url) as proc:
        proc.wait_log(warning, timeout=30)
        wait_until(lambda: not dest.is_symlink() and dest.read_text() == "v=1\n", 30, "dest replaced")
        dest.unlink()
        dest.symlink_to(real)  # a deploy tool puts the link back
        etcd_client.put(f"{etcd_prefix}/v", "2")
        wait_until(lambda: not dest.is_symlink() and dest.read_text() == "v=2\n", 30, "dest replaced again")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
        assert proc.log.count(f"{dest} is a symlink to") == 1  # once per resource
    assert real.read_text() == "real\n"
