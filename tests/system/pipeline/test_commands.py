"""check_cmd / reload_cmd: placeholder expansion, and real subprocesses that fail, hang or linger."""

from __future__ import annotations

import logging
import os
import re
import signal
import time
from pathlib import Path

import pytest

from confpy.config.placeholders import expand_command
from confpy.errors import CommandError, ConfigError
from confpy.pipeline import commands
from confpy.pipeline.commands import CommandResult, run_command


def _running_in_group(pgid: int) -> list[int]:
    """Pids of the group's processes that are still running (zombies nobody reaps do not count)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_bytes().rpartition(b")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            pids.append(int(entry))
    return pids


def _read_pid(path: Path) -> int:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.endswith("\n"):
            return int(text)
        time.sleep(0.01)
    raise AssertionError(f"{path} was never written")


# --- expand_command ---------------------------------------------------------------------------


@pytest.mark.parametrize("src", ["{{.src}}", "{{ .src }}", "{{src}}", "{{ src }}"])
@pytest.mark.parametrize("dest", ["{{.dest}}", "{{ .dest }}", "{{dest}}", "{{ dest }}"])
def test_expand_every_spelling(src: str, dest: str) -> None:
    assert expand_command(f"cmp {src} {dest}", src="/a/s", dest="/b/d") == "cmp /a/s /b/d"


def test_expand_quotes_paths_for_the_shell() -> None:
    expanded = expand_command("nginx -t -c {{.src}}", src="/etc/my app's $(reboot).conf", dest=None)
    assert expanded == "nginx -t -c '/etc/my app'\"'\"'s $(reboot).conf'"


def test_expanded_path_runs_as_one_argument(tmp_path: Path) -> None:
    path = tmp_path / "a b'c $(touch pwned)"
    path.write_text("payload\n")
    result = run_command(expand_command("cat {{.src}}", src=str(path), dest=None), timeout=10, what="t")
    assert result.output == "payload\n"
    assert not Path("pwned").exists() and not (tmp_path / "pwned").exists()


def test_values_are_not_expanded_again() -> None:
    assert expand_command("echo {{.src}}", src="/x/{{.dest}}", dest="/y") == "echo '/x/{{.dest}}'"


def test_commands_without_placeholders_are_unchanged() -> None:
    command = "awk '{print $1}' /etc/hosts | grep -c '{'"
    assert expand_command(command, src="/s", dest="/d") == command


@pytest.mark.parametrize(
    "command", ['echo {{ getv "/password" }}', "echo {{.Key}}", "echo {{}}", "echo {{ .src | upper }}"]
)
def test_any_other_placeholder_is_refused(command: str) -> None:
    with pytest.raises(ConfigError, match=re.escape("only {{.src}} and {{.dest}} are allowed")) as info:
        expand_command(command, src="/s", dest="/d")
    assert command in str(info.value)


def test_placeholder_without_a_value_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"'\{\{ src \}\}' has no value"):
        expand_command("cat {{ src }}", src=None, dest="/d")


# --- run_command ------------------------------------------------------------------------------


def test_success_captures_stdout_and_stderr_together() -> None:
    result = run_command("echo out; echo err >&2; echo again", timeout=10, what="reload_cmd for a.toml")
    assert isinstance(result, CommandResult)
    assert result.output == "out\nerr\nagain\n"
    assert result.returncode == 0
    assert result.command == "echo out; echo err >&2; echo again"
    assert 0 < result.duration < 10


def test_failure_names_what_command_status_and_output() -> None:
    with pytest.raises(CommandError) as info:
        run_command(
            "echo 'nginx: [emerg] unknown directive' >&2; exit 3", timeout=10, what="check_cmd for x.toml"
        )
    message = str(info.value)
    assert message.startswith("check_cmd for x.toml failed (exit status 3): echo ")
    assert message.endswith("\nnginx: [emerg] unknown directive")


def test_death_by_signal_is_reported() -> None:
    with pytest.raises(CommandError, match=r"killed by signal SIGKILL"):
        run_command("kill -KILL $$", timeout=10, what="check_cmd for x.toml")


def test_env_adds_to_the_environment() -> None:
    result = run_command(
        'echo "$CONFPY_TEST" && command -v sh', timeout=10, what="t", env={"CONFPY_TEST": "v"}
    )
    assert result.output.splitlines()[0] == "v"
    assert result.output.splitlines()[1].endswith("/sh")


def test_huge_output_neither_blocks_nor_floods_the_message() -> None:
    result = run_command("head -c 3000000 /dev/zero | tr '\\0' a", timeout=30, what="t")
    assert len(result.output) == commands.OUTPUT_CAP
    with pytest.raises(CommandError) as info:
        run_command("head -c 100000 /dev/zero | tr '\\0' b; exit 1", timeout=30, what="t")
    message = str(info.value)
    assert "characters omitted" in message
    assert len(message) < 3 * commands.MESSAGE_OUTPUT


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    command = f"echo $$ > {pidfile}; echo started; sleep 100 & sleep 100"
    start = time.monotonic()
    with pytest.raises(CommandError) as info:
        run_command(command, timeout=0.5, what="check_cmd for x.toml")
    elapsed = time.monotonic() - start
    assert str(info.value) == f"check_cmd for x.toml timed out after 0.5 s and was killed: {command}\nstarted"
    assert elapsed < 0.5 + commands.KILL_GRACE
    assert _running_in_group(_read_pid(pidfile)) == []


def test_timeout_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    command = f"trap '' TERM; echo $$ > {pidfile}; sleep 100 & sleep 100"
    start = time.monotonic()
    with pytest.raises(CommandError, match=re.escape("timed out after 0.3 s")):
        run_command(command, timeout=0.3, what="t")
    elapsed = time.monotonic() - start
    assert commands.KILL_GRACE <= elapsed < commands.KILL_GRACE + 5
    assert _running_in_group(_read_pid(pidfile)) == []


def test_background_child_holding_the_pipe_does_not_hang(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pidfile = tmp_path / "pid"
    caplog.set_level(logging.WARNING, logger="confpy")
    start = time.monotonic()
    try:
        result = run_command(
            f"sleep 100 & echo $! > {pidfile}; echo reloaded", timeout=30, what="reload_cmd for x.toml"
        )
        elapsed = time.monotonic() - start
        assert result.output == "reloaded\n"
        assert elapsed < 5
        assert any(
            r.getMessage().startswith("reload_cmd for x.toml: the command exited but a background process")
            for r in caplog.records
        )
        # A successful command's background processes (a daemon it started) are left alone.
        child = _read_pid(pidfile)
        assert child in _running_in_group(os.getpgid(child))
    finally:
        os.kill(_read_pid(pidfile), signal.SIGKILL)
