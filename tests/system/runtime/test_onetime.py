"""`confpy -onetime` end to end: a real etcd, the command run as a subprocess, real files."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import make_confdir, run_confpy

UPSTREAM_TOML = """[template]
src = "upstream.conf.j2"
dest = "{dest}"
prefix = "{prefix}"
keys = ["/app/servers", "app/port"]
mode = "0640"
"""

UPSTREAM_J2 = """upstream app {
{%- for s in gets("/app/servers/*") %}
    server {{ s.Value }}:{{ getv("/app/port") }}; # {{ s.Key | base }}
{%- endfor %}
}
"""


@pytest.fixture
def stack(tmp_path: Path, etcd: Any, etcd_prefix: str, etcd_client: Any) -> dict[str, Any]:
    etcd_client.put(f"{etcd_prefix}/app/servers/b", "10.0.0.2")
    etcd_client.put(f"{etcd_prefix}/app/servers/a", "10.0.0.1")
    etcd_client.put(f"{etcd_prefix}/app/port", "8080")
    out = tmp_path / "out"
    out.mkdir()
    return {"tmp": tmp_path, "out": out, "prefix": etcd_prefix, "url": etcd.url, "client": etcd_client}


def onetime(stack: dict[str, Any], confdir: Path, *extra: str) -> Any:
    return run_confpy(
        "-onetime", "-backend", "etcdv3", "-node", stack["url"], "-confdir", str(confdir), *extra
    )


def upstream_confdir(stack: dict[str, Any], **extra_resources: str) -> Path:
    dest = stack["out"] / "upstream.conf"
    resources = {"upstream.toml": UPSTREAM_TOML.format(dest=dest, prefix=stack["prefix"]), **extra_resources}
    return make_confdir(stack["tmp"], resources, {"upstream.conf.j2": UPSTREAM_J2})


def test_renders_like_confd(stack: dict[str, Any]) -> None:
    result = onetime(stack, upstream_confdir(stack))
    assert result.returncode == 0, result.stderr
    dest = stack["out"] / "upstream.conf"
    assert dest.read_text() == (
        "upstream app {\n    server 10.0.0.1:8080; # a\n    server 10.0.0.2:8080; # b\n}\n"
    )
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert "has been updated" in result.stderr
    assert [p.name for p in stack["out"].iterdir()] == ["upstream.conf"]  # no stage file left


def test_flag_spellings_and_global_prefix(stack: dict[str, Any]) -> None:
    dest = stack["out"] / "upstream.conf"
    toml = UPSTREAM_TOML.format(dest=dest, prefix="/")
    confdir = make_confdir(stack["tmp"], {"upstream.toml": toml}, {"upstream.conf.j2": UPSTREAM_J2})
    result = run_confpy(
        "--onetime=true",
        f"--node={stack['url']}",
        f"-confdir={confdir}",
        "-prefix",
        stack["prefix"],
        "-backend=etcd",
        "-log-level=debug",
    )
    assert result.returncode == 0, result.stderr
    assert "server 10.0.0.2:8080" in dest.read_text()


def test_onetime_wins_over_watch_as_in_confd(stack: dict[str, Any]) -> None:
    """confd.go main: OneTime is checked before Watch; confd's integration scripts pass both."""
    result = onetime(stack, upstream_confdir(stack), "-watch")
    assert result.returncode == 0, result.stderr
    assert "server 10.0.0.1:8080;" in (stack["out"] / "upstream.conf").read_text()
    assert "WARNING -onetime and -watch both given: -onetime wins, as in confd" in result.stderr


def test_second_run_is_in_sync_and_runs_no_commands(stack: dict[str, Any]) -> None:
    marker = stack["tmp"] / "reloaded"
    dest = stack["out"] / "upstream.conf"
    toml = UPSTREAM_TOML.format(dest=dest, prefix=stack["prefix"])
    toml += f'reload_cmd = "echo x >> {marker}"\ncheck_cmd = "test -s {{{{.src}}}}"\n'
    confdir = make_confdir(
        stack["tmp"],
        {"upstream.toml": toml},
        {"upstream.conf.j2": UPSTREAM_J2},
    )
    assert onetime(stack, confdir).returncode == 0
    assert marker.read_text() == "x\n"
    again = onetime(stack, confdir, "-log-level", "debug")
    assert again.returncode == 0
    assert "in sync" in again.stderr
    assert marker.read_text() == "x\n"


def test_one_failure_does_not_stop_the_others(stack: dict[str, Any]) -> None:
    bad = {
        "a_broken.toml": "[template\nsrc = 1\n",
        "b_missing.toml": f'[template]\nsrc = "nope.j2"\ndest = "{stack["out"]}/nope"\n',
        "c_nodest.toml": '[template]\nsrc = "upstream.conf.j2"\n',
    }
    result = onetime(stack, upstream_confdir(stack, **bad))
    assert result.returncode == 1
    assert (stack["out"] / "upstream.conf").exists()
    assert "a_broken.toml: invalid TOML" in result.stderr
    assert "b_missing.toml: missing template" in result.stderr and "nope.j2" in result.stderr
    assert "c_nodest.toml: missing required field 'dest'" in result.stderr
    assert "3 of the template resources failed" in result.stderr


def keep_old(stack: dict[str, Any], template: str, toml_extra: str = "") -> tuple[Any, Path]:
    """Run a resource whose dest already holds an old config; return the result and the dest."""
    dest = stack["out"] / "svc.conf"
    dest.write_text("old\n")
    toml = f'[template]\nsrc = "svc.j2"\ndest = "{dest}"\nprefix = "{stack["prefix"]}"\nkeys = ["/app"]\n'
    confdir = make_confdir(stack["tmp"], {"svc.toml": toml + toml_extra}, {"svc.j2": template})
    result = onetime(stack, confdir)
    assert dest.read_text() == "old\n"
    assert sorted(p.name for p in stack["out"].iterdir()) == ["svc.conf"]
    assert result.returncode == 1
    return result, dest


def test_undefined_key_names_key_resource_and_line(stack: dict[str, Any]) -> None:
    result, _ = keep_old(stack, 'a\n{{ getv("/app/port") }}\n{{ getv("/app/nope") }}\n')
    # The template as the resource names it (issue 10: one form); it said the full path before.
    assert "svc.toml: svc.j2:3: key does not exist: /app/nope\n" in result.stderr


def test_template_syntax_error_names_file_and_line(stack: dict[str, Any]) -> None:
    result, _ = keep_old(stack, "ok\n{% for x in %}\n{% endfor %}\n")
    assert "svc.toml: " in result.stderr and "svc.j2:2: template syntax error" in result.stderr


def test_failing_check_cmd_keeps_old_config(stack: dict[str, Any]) -> None:
    result, _ = keep_old(stack, "new\n", 'check_cmd = "echo bad config >&2; exit 3"\n')
    assert "check_cmd" in result.stderr and "bad config" in result.stderr and "3" in result.stderr


def test_hanging_check_cmd_is_killed(stack: dict[str, Any]) -> None:
    result, _ = keep_old(stack, "new\n", 'check_cmd = "sleep 60"\ncheck_cmd_timeout = "1s"\n')
    assert "timed out" in result.stderr


def test_value_that_is_not_utf8(stack: dict[str, Any]) -> None:
    stack["client"].put(f"{stack['prefix']}/app/blob", b"\xff\xfe")
    result, _ = keep_old(stack, "{{ getv('/app/port') }}\n")
    assert f"ERROR svc.toml: value of key {stack['prefix']}/app/blob is not valid UTF-8" in result.stderr


def test_value_that_is_not_utf8_fails_only_the_resources_that_read_it(stack: dict[str, Any]) -> None:
    # The error named neither resource, and no resource ran.
    stack["client"].put(f"{stack['prefix']}/other/blob", b"\xff\xfe")
    other = f'[template]\nsrc = "upstream.conf.j2"\ndest = "{stack["out"]}/o"\nprefix = "{stack["prefix"]}"\n'
    result = onetime(stack, upstream_confdir(stack, **{"other.toml": other + 'keys = ["/other"]\n'}))
    assert result.returncode == 1
    assert f"ERROR other.toml: value of key {stack['prefix']}/other/blob is not valid UTF-8" in result.stderr
    assert "upstream.toml: target config" in result.stderr and (stack["out"] / "upstream.conf").exists()
    assert "1 of the template resources failed" in result.stderr


def test_missing_and_unwritable_dest_dir(stack: dict[str, Any]) -> None:
    missing = stack["out"] / "no" / "such"
    blocker = stack["out"] / "afile"
    blocker.write_text("")
    confdir = make_confdir(
        stack["tmp"],
        {
            "m.toml": f'[template]\nsrc = "t.j2"\ndest = "{missing}/x.conf"\n',
            "u.toml": f'[template]\nsrc = "t.j2"\ndest = "{blocker}/x.conf"\n',
            "z.toml": f'[template]\nsrc = "t.j2"\ndest = "{missing}/y.conf"\ncreate_dest_dir = true\n',
        },
        {"t.j2": "hello\n"},
    )
    result = onetime(stack, confdir)
    assert result.returncode == 1
    assert f"{missing}" in result.stderr and "create_dest_dir" in result.stderr
    assert f"{blocker}" in result.stderr
    assert (missing / "y.conf").read_text() == "hello\n"


def test_unreachable_etcd_fails_in_bounded_time(tmp_path: Path) -> None:
    confdir = make_confdir(
        tmp_path, {"a.toml": '[template]\nsrc = "a.j2"\ndest = "/tmp/never"\nkeys=["/a"]\n'}, {"a.j2": "x"}
    )
    result = run_confpy(
        "-onetime",
        "-node",
        "http://127.0.0.1:1",
        "-confdir",
        str(confdir),
        "-connect-timeout",
        "1s",
        timeout=30,
    )
    assert result.returncode == 1
    assert "127.0.0.1:1" in result.stderr
    assert not Path("/tmp/never").exists()


def test_noop_prints_a_diff_and_writes_nothing(stack: dict[str, Any]) -> None:
    dest = stack["out"] / "upstream.conf"
    dest.write_text("upstream app {\n}\n")
    result = onetime(stack, upstream_confdir(stack), "-noop")
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "upstream app {\n}\n"
    assert "+    server 10.0.0.1:8080; # a" in result.stdout
    assert "\033[" not in result.stdout  # a pipe: plain text
    assert "will not be modified" in result.stderr


def test_noop_diff_is_coloured_on_a_terminal(stack: dict[str, Any]) -> None:
    dest = stack["out"] / "upstream.conf"
    dest.write_text("upstream app {\n}\n")
    args = ("-onetime", "-noop", "-node", stack["url"], "-confdir", str(upstream_confdir(stack)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "CONFD_", "NO_COLOR"))}
    main, terminal = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "confpy", *args],
            stdout=terminal,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
        )
        os.close(terminal)
        terminal = -1
        output = b""
        while select.select([main], [], [], 0)[0]:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(main)
        if terminal >= 0:
            os.close(terminal)
    assert proc.returncode == 0, proc.stderr
    text = output.decode().replace("\r\n", "\n")
    assert "\033[32m+    server 10.0.0.1:8080; # a\033[0m\n" in text
    assert "\033[1m--- " in text and "\033[36m@@ " in text
    assert dest.read_text() == "upstream app {\n}\n"


def test_sync_only_runs_no_commands(stack: dict[str, Any]) -> None:
    extra = 'check_cmd = "false"\nreload_cmd = "false"\n'
    dest = stack["out"] / "upstream.conf"
    confdir = make_confdir(
        stack["tmp"],
        {"upstream.toml": UPSTREAM_TOML.format(dest=dest, prefix=stack["prefix"]) + extra},
        {"upstream.conf.j2": UPSTREAM_J2},
    )
    assert onetime(stack, confdir).returncode == 1
    assert not dest.exists()
    result = onetime(stack, confdir, "-sync-only")
    assert result.returncode == 0, result.stderr
    assert dest.exists()


def test_failing_reload_is_an_error_but_dest_is_updated(stack: dict[str, Any]) -> None:
    dest = stack["out"] / "upstream.conf"
    confdir = make_confdir(
        stack["tmp"],
        {
            "upstream.toml": UPSTREAM_TOML.format(dest=dest, prefix=stack["prefix"])
            + 'reload_cmd = "exit 7"\n'
        },
        {"upstream.conf.j2": UPSTREAM_J2},
    )
    result = onetime(stack, confdir)
    assert result.returncode == 1
    assert "reload_cmd" in result.stderr and "7" in result.stderr
    assert "10.0.0.1" in dest.read_text()


def test_env_backend(tmp_path: Path) -> None:
    dest = tmp_path / "env.conf"
    confdir = make_confdir(
        tmp_path,
        {"e.toml": f'[template]\nsrc = "e.j2"\ndest = "{dest}"\nkeys = ["/myapp/db"]\n'},
        {"e.j2": '{{ getv("/myapp/db/host") }}:{{ getv("/myapp/db/port", "5432") }}\n'},
    )
    result = run_confpy("-onetime", "-backend", "env", "-confdir", str(confdir), env={"MYAPP_DB_HOST": "db1"})
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "db1:5432\n"


def test_file_backend(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text("app:\n  hosts:\n    - a\n    - b\n  debug: true\n")
    dest = tmp_path / "file.conf"
    confdir = make_confdir(
        tmp_path,
        {"f.toml": f'[template]\nsrc = "f.j2"\ndest = "{dest}"\nkeys = ["/app"]\n'},
        {"f.j2": '{{ getvs("/app/hosts/*") | join(",") }} {{ getv("/app/debug") }}\n'},
    )
    result = run_confpy("-onetime", "-backend", "file", "-file", str(data), "-confdir", str(confdir))
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "a,b true\n"


def test_version_and_help() -> None:
    version = run_confpy("-version")
    assert version.returncode == 0 and version.stdout.startswith("confpy ")
    helptext = run_confpy("--help")
    assert helptext.returncode == 0 and "-onetime" in helptext.stdout


def test_bad_flag_values_exit_2_with_a_message(tmp_path: Path) -> None:
    result = run_confpy("-onetime", "-backend", "consul", "-confdir", str(tmp_path))
    assert result.returncode == 2
    assert "not supported by confpy" in result.stderr


def test_resource_file_mode_is_kept_without_mode(stack: dict[str, Any]) -> None:
    dest = stack["out"] / "svc.conf"
    dest.write_text("old\n")
    os.chmod(dest, 0o600)
    toml = f'[template]\nsrc = "svc.j2"\ndest = "{dest}"\n'
    confdir = make_confdir(stack["tmp"], {"svc.toml": toml}, {"svc.j2": "new\n"})
    assert onetime(stack, confdir).returncode == 0
    assert dest.read_text() == "new\n" and stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_go_template_bytes_that_are_not_utf8_are_written_as_confd_writes_them(stack: dict[str, Any]) -> None:
    """Go strings are bytes: slicing a multibyte character, or base64Decode of binary data (a
    keystore kept in etcd), writes those bytes; -noop shows them as U+FFFD. (Was a traceback.)"""
    stack["client"].put(f"{stack['prefix']}/app/blob", "/+8=")
    dest = stack["out"] / "blob.bin"
    toml = f'[template]\nsrc = "blob.tmpl"\ndest = "{dest}"\nprefix = "{stack["prefix"]}"\nkeys = ["/app"]\n'
    template = '{{slice "é" 1}}|{{base64Decode (getv "/app/blob")}}'
    confdir = make_confdir(stack["tmp"], {"blob.toml": toml}, {"blob.tmpl": template})
    result = onetime(stack, confdir, "-noop")
    assert result.returncode == 0, result.stderr
    assert "+\ufffd|\ufffd\ufffd" in result.stdout
    result = onetime(stack, confdir)
    assert result.returncode == 0, result.stderr
    assert dest.read_bytes() == b"\xa9|\xff\xef"
