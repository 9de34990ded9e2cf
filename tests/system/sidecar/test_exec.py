"""`confpy exec` as a container entrypoint: real etcd, real child processes, real signals.

The child is a small sh script that records what it saw (the file at start, signals it got) in
files the test reads; every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, voluntary_switches, wait_until

# Traps first, then a copy of the config it starts with; HUP and USR1 copy the config again; TERM
# leaves a marker and exits 7; writing a status to `exit` makes it exit with that status, once the
# file is not empty (write_text creates it before it writes: `exit ""` is status 2). It gives up
# after about a minute, so that a failed test leaves no process behind for long.
CHILD = """\
trap 'cp {dest} {tmp}/hup' HUP
trap 'cp {dest} {tmp}/usr1' USR1
trap 'touch {tmp}/term; exit 7' TERM
cp {dest} {tmp}/seen
i=0
while [ ! -s {tmp}/exit ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
exit "$(cat {tmp}/exit)"
"""


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def setup(tmp: Path, prefix: str, extra: str = "", template: str = 'db={{ getv("/db") }}\n') -> Path:
    """A confdir with one resource (`app.toml` -> tmp/app.conf) and the child script."""
    dest = tmp / "app.conf"
    toml = f'[template]\nsrc = "app.j2"\ndest = "{dest}"\nprefix = "{prefix}"\nkeys = ["/"]\n{extra}'
    confdir = make_confdir(tmp, {"app.toml": toml}, {"app.j2": template})
    (tmp / "child.sh").write_text(CHILD.format(dest=dest, tmp=tmp))
    return confdir


def confpy_exec(tmp: Path, url: str, *options: str) -> ConfpyProcess:
    args = (
        "exec",
        "-node",
        url,
        "-confdir",
        str(tmp / "confdir"),
        *options,
        "--",
        "sh",
        str(tmp / "child.sh"),
    )
    return ConfpyProcess(*args, log_path=tmp / "confpy.log")


def test_first_render_comes_before_the_command_then_reload_cmd_on_change(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/db", "one")
    reloads = tmp_path / "reloads"
    setup(tmp_path, etcd_prefix, f'reload_cmd = "cat {{{{.dest}}}} >> {reloads}"\n')
    with confpy_exec(tmp_path, etcd.url) as proc:
        wait_until(lambda: read(tmp_path / "seen") == "db=one\n", what="the command read its config")
        assert not reloads.exists()  # nothing to reload before the command ran
        etcd_client.put(f"{etcd_prefix}/db", "two")
        wait_until(lambda: read(reloads) == "db=two\n", what="reload_cmd after a change")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 7
        assert (tmp_path / "term").exists()
        assert "forwarded SIGTERM" in proc.log


def test_reload_signal_replaces_reload_cmd(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/db", "one")
    marker = tmp_path / "reload_cmd_ran"
    setup(tmp_path, etcd_prefix, f'reload_cmd = "touch {marker}"\n')
    with confpy_exec(tmp_path, etcd.url, "-reload-signal", "USR1") as proc:
        wait_until(lambda: (tmp_path / "seen").exists())
        etcd_client.put(f"{etcd_prefix}/db", "two")
        wait_until(lambda: read(tmp_path / "usr1") == "db=two\n", what="USR1 after the change")
        assert not marker.exists()
        (tmp_path / "exit").write_text("0")
        assert proc.wait() == 0


def test_sighup_is_forwarded_and_re_renders(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/db", "one")
    confdir = setup(tmp_path, etcd_prefix)
    with confpy_exec(tmp_path, etcd.url) as proc:
        wait_until(lambda: (tmp_path / "seen").exists())
        (confdir / "templates" / "app.j2").write_text('database={{ getv("/db") }}\n')
        proc.signal(signal.SIGHUP)
        wait_until(lambda: (tmp_path / "hup").exists(), what="SIGHUP forwarded")
        wait_until(lambda: read(tmp_path / "app.conf") == "database=one\n", what="re-render on SIGHUP")
        (tmp_path / "exit").write_text("0")
        assert proc.wait() == 0


def test_the_supervisor_sleeps_while_nothing_happens(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    """The main thread woke every second to reap (issue 16: a sidecar fleet's idle wake-ups); now
    signals wake it, SIGCHLD included. Counted, not timed: 3 s leave a sleeping thread's count
    where it was, and would add 3 to a 1 s clock's."""
    etcd_client.put(f"{etcd_prefix}/db", "one")
    setup(tmp_path, etcd_prefix)
    with confpy_exec(tmp_path, etcd.url) as proc:
        wait_until(lambda: (tmp_path / "seen").exists(), what="the command started")
        time.sleep(0.5)  # the first render's workers and the command's start settle
        before = voluntary_switches(proc.proc.pid)
        time.sleep(3.0)
        assert voluntary_switches(proc.proc.pid) - before <= 1
        (tmp_path / "exit").write_text("4")
        assert proc.wait() == 4  # and the command's end still wakes it at once


def test_a_restart_the_command_ignores_gets_its_sigkill_on_time(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supervisor (on this test's main thread) sleeps until the SIGKILL a restart has due: the
    worker that started the restart wakes it, and it wakes again when KILL_AFTER has passed."""
    from confpy.config.settings import Settings
    from confpy.sidecar import child as child_module
    from confpy.sidecar.child import Child
    from confpy.sidecar.exec import ExecSupervisor

    monkeypatch.setattr(child_module, "KILL_AFTER", 0.3)
    per_resource(tmp_path, etcd_prefix, {"rst": 'on_change = "restart"\n'})
    etcd_client.put(f"{etcd_prefix}/rst/v", "1")
    starts = tmp_path / "starts"
    # An ignored signal stays ignored across exec: sleep itself ignores the restart's SIGTERM.
    child = Child(["sh", "-c", f"trap '' TERM; echo $$ >> {starts}; exec sleep 30"])
    settings = Settings(confdir=tmp_path / "confdir", nodes=(etcd.url,), watch=True)
    supervisor = ExecSupervisor(settings, child, [], {}, 15, None)

    def change_then_end() -> None:
        try:
            wait_until(lambda: len(read(starts).split()) == 1, what="the first start")
            etcd_client.put(f"{etcd_prefix}/rst/v", "2")
            wait_until(lambda: len(read(starts).split()) == 2, what="the start after the SIGKILL")
        finally:
            for pid in read(starts).split()[-1:]:
                os.kill(int(pid), signal.SIGKILL)  # the end of the run: status 128+9

    helper = threading.Thread(target=change_then_end, daemon=True)
    helper.start()
    assert supervisor.run() == 128 + 9
    helper.join(5)
    first, second = read(starts).split()
    assert first != second and read(tmp_path / "rst.conf") == "v=2\n"


@pytest.mark.parametrize(("how", "status"), [("exit 3", 3), ("kill -KILL $$", 128 + 9)])
def test_the_command_ending_ends_confpy_with_its_status_and_deregisters(
    tmp_path: Path,
    etcd: EtcdServer,
    etcd_prefix: str,
    etcd_client: Any,
    how: str,
    status: int,
    transport: list[str],
) -> None:
    etcd_client.put(f"{etcd_prefix}/db", "one")
    setup(tmp_path, etcd_prefix)
    (tmp_path / "child.sh").write_text(f"sleep 0.5\n{how}\n")
    key = f"{etcd_prefix}/services/web"
    options = ("-register", f"{key}=10.0.0.5:80", "-ttl", "30", *transport)
    with confpy_exec(tmp_path, etcd.url, *options) as proc:
        assert proc.wait() == status
        assert "deregistered" in proc.log
    assert etcd_client.get(key)[0] is None


def test_first_render_failure_is_fatal(tmp_path: Path, etcd: EtcdServer, etcd_prefix: str) -> None:
    setup(tmp_path, etcd_prefix)  # /db does not exist
    with confpy_exec(tmp_path, etcd.url) as proc:
        assert proc.wait() == 1
        assert "the first render failed for app.toml" in proc.log
        assert "key does not exist" in proc.log
    assert not (tmp_path / "seen").exists()


def test_registers_then_waits_for_keys_before_rendering(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any, transport: list[str]
) -> None:
    setup(tmp_path, etcd_prefix)
    me = f"{etcd_prefix}/services/me"
    options = ("-register", f"{me}=10.0.0.5", "-wait-for", f"{etcd_prefix}/db", "-ttl", "10", *transport)
    with confpy_exec(tmp_path, etcd.url, *options) as proc:
        proc.wait_log(f"waiting for {etcd_prefix}/db")
        wait_until(lambda: etcd_client.get(me)[0] == b"10.0.0.5", what="registered while waiting")
        assert not (tmp_path / "seen").exists()
        etcd_client.put(f"{etcd_prefix}/db", "one")
        wait_until(lambda: read(tmp_path / "seen") == "db=one\n", what="started once the key exists")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 7
    assert etcd_client.get(me)[0] is None


def test_sigterm_while_waiting_stops_without_a_command(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    setup(tmp_path, etcd_prefix)
    me = f"{etcd_prefix}/services/me"
    options = ("-register", f"{me}=x", "-wait-for", f"{etcd_prefix}/never")
    with confpy_exec(tmp_path, etcd.url, *options) as proc:
        proc.wait_log("waiting for")
        wait_until(lambda: etcd_client.get(me)[0] is not None)
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 128 + signal.SIGTERM
    assert etcd_client.get(me)[0] is None
    assert not (tmp_path / "seen").exists()


def test_bad_commands_and_flags(tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any) -> None:
    etcd_client.put(f"{etcd_prefix}/db", "one")
    confdir = setup(tmp_path, etcd_prefix)
    base = ("exec", "-node", etcd.url, "-confdir", str(confdir))
    result = run_confpy(*base, "--", str(tmp_path / "no-such-program"))
    assert result.returncode == 127
    assert "cannot start no-such-program" in result.stderr
    result = run_confpy(*base, "-reload-signal", "NOPE", "--", "true")
    assert result.returncode == 2 and "unknown signal 'NOPE'" in result.stderr
    result = run_confpy(*base, "-backend", "env", "-register", "/k=v", "--", "true")
    assert result.returncode == 2 and "needs the etcd backend" in result.stderr
    # A confdir without conf.d is bad configuration too (it exited 1), and the command never starts.
    marker = tmp_path / "started"
    result = run_confpy(
        "exec", "-backend", "env", "-confdir", str(tmp_path / "nope"), "--", "touch", str(marker)
    )
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.count("\n") == 1
        and "conf.d: template resource directory does not exist" in result.stderr
    )
    assert not marker.exists()
    # The command's own arguments are never taken for confpy's (`-watch=true` is not rewritten).
    result = run_confpy(*base, "--", "sh", "-c", 'test "$1" = -watch=true', "sh", "-watch=true")
    assert result.returncode == 0, result.stderr


# As PID 1: orphans the command leaves are reaped, and a failing reload_cmd still fails: the
# reaper must not take its exit status from subprocess. The command keeps making orphans, so the
# reaper runs every few milliseconds, while subprocess looks at the reload_cmd every 50 ms (its
# background `sleep` keeps the output open).
PID1_CHILD = """\
cp {dest} {tmp}/seen
for i in 1 2 3; do sh -c 'sleep 0.2 & echo $! >> {tmp}/orphans'; done
while [ ! -e {tmp}/exit ]; do sh -c 'true &'; sleep 0.01; done
sleep 1.5
for pid in $(cat {tmp}/orphans); do [ -e /proc/$pid ] && echo $pid; done > {tmp}/zombies
exit 5
"""


def test_as_pid_1_reaps_orphans_and_keeps_statuses(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    unshare = shutil.which("unshare")
    if (
        unshare is None
        or subprocess.run([unshare, "--pid", "--kill-child", "--mount-proc", "true"]).returncode
    ):
        pytest.skip("cannot make a PID namespace here (unshare missing or not permitted)")
    etcd_client.put(f"{etcd_prefix}/db", "one")
    confdir = setup(tmp_path, etcd_prefix, 'reload_cmd = "sleep 1 & exit 3"\n')
    (tmp_path / "child.sh").write_text(PID1_CHILD.format(dest=tmp_path / "app.conf", tmp=tmp_path))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "CONFD_"))}
    # --kill-child: if the test kills unshare, the namespace's PID 1 (confpy) and all in it go too.
    command = [unshare, "--pid", "--kill-child", "--mount-proc", sys.executable, "-m", "confpy", "exec"]
    command += ["-node", etcd.url, "-confdir", str(confdir), "--", "sh", str(tmp_path / "child.sh")]
    log_path = tmp_path / "confpy.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        try:
            wait_until(lambda: (tmp_path / "seen").exists(), what="the command started")
            etcd_client.put(f"{etcd_prefix}/db", "two")
            # The warning about the background `sleep` holding the output open comes first.
            wait_until(lambda: "reload_cmd for app.toml failed" in read(log_path), what="the failed reload")
            assert "reload_cmd for app.toml failed (exit status 3)" in read(log_path)
            (tmp_path / "exit").touch()
            assert proc.wait(20) == 5
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert len(read(tmp_path / "orphans").split()) == 3
    assert read(tmp_path / "zombies") == "", "orphaned processes were left as zombies"


# Records in `events` each start (with its PID) and each signal it gets; USR2 ends it (status 0),
# as the signal a restart stops it with. Bounded as CHILD is.
RECORDER = """\
trap 'echo HUP >> {tmp}/events' HUP
trap 'echo USR1 >> {tmp}/events' USR1
trap 'echo USR2 >> {tmp}/events; exit 0' USR2
trap 'echo TERM >> {tmp}/events; exit 0' TERM
echo "start $$" >> {tmp}/events
i=0
while [ ! -s {tmp}/exit ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
exit "$(cat {tmp}/exit)"
"""


def events(tmp: Path) -> list[str]:
    return [line.split()[0] for line in read(tmp / "events").splitlines()]


def per_resource(tmp: Path, prefix: str, resources: dict[str, str]) -> None:
    """One resource per entry (`NAME.toml` reads `prefix/NAME` into tmp/NAME.conf), and RECORDER."""
    tomls = {
        f"{name}.toml": f'[template]\nsrc = "v.j2"\ndest = "{tmp / name}.conf"\n'
        f'prefix = "{prefix}/{name}"\nkeys = ["/v"]\n{extra}'
        for name, extra in resources.items()
    }
    make_confdir(tmp, tomls, {"v.j2": 'v={{ getv("/v") }}\n'})
    (tmp / "child.sh").write_text(RECORDER.format(tmp=tmp))


def test_each_resource_says_what_a_change_does_to_the_command(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    """A signal of its own, a restart with a kill_signal of its own, nothing, or (the default)
    reload_cmd: each resource's change does what it says, and only that."""
    marker = tmp_path / "none_reloaded"
    per_resource(
        tmp_path,
        etcd_prefix,
        {
            "sig": 'on_change = "signal"\nreload_signal = "USR1"\n',
            "rst": 'on_change = "restart"\nkill_signal = "SIGUSR2"\n',
            "none": f'on_change = "none"\nreload_cmd = "touch {marker}"\n',
            "cmd": f'on_change = "reload_cmd"\nreload_cmd = "echo cmd >> {tmp_path}/events"\n',
            "dflt": f'reload_cmd = "touch {marker}"\n',
        },
    )
    for name in ("sig", "rst", "none", "cmd", "dflt"):
        etcd_client.put(f"{etcd_prefix}/{name}/v", "1")
    with confpy_exec(tmp_path, etcd.url, "-reload-signal", "HUP") as proc:
        wait_until(lambda: events(tmp_path) == ["start"], what="the command started")
        etcd_client.put(f"{etcd_prefix}/sig/v", "2")
        wait_until(lambda: events(tmp_path) == ["start", "USR1"], what="the resource's own signal")
        etcd_client.put(f"{etcd_prefix}/rst/v", "2")
        wait_until(lambda: events(tmp_path) == ["start", "USR1", "USR2", "start"], what="a restart")
        first, second = (
            line.split()[1] for line in read(tmp_path / "events").splitlines() if "start" in line
        )
        assert first != second
        etcd_client.put(f"{etcd_prefix}/none/v", "2")
        wait_until(lambda: read(tmp_path / "none.conf") == "v=2\n", what="on_change none still writes")
        etcd_client.put(f"{etcd_prefix}/cmd/v", "2")
        wait_until(lambda: events(tmp_path)[4:] == ["cmd"], what="reload_cmd despite -reload-signal")
        # A resource without on_change does as today: -reload-signal's HUP, not its reload_cmd.
        etcd_client.put(f"{etcd_prefix}/dflt/v", "2")
        wait_until(lambda: events(tmp_path)[5:] == ["HUP"], what="the default")
        (tmp_path / "exit").write_text("0")
        assert proc.wait() == 0
    assert not marker.exists()
    assert f"sent SIGUSR2 to sh (pid {first}) to restart it" in proc.log


def test_without_reload_signal_the_default_stays_reload_cmd_and_splay_delays_it(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    per_resource(
        tmp_path,
        etcd_prefix,
        {"cmd": f'reload_cmd = "echo cmd >> {tmp_path}/events"\nsplay = "300ms"\n'},
    )
    etcd_client.put(f"{etcd_prefix}/cmd/v", "1")
    with confpy_exec(tmp_path, etcd.url) as proc:
        wait_until(lambda: events(tmp_path) == ["start"], what="the command started")
        etcd_client.put(f"{etcd_prefix}/cmd/v", "2")
        wait_until(lambda: events(tmp_path) == ["start", "cmd"], what="reload_cmd after the splay")
        assert "cmd.toml: splay: acting on the change in " in proc.log
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    assert events(tmp_path) == ["start", "cmd", "TERM"]


def test_a_restart_that_the_command_ignores_ends_in_sigkill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command ignores the kill_signal: after KILL_AFTER it gets SIGKILL, then starts again."""
    from confpy.sidecar import child as child_module
    from confpy.sidecar.child import Child

    monkeypatch.setattr(child_module, "KILL_AFTER", 0.2)
    starts = tmp_path / "starts"
    command = Child(["sh", "-c", f"trap '' TERM; echo $$ >> {starts}; sleep 60"])
    command.start()
    try:
        wait_until(lambda: len(read(starts).split()) == 1, what="first start")
        assert command.restart(signal.SIGTERM)
        assert command.restart(signal.SIGTERM)  # taken in by the restart under way
        wait_until(
            lambda: (command.hurry(), command.poll(), len(read(starts).split()))[2] == 2, 20, "restart"
        )
        assert command.status is None and command.running
    finally:
        command.cancel_restart()
        command.send(signal.SIGKILL)
        wait_until(lambda: (command.poll(), command.status)[1] is not None, what="the end")
    assert command.status == 128 + 9
