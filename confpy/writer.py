"""Writing a rendered config: stage file, compare, check, atomic rename. Never a half-written dest.

The new content goes to a stage file in the destination's own directory (so the final rename is
atomic), created owner-only and never more permissive than the final mode. The destination is
replaced only if content, mode, uid or gid differ and check_cmd accepts the stage file. Reloading
is the caller's job: watch mode groups reloads across resources.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from confpy.commands import expand_command, run_command
from confpy.diff import masked_diff, unified_diff
from confpy.errors import ConfigError, WriteError

__all__ = ["Outcome", "Target", "WriteResult", "write_config"]

log = logging.getLogger("confpy")

DEFAULT_MODE = 0o644
DIR_MODE = 0o755


@dataclass(frozen=True)
class Target:
    """Where and how one resource's rendered content is written."""

    dest: Path
    mode: int | None = None  # None: keep an existing dest's mode; a new file gets 0644
    uid: int | None = None  # None: the effective uid
    gid: int | None = None  # None: the effective gid
    check_cmd: str | None = None
    check_timeout: float = 30.0
    create_dest_dir: bool = False
    sensitive: bool = False  # noop shows how many lines change, not the values
    name: str = ""  # the resource's name, for messages

    def __post_init__(self) -> None:
        label = self.name or str(self.dest)
        if self.mode is not None and not 0 <= self.mode <= 0o7777:
            raise ConfigError(f"{label}: mode {self.mode:#o} is not a file mode (0000 to 7777 octal)")
        for field, value in (("uid", self.uid), ("gid", self.gid)):
            if value is not None and value < 0:
                raise ConfigError(f"{label}: {field} {value} is negative")
        if self.check_timeout <= 0:
            raise ConfigError(f"{label}: check_cmd timeout must be positive, not {self.check_timeout:g}")


class Outcome(enum.Enum):
    """What write_config did."""

    IN_SYNC = "in sync"
    UPDATED = "updated"
    WOULD_UPDATE = "would update"  # noop found a change


@dataclass(frozen=True)
class WriteResult:
    """The outcome, the noop diff, and why the file differs ("content", "mode 0644 -> 0600", ...)."""

    outcome: Outcome
    diff: str | None = None
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Current:
    content: bytes
    mode: int
    uid: int
    gid: int


def write_config(
    target: Target,
    content: str,
    *,
    noop: bool = False,
    sync_only: bool = False,
    keep_stage_file: bool = False,
) -> WriteResult:
    """Make `target.dest` hold `content` with the target's mode and owner, atomically.

    noop: report the change (diff) without touching dest. sync_only: skip check_cmd.
    keep_stage_file: leave the stage file for inspection whenever it was not renamed into place.
    Raises WriteError (dest untouched) or CommandError (check_cmd failed; dest untouched).
    """
    name = target.name or str(target.dest)
    dest = target.dest
    if not _ensure_directory(dest.parent, target.create_dest_dir, name, noop):
        return _would_update(target, None, content, (f"new directory {dest.parent}", "new file"))
    current = _read_current(dest, name)
    mode = target.mode if target.mode is not None else (current.mode if current else DEFAULT_MODE)
    uid = target.uid if target.uid is not None else os.geteuid()
    gid = target.gid if target.gid is not None else os.getegid()
    data = content.encode("utf-8")

    stage, fd = _create_stage(dest, mode, name)
    renamed = False
    try:
        try:
            _write_all(fd, data)
            _set_owner_and_mode(fd, uid, gid, mode, name)
        except OSError as exc:
            raise WriteError(f"{name}: cannot write stage file {stage}: {exc.strerror}") from exc
        changes = _changes(current, data, mode, uid, gid)
        if not changes:
            log.debug("%s: %s is in sync", name, dest)
            return WriteResult(Outcome.IN_SYNC)
        log.debug("%s: %s differs: %s", name, dest, ", ".join(changes))
        if noop:
            return _would_update(target, current, content, changes)
        if target.check_cmd and not sync_only:
            command = expand_command(target.check_cmd, src=str(stage), dest=str(dest))
            run_command(command, timeout=target.check_timeout, what=f"check_cmd for {name}")
        try:
            os.fsync(fd)
        except OSError as exc:
            raise WriteError(f"{name}: cannot write stage file {stage}: {exc.strerror}") from exc
        renamed = _replace(stage, dest, data, uid, gid, mode, name)
        return WriteResult(Outcome.UPDATED, changes=changes)
    finally:
        os.close(fd)
        if not renamed:
            if keep_stage_file:
                log.info("%s: keeping stage file %s", name, stage)
            else:
                _remove(stage)


def _would_update(
    target: Target, current: _Current | None, content: str, changes: tuple[str, ...]
) -> WriteResult:
    old = "" if current is None else current.content.decode("utf-8", errors="replace")
    make_diff = masked_diff if target.sensitive else unified_diff
    return WriteResult(Outcome.WOULD_UPDATE, make_diff(old, content, label=str(target.dest)), changes)


def _ensure_directory(directory: Path, create: bool, name: str, noop: bool) -> bool:
    """Fail with a clear message if dest's directory is missing, or create it (0755) if allowed.

    False when noop stops it from creating the directory it would create.
    """
    if _is_directory(path=directory, directory=directory, name=name):
        return True
    if not create:
        raise WriteError(
            f"{name}: destination directory {directory} does not exist "
            "(set create_dest_dir = true to create it)"
        )
    if noop:
        return False
    missing = [directory]
    while not _is_directory(path=missing[-1].parent, directory=directory, name=name):
        missing.append(missing[-1].parent)
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
            os.chmod(path, DIR_MODE)  # mkdir's mode is cut by the umask
        except FileExistsError:
            if not _is_directory(path=path, directory=directory, name=name):
                raise WriteError(f"{name}: cannot create directory {path}: a file is in the way") from None
        except OSError as exc:
            raise WriteError(f"{name}: cannot create directory {path}: {exc.strerror}") from exc
    log.info("%s: created destination directory %s", name, directory)
    return True


def _is_directory(*, path: Path, directory: Path, name: str) -> bool:
    """True for a directory, False for nothing there; anything else is an error about `directory`."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise WriteError(f"{name}: cannot use destination directory {directory}: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise WriteError(f"{name}: cannot use destination directory {directory}: {path} is not a directory")
    return True


def _read_current(dest: Path, name: str) -> _Current | None:
    """The current dest, or None if there is none. O_NONBLOCK: a FIFO in its place must not hang us."""
    try:
        fd = os.open(dest, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WriteError(f"{name}: cannot read destination {dest}: {exc.strerror}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise WriteError(f"{name}: destination {dest} is not a regular file")
    try:
        with open(fd, "rb") as f:
            content = f.read()
    except OSError as exc:
        raise WriteError(f"{name}: cannot read destination {dest}: {exc.strerror}") from exc
    return _Current(content, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


def _create_stage(dest: Path, mode: int, name: str) -> tuple[Path, int]:
    """Create `.<basename>.<random>` next to dest, exclusively, never readable by more than mode allows."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        stage = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}")
        try:
            return stage, os.open(stage, flags, mode & 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteError(f"{name}: cannot create a stage file in {dest.parent}: {exc.strerror}") from exc


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _set_owner_and_mode(fd: int, uid: int, gid: int, mode: int, name: str) -> None:
    """chown first: chown clears setuid/setgid bits, so chmod must come after it."""
    info = os.fstat(fd)
    if (info.st_uid, info.st_gid) != (uid, gid):
        try:
            os.fchown(fd, uid, gid)
        except OSError as exc:
            raise WriteError(f"{name}: cannot set owner to uid {uid}, gid {gid}: {exc.strerror}") from exc
    os.fchmod(fd, mode)


def _changes(current: _Current | None, data: bytes, mode: int, uid: int, gid: int) -> tuple[str, ...]:
    if current is None:
        return ("new file",)
    changes = []
    if current.content != data:
        changes.append("content")
    if current.mode != mode:
        changes.append(f"mode {current.mode:04o} -> {mode:04o}")
    if current.uid != uid:
        changes.append(f"uid {current.uid} -> {uid}")
    if current.gid != gid:
        changes.append(f"gid {current.gid} -> {gid}")
    return tuple(changes)


def _replace(stage: Path, dest: Path, data: bytes, uid: int, gid: int, mode: int, name: str) -> bool:
    """Rename stage over dest (True); on EBUSY (a bind-mounted file) write in place (False)."""
    try:
        os.rename(stage, dest)
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise WriteError(f"{name}: cannot replace {dest}: {exc.strerror}") from exc
    else:
        _fsync_directory(dest.parent, name)
        return True
    log.warning("%s: %s is busy (a bind-mounted file?): writing it in place, which is not atomic", name, dest)
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CLOEXEC)
        try:
            # Owner and mode first: a 0600 secret must never sit in a file that is still 0644.
            _set_owner_and_mode(fd, uid, gid, mode, name)
            os.ftruncate(fd, 0)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise WriteError(f"{name}: cannot write {dest} in place: {exc.strerror}") from exc
    return False


def _fsync_directory(directory: Path, name: str) -> None:
    """Make the rename durable; some filesystems cannot fsync a directory, which is only logged."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        log.warning("%s: cannot fsync directory %s: %s", name, directory, exc.strerror)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
