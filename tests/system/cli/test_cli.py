"""The command line as users type it: subcommands, flag spellings, the installed script."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.helpers import make_confdir, run_confpy, wait_until


def test_unknown_flags_are_named_whole_as_go_names_them() -> None:
    # click alone would read `-nodes` as `-n -o -d -e -s` and say "No such option: -n".
    cases = [
        (["-nodes", "http://x"], "flag provided but not defined: -nodes (did you mean -node?)"),
        (["-loglevel", "debug"], "flag provided but not defined: -loglevel (did you mean -log-level?)"),
        (["-onetime", "-bogus"], "flag provided but not defined: -bogus\n"),
        (["check", "-confdirr", "/x"], "flag provided but not defined: -confdirr (did you mean -confdir?)"),
        (
            ["exec", "-nodez", "a", "--", "true"],
            "flag provided but not defined: -nodez (did you mean -node?)",
        ),
        # The value of -prefix is not a flag, even when it starts with a dash; -x is the unknown one.
        (["-prefix", "-nodes", "-x"], "flag provided but not defined: -x\n"),
        # Two-letter and double-dash flags read the same (click said "No such option: -v").
        (["-v"], "flag provided but not defined: -v (did you mean -version?)"),
        (["--foo"], "flag provided but not defined: -foo (did you mean -noop?)"),
        (["-onetime", "-node"], "flag needs an argument: -node"),
    ]
    for args, message in cases:
        result = run_confpy(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Try 'confpy" in result.stderr and "No such option" not in result.stderr


def test_help_lists_the_help_flags_in_one_order_whatever_the_hash_seed() -> None:
    # click keeps them in a set: without the fix, some of these seeds print "-help, -h, --help".
    for command in ([], ["check"]):
        lines = set()
        for seed in range(6):
            result = run_confpy(*command, "--help", env={"PYTHONHASHSEED": str(seed)})
            assert result.returncode == 0, result.stderr
            lines |= {" ".join(line.split()[:3]) for line in result.stdout.splitlines() if "-help" in line}
        assert lines == {"-h, -help, --help"}, lines


def test_help_imports_only_the_settings_table() -> None:
    """`confpy --help` needs the flags' table, not what reading confd.toml or a run needs."""
    shown = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "confpy", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = {
        line.rpartition("|")[2].strip().split(".")[0]
        for line in shown.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "typer" in loaded
    assert not loaded & {"tomllib", "contextvars", "jinja2", "pyetcd", "grpc", "yaml", "confpy.ops.metrics"}


_MODULES_AT_EXIT = (
    "import atexit, sys; atexit.register(lambda: print(sorted(sys.modules), file=sys.stderr)); "
    "import runpy; runpy.run_module('confpy', run_name='__main__', alter_sys=True)"
)


def test_a_run_parses_its_flags_without_typer_or_click(tmp_path: Path) -> None:
    """confd's command line is parsed by Go's rules alone (confpy.cli.main): typer and click are
    ~30 ms of a `-onetime` over the http transport. The subcommands and help still go through them.
    (inspect, which typer also needs, stays: the standard library's dataclasses import it.)"""
    dest = tmp_path / "out.conf"
    resource = f'[template]\nsrc = "app.tmpl"\ndest = "{dest}"\nkeys = ["/app"]\n'
    confdir = str(make_confdir(tmp_path, {"app.toml": resource}, {"app.tmpl": '{{getv "/app/name"}}\n'}))
    for args, through_typer in (
        (["-onetime", "-backend", "env", "-confdir", confdir, "-node=x", "--noop=false"], False),
        (["-version"], False),
        (["-onetime", "-backend", "env", "-confdir", confdir, "-h"], True),
        (["check", "-confdir", confdir], True),
    ):
        done = subprocess.run(
            [sys.executable, "-c", _MODULES_AT_EXIT, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"APP_NAME": "web", "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        modules = {name.split(".")[0] for name in ast.literal_eval(done.stderr.strip().splitlines()[-1])}
        assert bool(modules & {"typer", "click"}) is through_typer, args
    assert dest.read_text() == "web\n"


def test_a_reader_gone_is_exit_1_without_a_traceback() -> None:
    """As click says it (the run path, without click, printed BrokenPipeError's traceback)."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "confpy", "-version"],
            stdout=write, stderr=subprocess.PIPE, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (1, "")


def test_installed_script_and_module_agree() -> None:
    script = Path(sys.executable).parent / "confpy"
    found = str(script) if script.exists() else shutil.which("confpy")
    assert found, "the confpy script is not installed"
    out = subprocess.run([found, "-version"], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0
    assert out.stdout == run_confpy("--version").stdout


def test_convert_prints_jinja_and_reports_problems(tmp_path: Path) -> None:
    good = tmp_path / "good.tmpl"
    good.write_text('{{range gets "/app/*"}}{{.Key}}={{.Value}}\n{{end}}')
    result = run_confpy("convert", str(good))
    assert result.returncode == 0, result.stderr
    assert "{% for" in result.stdout and "gets(" in result.stdout
    hard = tmp_path / "hard.tmpl"
    hard.write_text("{{range $i := seq 1 3}}{{if eq $i 2}}{{break}}{{end}}{{$i}}{{end}}\n")
    result = run_confpy("convert", str(hard))
    assert result.returncode == 1
    assert f"{hard}:1:" in result.stderr
    broken = tmp_path / "broken.tmpl"
    broken.write_text("{{if}}")
    result = run_confpy("convert", str(broken))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "broken.tmpl" in result.stderr


def test_convert_reports_in_the_log_format(tmp_path: Path) -> None:
    # It printed bare lines ("confpy: ...", "FILE:LINE: ..."), and a traceback for a file not UTF-8.
    hard = tmp_path / "hard.tmpl"
    hard.write_text("{{range $i := seq 1 3}}{{if eq $i 2}}{{break}}{{end}}{{$i}}{{end}}\n")
    binary = tmp_path / "binary.tmpl"
    binary.write_bytes(b"\xff{{.}}")
    cases = [
        (hard, f"{hard}:1: "),
        (binary, f"{binary}: not UTF-8 text (byte 0 is 0xff)"),
        (tmp_path / "no", "no: "),
    ]
    for path, message in cases:
        result = run_confpy("convert", str(path))
        assert result.returncode == 1
        (line,) = [line for line in result.stderr.splitlines() if line]
        assert re.match(r"^\S+ \S+ confpy\[\d+\]: ERROR ", line) and message in line, line
        result = run_confpy("convert", "-log-format", "json", str(path))
        record = json.loads(result.stderr)
        assert record["level"] == "error" and message in record["msg"], result.stderr


def test_check_command(tmp_path: Path) -> None:
    toml = '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\nkeys = ["/app"]\n'
    good = make_confdir(tmp_path / "good", {"a.toml": toml}, {"a.j2": "{{ getv('/app/x') }}\n"})
    result = run_confpy("check", "-confdir", str(good))
    assert result.returncode == 0, result.stderr
    bad = make_confdir(tmp_path / "bad", {"a.toml": toml}, {"a.j2": "{{ getv('/other/x') }}\n"})
    result = run_confpy("check", "-confdir", str(bad))
    assert result.returncode == 1
    assert "a.j2:1:" in result.stderr and "/other/x" in result.stderr
    data = tmp_path / "data.yaml"
    data.write_text("app:\n  x: hello\n")
    result = run_confpy("check", "-confdir", str(good), "--data", str(data))
    assert result.returncode == 0 and "hello" in result.stdout


def test_interval_says_which_forms_it_accepts(tmp_path: Path) -> None:
    forms = ("60", "500ms", "1m30s")
    help_text = " ".join(run_confpy("--help").stdout.split())
    assert (
        "-interval, --interval DURATION time between full re-reads: 60 (seconds), 500ms or 1m30s" in help_text
    )
    for bad in ("abc", "0"):
        result = run_confpy("-onetime", "-interval", bad, "-confdir", str(tmp_path))
        assert result.returncode == 2, result.stderr
        assert all(form in result.stderr for form in forms), result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr


# What a run imports beyond the standard library and confpy's core, by the resources it has.
_OPTIONAL = {
    "jinja2",
    "yaml",
    "confpy.ops.metrics",
    "watchdog",
    "dns",
    "confpy.engines.go",
    "confpy.engines.jinja",
}


_IMPORTTIME = [sys.executable, "-X", "importtime", "-m", "confpy"]


def _imported(stderr: str) -> set[str]:
    """The optional modules in `python -X importtime`'s report (on stderr)."""
    names = {
        line.rpartition("|")[2].strip() for line in stderr.splitlines() if line.startswith("import time:")
    }
    return {name for name in _OPTIONAL if name in names or name in {n.split(".")[0] for n in names}}


def _lean_confdir(tmp_path: Path, etcd_prefix: str, src: str, template: str) -> Path:
    dest = tmp_path / "out.conf"
    resource = f'[template]\nsrc = "{src}"\ndest = "{dest}"\nprefix = "{etcd_prefix}"\nkeys = ["/"]\n'
    return make_confdir(tmp_path, {"app.toml": resource}, {src: template})


def test_onetime_imports_only_the_engine_its_resources_use(
    tmp_path: Path, etcd: Any, etcd_client: Any, etcd_prefix: str
) -> None:
    """A confd confdir (.tmpl) never needs Jinja2, and no -onetime needs watchdog, the metrics server,
    yaml (file backend) or dnspython (lookupSRV); a Jinja2 one never needs the Go engine."""
    etcd_client.put(f"{etcd_prefix}/a", "1")
    for src, template, engine in (
        ("app.tmpl", '{{getv "/a"}}\n', "confpy.engines.go"),
        ("app.j2", '{{ getv("/a") }}\n', "confpy.engines.jinja"),
    ):
        confdir = _lean_confdir(tmp_path / src, etcd_prefix, src, template)
        done = subprocess.run(
            [*_IMPORTTIME, "-onetime", "-backend", "etcdv3", "-node", etcd.url, "-confdir", str(confdir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert (tmp_path / src / "out.conf").read_text() == "1\n"
        want = {engine, "jinja2"} if src.endswith(".j2") else {engine}
        assert _imported(done.stderr) == want


def test_onetime_over_the_etcd_http_transport_imports_no_grpc(
    tmp_path: Path, etcd: Any, etcd_client: Any, etcd_prefix: str
) -> None:
    """`-etcd-transport http` reads through etcd's JSON gateway with the standard library: neither
    grpc nor the etcd client's stubs are loaded (sys.modules at exit, in the subprocess)."""
    etcd_client.put(f"{etcd_prefix}/a", "1")
    confdir = _lean_confdir(tmp_path, etcd_prefix, "app.tmpl", '{{getv "/a"}}\n')
    report = "import atexit, sys; atexit.register(lambda: print(sorted(sys.modules), file=sys.stderr))"
    run = f"{report}; import runpy; runpy.run_module('confpy', run_name='__main__', alter_sys=True)"
    for transport, loaded in (("grpc", True), ("http", False)):
        done = subprocess.run(
            [sys.executable, "-c", run, "-onetime", "-etcd-transport", transport, "-node", etcd.url,
             "-confdir", str(confdir)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert (tmp_path / "out.conf").read_text() == "1\n"
        modules = set(ast.literal_eval(done.stderr.strip().splitlines()[-1]))
        assert ("grpc" in modules and "pyetcd.etcdrpc" in modules) is loaded, transport


def test_watch_without_metrics_addr_imports_no_metrics_server(
    tmp_path: Path, etcd: Any, etcd_client: Any, etcd_prefix: str
) -> None:
    etcd_client.put(f"{etcd_prefix}/a", "1")
    confdir = _lean_confdir(tmp_path, etcd_prefix, "app.tmpl", '{{getv "/a"}}\n')
    log = tmp_path / "stderr"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            [*_IMPORTTIME, "-watch", "-backend", "etcdv3", "-node", etcd.url, "-confdir", str(confdir)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            wait_until(lambda: (tmp_path / "out.conf").exists(), what="the first render")
        finally:
            proc.terminate()
            assert proc.wait(30) == 0
    # watchdog watches the confdir for hot reload in watch mode.
    assert _imported(log.read_text()) == {"confpy.engines.go", "watchdog"}
