"""The safe writer, on real files and real subprocesses: stage, compare, check, rename."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from confpy.errors import CommandError, ConfigError, TemplateError, WriteError
from confpy.pipeline.stage import remove_stale_stages
from confpy.pipeline.writer import Outcome, Target, WriteResult, write_config

NAME = "app.toml"


def _target(dest: Path, **kwargs: Any) -> Target:
    return Target(dest=dest, name=NAME, **kwargs)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _stage_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.fixture
def umask_077() -> Iterator[None]:
    """A strict umask, to prove modes are set explicitly and not left to the umask."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    dest = tmp_path / "app.conf"
    dest.write_text("port = 80\n")
    dest.chmod(0o644)
    os.utime(dest, (1_000_000, 1_000_000))
    return dest


# --- create, in sync, update ----------------------------------------------------------------


def test_new_file_gets_0644_and_content(tmp_path: Path, umask_077: None) -> None:
    dest = tmp_path / "app.conf"
    result = write_config(_target(dest), "port = 80\n")
    assert result == WriteResult(Outcome.UPDATED, changes=("new file",))
    assert dest.read_text() == "port = 80\n"
    assert _mode(dest) == 0o644
    assert (dest.stat().st_uid, dest.stat().st_gid) == (os.geteuid(), os.getegid())
    assert _stage_files(tmp_path) == []


def test_in_sync_touches_nothing_and_runs_no_check(existing: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    before = existing.stat()
    result = write_config(_target(existing, check_cmd=f"touch {marker}"), "port = 80\n")
    assert result == WriteResult(Outcome.IN_SYNC)
    after = existing.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not marker.exists()
    assert _stage_files(tmp_path) == []


def test_content_change_replaces_the_file(existing: Path, tmp_path: Path) -> None:
    inode = existing.stat().st_ino
    result = write_config(_target(existing), "port = 81\n")
    assert result == WriteResult(Outcome.UPDATED, changes=("content",))
    assert existing.read_text() == "port = 81\n"
    assert existing.stat().st_ino != inode  # renamed into place, not rewritten
    assert _stage_files(tmp_path) == []


def test_mode_change_alone_updates(existing: Path) -> None:
    result = write_config(_target(existing, mode=0o600), "port = 80\n")
    assert result == WriteResult(Outcome.UPDATED, changes=("mode 0644 -> 0600",))
    assert _mode(existing) == 0o600


def test_mode_none_keeps_the_existing_mode(existing: Path, umask_077: None) -> None:
    existing.chmod(0o640)
    assert write_config(_target(existing), "port = 81\n").outcome is Outcome.UPDATED
    assert _mode(existing) == 0o640
    assert write_config(_target(existing), "port = 81\n").outcome is Outcome.IN_SYNC


def test_non_utf8_dest_is_replaced(existing: Path) -> None:
    existing.write_bytes(b"\xff\xfe broken\n")
    assert write_config(_target(existing), "port = 80\n").changes == ("content",)
    assert existing.read_text() == "port = 80\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_owner_change_with_special_mode_bits(existing: Path) -> None:
    result = write_config(_target(existing, uid=33, gid=34, mode=0o4750), "port = 80\n")
    assert result.changes == ("mode 0644 -> 4750", "uid 0 -> 33", "gid 0 -> 34")
    info = existing.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (33, 34, 0o4750)
    assert (
        write_config(_target(existing, uid=33, gid=34, mode=0o4750), "port = 80\n").outcome is Outcome.IN_SYNC
    )


# The child imports confpy as root, then becomes nobody (uid and gid 65534, no groups) before it
# writes: a checkout (or venv) that nobody cannot read, such as a clone under /root (0700), still works.
_UNPRIVILEGED_CHILD = textwrap.dedent(
    """
    import os
    import sys
    from pathlib import Path
    from confpy.errors import WriteError
    from confpy.pipeline.writer import Target, write_config
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    try:
        write_config(Target(dest=Path(sys.argv[1]), uid=0, gid=0, name="app.toml"), "new\\n")
    except WriteError as exc:
        print(exc)
    """
)


def _write_as_nobody(dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _UNPRIVILEGED_CHILD, dest], capture_output=True, text=True)


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A directory owned by nobody and reachable by nobody."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a child as another user")
    directory = Path(tempfile.mkdtemp(prefix="confpy-nobody-"))  # tmp_path's parents are 0700
    try:
        directory.chmod(0o755)
        os.chown(directory, 65534, 65534)
        yield directory
    finally:
        shutil.rmtree(directory)


def test_chown_failure_names_uid_and_gid(nobody_dir: Path) -> None:
    dest = nobody_dir / "app.conf"
    dest.write_text("old\n")
    os.chown(dest, 65534, 65534)
    child = _write_as_nobody(dest)
    assert child.stdout == "app.toml: cannot set owner to uid 0, gid 0: Operation not permitted\n", (
        child.stderr
    )
    assert dest.read_text() == "old\n"
    assert sorted(p.name for p in nobody_dir.iterdir()) == ["app.conf"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a child as another user")
def test_unreachable_directory_is_an_error(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    child = _write_as_nobody(dest)
    expected = f"app.toml: cannot use destination directory {tmp_path}: Permission denied\n"
    assert child.stdout == expected, child.stderr


@pytest.mark.parametrize("kwargs", [{"mode": 0o10000}, {"uid": -1}, {"check_timeout": 0}])
def test_bad_target_is_a_config_error(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=re.escape("app.toml: ")):
        _target(tmp_path / "x", **kwargs)


# --- the stage file and check_cmd --------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o640, 0o400])
def test_check_sees_the_stage_file_with_the_final_mode(tmp_path: Path, mode: int) -> None:
    dest = tmp_path / "app.conf"
    marker = tmp_path / "marker"
    check = (
        f"stat -c %a {{{{.src}}}} > {marker}; basename {{{{.src}}}} >> {marker}; cat {{{{.src}}}} >> {marker}"
    )
    write_config(_target(dest, mode=mode, check_cmd=check), "port = 80\n")
    seen_mode, seen_name, seen_content = marker.read_text().splitlines()
    assert int(seen_mode, 8) == mode
    assert seen_name.startswith(".app.conf.") and len(seen_name) > len(".app.conf.")
    assert seen_content == "port = 80"
    assert _mode(dest) == mode


def test_check_gets_quoted_src_and_dest(tmp_path: Path) -> None:
    directory = tmp_path / "dir with 'quotes' and $(spaces)"
    directory.mkdir()
    dest = directory / "my app.conf"
    marker = tmp_path / "marker"
    check = f"cat {{{{ src }}}} > {marker} && echo {{{{.dest}}}} >> {marker}"
    write_config(_target(dest, check_cmd=check), "x = 1\n")
    assert marker.read_text() == f"x = 1\n{dest}\n"


def test_check_failure_leaves_dest_and_no_stage_file(existing: Path, tmp_path: Path) -> None:
    before = existing.stat()
    check = "echo 'line 1: unknown directive' >&2; exit 1"
    with pytest.raises(CommandError) as info:
        write_config(_target(existing, check_cmd=check), "bogus\n")
    assert (
        str(info.value)
        == f"check_cmd for app.toml failed (exit status 1): {check}\nline 1: unknown directive"
    )
    assert info.value.step == "check_cmd"
    assert existing.read_text() == "port = 80\n"
    assert (existing.stat().st_ino, existing.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.conf"]


def test_check_timeout_kills_it_and_leaves_dest(existing: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    start = time.monotonic()
    with pytest.raises(
        CommandError, match=re.escape("check_cmd for app.toml timed out after 0.5 s and was killed")
    ):
        write_config(
            _target(existing, check_cmd=f"echo $$ > {pidfile}; sleep 100 & sleep 100", check_timeout=0.5),
            "x\n",
        )
    assert time.monotonic() - start < 10
    assert _running_in_group(int(pidfile.read_text())) == []
    assert existing.read_text() == "port = 80\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.conf", "pid"]


def _running_in_group(pgid: int) -> list[int]:
    """Running (not zombie) processes of a process group, from /proc."""
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_bytes().rpartition(b")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            pids.append(int(entry))
    return pids


def test_check_placeholder_other_than_src_dest_is_refused(existing: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unsupported placeholder"):
        write_config(_target(existing, check_cmd='test {{ getv "/k" }}'), "x\n")
    assert existing.read_text() == "port = 80\n"
    assert _stage_files(tmp_path) == []


def test_sync_only_skips_the_check(existing: Path) -> None:
    result = write_config(_target(existing, check_cmd="exit 1"), "port = 81\n", sync_only=True)
    assert result.outcome is Outcome.UPDATED
    assert existing.read_text() == "port = 81\n"


# --- noop ---------------------------------------------------------------------------------------


def test_noop_returns_the_diff_and_changes_nothing(existing: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    result = write_config(
        _target(existing, mode=0o600, check_cmd=f"touch {marker}"), "port = 81\n", noop=True
    )
    assert result.outcome is Outcome.WOULD_UPDATE
    assert result.changes == ("content", "mode 0644 -> 0600")
    assert result.diff == f"--- {existing}\n+++ {existing}\n@@ -1 +1 @@\n-port = 80\n+port = 81\n"
    assert existing.read_text() == "port = 80\n" and _mode(existing) == 0o644
    assert not marker.exists()
    assert _stage_files(tmp_path) == []


def test_noop_new_file_is_diffed_against_empty(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    result = write_config(_target(dest), "a\nb\n", noop=True)
    assert result == WriteResult(
        Outcome.WOULD_UPDATE, f"--- {dest}\n+++ {dest}\n@@ -0,0 +1,2 @@\n+a\n+b\n", ("new file",)
    )
    assert not dest.exists()


def test_noop_does_not_create_the_directory(tmp_path: Path) -> None:
    dest = tmp_path / "new" / "app.conf"
    result = write_config(_target(dest, create_dest_dir=True), "a\n", noop=True)
    assert result.outcome is Outcome.WOULD_UPDATE
    assert result.changes == (f"new directory {dest.parent}", "new file")
    assert not dest.parent.exists()


def test_noop_sensitive_diff_hides_values(existing: Path) -> None:
    existing.write_text("user = app\npassword = hunter2\n")
    result = write_config(_target(existing, sensitive=True), "user = app\npassword = s3cret\n", noop=True)
    assert (
        result.diff
        == f"--- {existing}\n+++ {existing}\n@@ sensitive: 1 line removed, 1 line added (values hidden) @@\n"
    )


# --- keep_stage_file ----------------------------------------------------------------------------


def _kept(directory: Path) -> Path:
    (name,) = _stage_files(directory)
    assert name.startswith(".app.conf.")
    return directory / name


def test_keep_stage_file_after_check_failure(existing: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        write_config(_target(existing, mode=0o640, check_cmd="false"), "new\n", keep_stage_file=True)
    kept = _kept(tmp_path)
    assert kept.read_text() == "new\n" and _mode(kept) == 0o640
    assert existing.read_text() == "port = 80\n"


@pytest.mark.parametrize(("content", "noop"), [("port = 80\n", False), ("port = 81\n", True)])
def test_keep_stage_file_when_in_sync_or_noop(
    existing: Path, tmp_path: Path, content: str, noop: bool
) -> None:
    write_config(_target(existing), content, noop=noop, keep_stage_file=True)
    assert _kept(tmp_path).read_text() == content


def test_keep_stage_file_leaves_nothing_after_a_rename(existing: Path, tmp_path: Path) -> None:
    write_config(_target(existing), "port = 81\n", keep_stage_file=True)
    assert _stage_files(tmp_path) == []


# --- the destination directory -----------------------------------------------------------------


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(WriteError) as info:
        write_config(_target(missing / "app.conf"), "x\n")
    assert str(info.value) == (
        f"app.toml: destination directory {missing} does not exist (set create_dest_dir = true to create it)"
    )
    assert not missing.exists()


def test_create_dest_dir_makes_parents_0755(tmp_path: Path, umask_077: None) -> None:
    dest = tmp_path / "a" / "b" / "app.conf"
    assert write_config(_target(dest, create_dest_dir=True), "x\n").outcome is Outcome.UPDATED
    assert dest.read_text() == "x\n"
    assert _mode(tmp_path / "a") == 0o755 and _mode(tmp_path / "a" / "b") == 0o755


def test_parent_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("")
    for create in (False, True):
        with pytest.raises(WriteError) as info:
            write_config(_target(file / "app.conf", create_dest_dir=create), "x\n")
        assert (
            str(info.value) == f"app.toml: cannot use destination directory {file}: {file} is not a directory"
        )
        with pytest.raises(WriteError) as info:
            write_config(_target(file / "sub" / "app.conf", create_dest_dir=create), "x\n")
        assert (
            str(info.value) == f"app.toml: cannot use destination directory {file / 'sub'}: Not a directory"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_dest_that_is_a_directory_or_fifo_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    for name in ("dir", "fifo"):
        with pytest.raises(WriteError, match=f"destination {tmp_path / name} is not a regular file"):
            write_config(_target(tmp_path / name), "x\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "fifo"]


@pytest.fixture
def immutable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody, root included, can create files in (chattr +i)."""
    directory = tmp_path / "ro"
    directory.mkdir()
    (directory / "app.conf").write_text("old\n")
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", directory], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield directory
    finally:
        subprocess.run([chattr, "-i", directory], check=True)


def test_unwritable_directory_is_an_error(immutable_dir: Path) -> None:
    with pytest.raises(WriteError) as info:
        write_config(_target(immutable_dir / "app.conf"), "new\n")
    assert (
        str(info.value) == f"app.toml: cannot create a stage file in {immutable_dir}: Operation not permitted"
    )
    assert (immutable_dir / "app.conf").read_text() == "old\n"


# --- EBUSY: a single file bind-mounted into place ------------------------------------------------

_BIND_CHILD = textwrap.dedent(
    """
    import logging, sys
    from pathlib import Path
    from confpy.pipeline.writer import Target, write_config
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    result = write_config(Target(dest=Path(sys.argv[1]), mode=0o600, name="app.toml"), "new\\n")
    print(result.outcome.name, ",".join(result.changes))
    print(Path(sys.argv[1]).read_text(), end="")
    """
)


def test_bind_mounted_dest_is_written_in_place(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    probe = [unshare or "unshare", "--mount", "--propagation", "private", "true"]
    if unshare is None or subprocess.run(probe, capture_output=True).returncode != 0:
        pytest.skip("mount namespaces (unshare --mount) are not permitted here")
    source = tmp_path / "source.conf"  # the file a container runtime would bind-mount
    source.write_text("old\n")
    source.chmod(0o644)
    directory = tmp_path / "etc"
    directory.mkdir()
    dest = directory / "app.conf"
    dest.write_text("placeholder\n")
    # A private mount namespace: the bind mount disappears with the child, whatever happens.
    script = 'mount --bind "$1" "$2" || exit 99; shift 2; exec "$@"'
    child = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh",
         source, dest, sys.executable, "-c", _BIND_CHILD, dest],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if child.returncode == 99:
        pytest.skip(f"mount --bind is not permitted here: {child.stderr.strip()}")
    assert child.returncode == 0, child.stderr
    assert child.stdout == "UPDATED content,mode 0644 -> 0600\nnew\n"
    assert f"WARNING app.toml: {dest} is busy (a bind-mounted file?): writing it in place" in child.stderr
    assert source.read_text() == "new\n" and _mode(source) == 0o600  # written through the mount
    assert sorted(p.name for p in directory.iterdir()) == ["app.conf"]  # stage file removed


# --- never half-written -------------------------------------------------------------------------

_WRITER_LOOP = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from confpy.pipeline.writer import Target, write_config
    target = Target(dest=Path(sys.argv[1]), name="app.toml")
    contents = ["a" * 2_000_000 + "\\n", "b" * 3_000_000 + "\\n"]
    print("ready", flush=True)
    i = 0
    while True:
        write_config(target, contents[i % 2])
        i += 1
    """
)


def test_dest_is_old_or_new_when_the_writer_is_killed_at_any_moment(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    dest.write_text("a" * 2_000_000 + "\n")
    valid = {"a" * 2_000_000 + "\n", "b" * 3_000_000 + "\n"}
    for i in range(15):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER_LOOP, dest], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(0.01 + 0.013 * i)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        assert dest.read_text() in valid
    assert _mode(dest) == 0o644
    remove_stale_stages({dest: NAME})  # what every start does
    assert _stage_files(tmp_path) == []


# --- logging ------------------------------------------------------------------------------------


def test_messages_start_with_the_resource_name(
    tmp_path: Path, existing: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="confpy")
    write_config(_target(tmp_path / "d" / "app.conf", create_dest_dir=True), "x\n")
    write_config(_target(existing), "port = 80\n", keep_stage_file=True)
    messages = [r.getMessage() for r in caplog.records if r.name == "confpy"]
    assert f"app.toml: created destination directory {tmp_path / 'd'}" in messages
    assert f"app.toml: {existing} is in sync" in messages
    assert any(m.startswith("app.toml: keeping stage file ") for m in messages)
    assert all(m.startswith("app.toml: ") for m in messages)


# --- stage files: nameless while rendering, closed before the rename, stale ones removed -------


def test_stage_file_has_no_name_while_rendering(existing: Path, tmp_path: Path) -> None:
    """O_TMPFILE: a kill during the render (most of a write's time) can leave nothing behind."""
    seen: list[list[str]] = []

    def render(write: Any) -> None:
        write("port = 81\n")
        seen.append(_stage_files(tmp_path))

    assert write_config(_target(existing), render).outcome is Outcome.UPDATED
    assert seen == [[]]
    assert existing.read_text() == "port = 81\n" and _stage_files(tmp_path) == []


def test_check_cmd_gets_a_named_stage_file(existing: Path, tmp_path: Path) -> None:
    """check_cmd needs a path: the stage file is linked under confpy's pattern just for it."""
    seen = tmp_path / "seen"
    write_config(
        _target(existing, check_cmd=f"basename {{{{.src}}}} > {seen}; cat {{{{.src}}}} >> {seen}"), "x\n"
    )
    name, content = seen.read_text().split("\n", 1)
    assert re.fullmatch(rf"\.app\.conf\.confpy-{os.getpid()}-[0-9a-f]{{8}}-[0-9a-f]{{8}}", name)
    assert content == "x\n" and existing.read_text() == "x\n"
    assert _stage_files(tmp_path) == []


_IN_CLOSE_WRITE, _IN_MOVED_TO = 0x8, 0x80


def _inotify_events(directory: Path, action: Any) -> list[tuple[int, str]]:
    """(mask, name) of the close-write and moved-to events in `directory` while `action` runs."""
    import ctypes
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    try:
        assert libc.inotify_add_watch(fd, os.fsencode(directory), _IN_CLOSE_WRITE | _IN_MOVED_TO) >= 0
        action()
        data = os.read(fd, 65536)
    finally:
        os.close(fd)
    events, offset = [], 0
    while offset < len(data):
        _wd, mask, _cookie, length = struct.unpack_from("iIII", data, offset)
        name = data[offset + 16 : offset + 16 + length].rstrip(b"\0").decode()
        events.append((mask & (_IN_CLOSE_WRITE | _IN_MOVED_TO), name))
        offset += 16 + length
    return events


@pytest.mark.parametrize("check_cmd", [None, "true"])
def test_stage_file_is_closed_before_the_rename(
    existing: Path, tmp_path: Path, check_cmd: str | None
) -> None:
    """A reader woken by IN_MOVED_TO on dest must not see the writer close it afterwards."""
    events = _inotify_events(tmp_path, lambda: write_config(_target(existing, check_cmd=check_cmd), "new\n"))
    moved = [i for i, (mask, name) in enumerate(events) if mask == _IN_MOVED_TO and name == existing.name]
    closed = [i for i, (mask, _) in enumerate(events) if mask == _IN_CLOSE_WRITE]
    assert len(moved) == 1 and closed, events
    assert max(closed) < moved[0], events


def _open_inodes() -> dict[int, int]:
    """Inode of each file descriptor this process holds, by descriptor."""
    inodes = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, gone by now
            inodes[int(name)] = os.stat(f"/proc/self/fd/{name}").st_ino
    return inodes


def test_the_replaced_file_is_freed_after_the_rename_not_inside_it(
    existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer holds the old dest open across the rename, so the rename only unlinks it and
    the filesystem frees its blocks at the close after it: a reader waiting for the new file does
    not wait for that (ext4: the rename 90 -> 14 us). The close must come, on every path."""
    old = existing.stat().st_ino
    held_at_rename: list[bool] = []
    rename = os.rename

    def watched(src: Any, dst: Any) -> None:
        held_at_rename.append(old in _open_inodes().values())
        rename(src, dst)

    monkeypatch.setattr(os, "rename", watched)
    assert write_config(_target(existing), "port = 81\n").outcome is Outcome.UPDATED
    assert held_at_rename == [True]
    assert old not in _open_inodes().values()


def _failing_render(write: Any) -> None:
    write("half")
    raise TemplateError("app.toml: render failed")


@pytest.mark.parametrize(
    ("content", "check_cmd", "noop"),
    [
        ("port = 81\n", None, False),  # updated
        ("port = 80\n", None, False),  # in sync
        ("port = 81\n", None, True),
        ("port = 81\n", "false", False),
        (_failing_render, None, False),
    ],
    ids=["updated", "in-sync", "noop", "check-fails", "render-fails"],
)
def test_no_descriptor_is_left_open_whatever_the_outcome(
    existing: Path, content: Any, check_cmd: str | None, noop: bool
) -> None:
    before = set(_open_inodes())
    with contextlib.suppress(CommandError, TemplateError):
        write_config(_target(existing, check_cmd=check_cmd), content, noop=noop)
    assert set(_open_inodes()) == before


def _stale_name(pid: int, run: str = "0badc0de") -> str:
    return f".app.conf.confpy-{pid}-{run}-12345678"


def test_stale_stage_files_of_gone_processes_are_removed(
    existing: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    alive = subprocess.Popen(["sleep", "30"])
    try:
        names = {
            "gone": _stale_name(gone.pid),
            "earlier run, same pid": _stale_name(os.getpid()),  # confpy as pid 1 of a restarted container
            "alive": _stale_name(alive.pid),
            "not the pattern": ".app.conf.confpy-1-x",
            "another dest": f".other.conf.confpy-{gone.pid}-0badc0de-12345678",
            "user's backup": ".app.conf.bak",
            "an earlier confpy's": ".app.conf.1a2b3c4d",
            "user's dated backup": ".app.conf.20261201",
        }
        for name in names.values():
            (tmp_path / name).write_text("partial")
        caplog.set_level(logging.INFO, logger="confpy")
        remove_stale_stages({existing: NAME})
    finally:
        alive.kill()
        alive.wait()
    kept = {k for k, v in names.items() if (tmp_path / v).exists()}
    assert kept == {"alive", "not the pattern", "another dest", "user's backup", "user's dated backup"}
    removed = [r.getMessage() for r in caplog.records if "removed stale stage file" in r.getMessage()]
    assert len(removed) == 3 and all(m.startswith("app.toml: ") for m in removed)


def test_stage_files_of_this_run_are_not_stale(existing: Path, tmp_path: Path) -> None:
    """The names this process gives its own stage files are never taken for leftovers."""
    write_config(_target(existing), "port = 81\n", keep_stage_file=False)

    def render(write: Any) -> None:
        write("x\n")

    with pytest.raises(CommandError):
        write_config(_target(existing, check_cmd="false"), render, keep_stage_file=True)
    (kept,) = _stage_files(tmp_path)
    remove_stale_stages({existing: NAME})
    assert _stage_files(tmp_path) == [kept]


# --- size limit and streaming -------------------------------------------------------------------


def test_output_past_the_size_limit_fails_and_leaves_dest(existing: Path, tmp_path: Path) -> None:
    def render(write: Any) -> None:
        for _ in range(10_000):
            write("y" * 1000)

    with pytest.raises(TemplateError) as info:
        write_config(_target(existing, max_size=1_000_000), render, keep_stage_file=True)
    assert str(info.value) == (
        "app.toml: the output is larger than max_output_size (1000000 bytes): "
        f"rendering stopped, {existing} not changed"
    )
    assert existing.read_text() == "port = 80\n" and _stage_files(tmp_path) == []


def test_output_of_exactly_the_size_limit_is_written(existing: Path) -> None:
    content = "é" * 512  # 1 KiB in UTF-8: the limit counts bytes, not characters
    assert write_config(_target(existing, max_size=1024), content).outcome is Outcome.UPDATED
    with pytest.raises(TemplateError, match=r"larger than max_output_size \(1 KiB\)"):
        write_config(_target(existing, max_size=1024), content + "!")


def test_large_streamed_output_is_compared_in_chunks(existing: Path) -> None:
    def render(write: Any) -> None:
        for i in range(3000):
            write(f"{i:07d} " + "z" * 991 + "\n")

    assert write_config(_target(existing), render).outcome is Outcome.UPDATED
    assert existing.stat().st_size == 3_000_000
    assert write_config(_target(existing), render).outcome is Outcome.IN_SYNC


@pytest.mark.parametrize("pieces", [1, 2], ids=["written-at-once", "streamed"])
def test_a_difference_in_the_last_byte_or_the_length_is_an_update(existing: Path, pieces: int) -> None:
    """Compared from memory when the stage file was written in one piece, else read back."""
    piece = 70_000  # the writer buffers 64 Ki characters before it writes

    def render(tail: str) -> Any:
        def produce(write: Any) -> None:
            for _ in range(pieces - 1):
                write("a" * piece)
            write("a" * (piece - 1) + tail)

        return produce

    assert write_config(_target(existing), render("b")).outcome is Outcome.UPDATED
    assert existing.stat().st_size == piece * pieces
    assert write_config(_target(existing), render("b")).outcome is Outcome.IN_SYNC
    assert write_config(_target(existing), render("c")).changes == ("content",)
    assert write_config(_target(existing), render("cd")).changes == ("content",)
    assert existing.read_bytes() == b"a" * (piece * pieces - 1) + b"cd"


def test_a_forked_child_names_its_own_stage_file(existing: Path, tmp_path: Path) -> None:
    """The writer keeps /proc/self/fd open to link its O_TMPFILEs by; in a child forked after a
    write, that would be the parent's, which has no file by the child's descriptor (or another)."""
    assert write_config(_target(existing, check_cmd="true"), "parent\n").outcome is Outcome.UPDATED
    child_dest = tmp_path / "child.conf"
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its write is right
        code = 1
        try:
            write_config(_target(child_dest, check_cmd="true"), "child\n")
            code = 0 if child_dest.read_text() == "child\n" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert existing.read_text() == "parent\n" and _stage_files(tmp_path) == []


# --- a dest that is a symlink (confd renames over the link) ------------------------------------


def test_symlink_dest_is_replaced_by_a_file(tmp_path: Path) -> None:
    real = tmp_path / "real.conf"
    real.write_text("old\n")
    dest = tmp_path / "app.conf"
    dest.symlink_to(real)
    in_sync = write_config(_target(dest), "old\n")
    assert in_sync == WriteResult(Outcome.IN_SYNC) and dest.is_symlink()  # compared through the link
    result = write_config(_target(dest), "new\n")
    assert result.outcome is Outcome.UPDATED and result.symlink == str(real)
    assert not dest.is_symlink() and dest.read_text() == "new\n"
    assert real.read_text() == "old\n"
    assert write_config(_target(dest), "newer\n").symlink is None


# --- the fsync: before the rename, or after it where the filesystem orders the data first ------


def _syncs_and_renames(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the writer fsyncs ("dir", or a file by its inode) and renames, in order."""
    events: list[str] = []
    fsync, rename = os.fsync, os.rename

    def watched_fsync(fd: int) -> None:
        info = os.fstat(fd)
        events.append("fsync dir" if stat.S_ISDIR(info.st_mode) else f"fsync {info.st_ino}")
        fsync(fd)

    def watched_rename(src: Any, dst: Any) -> None:
        events.append("rename")
        rename(src, dst)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    monkeypatch.setattr(os, "rename", watched_rename)
    return events


@pytest.mark.parametrize("ordered", [True, False], ids=["data-before-rename", "otherwise"])
def test_the_new_file_is_fsynced_after_the_rename_only_where_the_filesystem_orders_it(
    existing: Path, monkeypatch: pytest.MonkeyPatch, ordered: bool
) -> None:
    """ext4 (data=ordered, auto_da_alloc) commits a rename over a file after that file's data, so
    the fsync can follow the rename and the new config is readable a disk flush sooner; anywhere
    else it must come first. The directory's fsync comes last either way, before any reload."""
    monkeypatch.setattr("confpy.pipeline.writer.data_before_rename", lambda dev: ordered)
    events = _syncs_and_renames(monkeypatch)
    assert write_config(_target(existing), "port = 81\n").outcome is Outcome.UPDATED
    new = f"fsync {existing.stat().st_ino}"
    assert events == (["rename", new, "fsync dir"] if ordered else [new, "rename", "fsync dir"])
    assert existing.read_text() == "port = 81\n"
    assert _stage_files(existing.parent) == []


def test_a_new_file_or_a_symlinked_dest_is_fsynced_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ordering holds for a rename over a file: a new dest replaces nothing, and a symlink's
    target may be on another filesystem than the link the rename replaces."""
    monkeypatch.setattr("confpy.pipeline.writer.data_before_rename", lambda dev: True)
    (tmp_path / "real.conf").write_text("port = 80\n")
    (tmp_path / "link.conf").symlink_to(tmp_path / "real.conf")
    events = _syncs_and_renames(monkeypatch)
    for name in ("new.conf", "link.conf"):
        events.clear()
        assert write_config(_target(tmp_path / name), "port = 81\n").outcome is Outcome.UPDATED
        assert events == [f"fsync {(tmp_path / name).stat().st_ino}", "rename", "fsync dir"], name


# Filesystems made for the test, whose truth is how they were made: (name, mkfs.ext4 options or
# None for a tmpfs, mount options, whether a rename over a file is committed after its data).
_FILESYSTEMS = [
    ("ext4", [], [], True),  # a journal, data=ordered, auto_da_alloc: mkfs's and mount's defaults
    ("ext4-data-journal", [], ["data=journal"], True),
    ("ext4-no-journal", ["-O", "^has_journal"], [], False),  # nothing orders the data first
    ("ext4-writeback", [], ["data=writeback"], False),
    ("ext4-noauto-da-alloc", [], ["noauto_da_alloc"], False),
    ("tmpfs", None, [], False),
]

_ORDER_CHILD = textwrap.dedent(
    """
    import os, stat, sys
    from pathlib import Path
    from confpy.pipeline.renames import data_before_rename
    from confpy.pipeline.writer import Target, write_config
    fsync, rename, events = os.fsync, os.rename, []
    def watched_fsync(fd):
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        fsync(fd)
    def watched_rename(src, dst):
        events.append("rename")
        rename(src, dst)
    os.fsync, os.rename = watched_fsync, watched_rename
    for directory in map(Path, sys.argv[1:]):
        dest = directory / "app.conf"
        dest.write_text("port = 80\\n")
        events.clear()
        write_config(Target(dest=dest, name="app.toml"), "port = 81\\n")
        assert dest.read_text() == "port = 81\\n"
        print(directory.name, data_before_rename(dest.stat().st_dev), ",".join(events))
    """
)


def test_which_filesystems_order_the_data_first_is_judged_on_real_ones(tmp_path: Path) -> None:
    """ext4 images made with and without a journal and mounted with each data mode, and a tmpfs,
    in a private mount namespace (the mounts end with it): the writer fsyncs after the rename on
    exactly those that commit the rename after the data, and before it on the others (an ext4
    without a journal looks like the default one in /proc/self/mountinfo)."""
    unshare, mkfs = shutil.which("unshare"), shutil.which("mkfs.ext4")
    if os.geteuid() != 0 or unshare is None or mkfs is None:
        pytest.skip("needs root, unshare and mkfs.ext4 to mount filesystems made for the test")
    script = ["set -e"]
    for name, mkfs_options, mount_options, _ in _FILESYSTEMS:
        directory = tmp_path / name
        directory.mkdir()
        if mkfs_options is None:
            script.append(f"mount -t tmpfs tmpfs {directory} || exit 99")
            continue
        image = tmp_path / f"{name}.img"
        with image.open("wb") as fh:
            fh.truncate(64 << 20)
        subprocess.run([mkfs, "-q", "-F", *mkfs_options, str(image)], check=True, capture_output=True)
        script.append(f"mount -o {','.join(['loop', *mount_options])} {image} {directory} || exit 99")
    script.append('exec "$@"')
    directories = [str(tmp_path / name) for name, *_ in _FILESYSTEMS]
    child = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c", "\n".join(script), "sh",
         sys.executable, "-c", _ORDER_CHILD, *directories],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if child.returncode == 99:
        pytest.skip(f"cannot mount filesystems here: {child.stderr.strip()}")
    assert child.returncode == 0, child.stderr
    expected = [
        f"{name} {ordered} " + ("rename,fsync file,fsync dir" if ordered else "fsync file,rename,fsync dir")
        for name, _, _, ordered in _FILESYSTEMS
    ]
    assert child.stdout.splitlines() == expected


def test_an_fsync_failing_after_the_rename_is_logged_and_the_update_stands(
    existing: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Once renamed, the new content is what every reader sees: a failed fsync then is an error
    line naming resource and file, and the result is UPDATED, so that the reload still runs."""
    monkeypatch.setattr("confpy.pipeline.writer.data_before_rename", lambda dev: True)
    fsync = os.fsync

    def failing(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(5, "Input/output error")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)
    with caplog.at_level(logging.ERROR, logger="confpy"):
        assert write_config(_target(existing), "port = 81\n").outcome is Outcome.UPDATED
    assert existing.read_text() == "port = 81\n"
    assert [r.getMessage() for r in caplog.records] == [
        f"{NAME}: cannot fsync {existing} after replacing it: Input/output error"
    ]
    assert _stage_files(existing.parent) == []
