"""Writing a rendered config: stage file, compare, check, atomic rename. Never a half-written dest.

The rendered text is streamed into a stage file in the destination's own directory (so the final
rename is atomic), created owner-only and never more permissive than the final mode, so a 500 MB
output is never held in memory whole. Where the filesystem allows it the stage file is an
O_TMPFILE, which has no name until it is linked, just before check_cmd (which needs a path) or
the rename: a kill at any other moment leaves nothing on disk. A named stage file
(`.<dest>.confpy-<pid>-<run>-<random>`) that a killed confpy left behind is removed at the next
start by `remove_stale_stages`. The destination is replaced only if content, mode, uid or gid
differ and check_cmd accepts the stage file. Reloading is the caller's job: watch mode groups
reloads across resources.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import functools
import logging
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from confpy.config.placeholders import expand_command
from confpy.config.settings import DEFAULT_MAX_OUTPUT_SIZE
from confpy.config.size import format_size
from confpy.errors import ConfigError, ConfpyError, TemplateError, WriteError
from confpy.pipeline.commands import run_command
from confpy.pipeline.diff import masked_diff, unified_diff

__all__ = [
    "Outcome",
    "Producer",
    "Target",
    "WriteResult",
    "remove_stale_stages",
    "write_config",
]

log = logging.getLogger("confpy")

DEFAULT_MODE = 0o644
DIR_MODE = 0o755
_FLUSH_AT = 1 << 16  # characters of output buffered before they go to the stage file
_CHUNK = 1 << 20  # bytes read at a time to compare or copy files
_RUN = secrets.token_hex(4)  # this process's mark in its stage files' names
_STAGE_NAME = re.compile(r"\.(.+)\.confpy-(\d+)-([0-9a-f]{8})-[0-9a-f]{8}")  # dest's name, pid, run
# The names earlier confpy versions gave their stage files: `.<dest>.<8 random hex digits>`. One of
# the digits must be a letter, so that a user's `.app.conf.20261201` is never taken for one.
_OLD_STAGE_NAME = re.compile(r"\.(.+)\.(?=[0-9]*[a-f])[0-9a-f]{8}")
_PROC_FD = Path("/proc/self/fd")

Producer: TypeAlias = Callable[[Callable[[str], None]], None]
"""Renders by calling its argument with each piece of the output, in order."""


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
    max_size: int = DEFAULT_MAX_OUTPUT_SIZE  # bytes of output; a render past it fails

    def __post_init__(self) -> None:
        label = self.name or str(self.dest)
        if self.mode is not None and not 0 <= self.mode <= 0o7777:
            raise ConfigError(f"{label}: mode {self.mode:#o} is not a file mode (0000 to 7777 octal)")
        for field, value in (("uid", self.uid), ("gid", self.gid)):
            if value is not None and value < 0:
                raise ConfigError(f"{label}: {field} {value} is negative")
        if self.check_timeout <= 0:
            raise ConfigError(f"{label}: check_cmd timeout must be positive, not {self.check_timeout:g}")
        if self.max_size <= 0:
            raise ConfigError(f"{label}: max_output_size must be positive, not {self.max_size}")


class Outcome(enum.Enum):
    """What write_config did."""

    IN_SYNC = "in sync"
    UPDATED = "updated"
    WOULD_UPDATE = "would update"  # noop found a change


@dataclass(frozen=True)
class WriteResult:
    """The outcome, the noop diff, and why the file differs ("content", "mode 0644 -> 0600", ...).

    `symlink`: dest was a symlink to this path, and the update replaced (noop: would replace)
    the link by a regular file, as confd's rename does.
    """

    outcome: Outcome
    diff: str | None = None
    changes: tuple[str, ...] = ()
    symlink: str | None = None


@dataclass(frozen=True)
class _Current:
    """The dest as found: open for the comparison, and its mode and owner."""

    fd: int
    mode: int
    uid: int
    gid: int


class _Abort(BaseException):
    """Carries an error out of a render in progress.

    A BaseException, so that the template engines' own error handling, which wraps every
    Exception as a template error at some line, lets it through unchanged.
    """

    def __init__(self, error: ConfpyError) -> None:
        super().__init__(str(error))
        self.error = error


class _Stage:
    """The stage file being written: buffered, limited to `target.max_size` bytes, named lazily."""

    def __init__(self, target: Target, mode: int, name: str) -> None:
        self.dest = target.dest
        self.limit = target.max_size
        self.name = name
        self.fd, self.path = _open_stage(target.dest, mode, name)
        self.size = 0
        self._pending: list[str] = []
        self._chars = 0

    def write(self, text: str) -> None:
        self._pending.append(text)
        self._chars += len(text)
        if self._chars >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        data = "".join(self._pending).encode("utf-8", "surrogateescape")  # Go's non-UTF-8 bytes
        self._pending.clear()
        self._chars = 0
        self.size += len(data)
        if self.size > self.limit:
            raise _Abort(_too_large(self.name, self.limit, self.dest))
        try:
            _write_all(self.fd, data)
        except OSError as exc:
            raise _Abort(self.error(exc)) from exc

    def error(self, exc: OSError) -> WriteError:
        where = self.path or f"in {self.dest.parent}"
        return WriteError(f"{self.name}: cannot write stage file {where}: {exc.strerror}")

    def link(self) -> Path:
        """The stage file's path, giving an O_TMPFILE a name in dest's directory first."""
        if self.path is None:
            self.path = _link_stage(self.fd, self.dest, self.name)
        return self.path

    def read(self) -> bytes:
        return _read_fd(self.fd, self.size)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def write_config(
    target: Target,
    content: str | Producer,
    *,
    noop: bool = False,
    sync_only: bool = False,
    keep_stage_file: bool = False,
) -> WriteResult:
    """Make `target.dest` hold `content` with the target's mode and owner, atomically.

    `content`: the text, or a Producer that streams it (a render). noop: report the change (diff)
    without touching dest. sync_only: skip check_cmd. keep_stage_file: leave the stage file for
    inspection whenever it was rendered but not renamed into place.
    Raises WriteError (dest untouched), CommandError (check_cmd failed; dest untouched), a
    TemplateError when the output passes `target.max_size`, and whatever the Producer raises.
    """
    name = target.name or str(target.dest)
    dest = target.dest
    produce: Producer = (lambda write: write(content)) if isinstance(content, str) else content
    if not _ensure_directory(dest.parent, target.create_dest_dir, name, noop):
        text = _render_in_memory(produce, target, name)
        return _would_update(target, None, text, (f"new directory {dest.parent}", "new file"), None)
    current = _read_current(dest, name)
    try:
        return _stage_and_replace(target, name, produce, current, noop, sync_only, keep_stage_file)
    finally:
        if current is not None:
            os.close(current.fd)


def _stage_and_replace(
    target: Target,
    name: str,
    produce: Producer,
    current: _Current | None,
    noop: bool,
    sync_only: bool,
    keep_stage_file: bool,
) -> WriteResult:
    """write_config's work once the directory is there and the current dest is known."""
    dest = target.dest
    link = _symlink_target(dest)
    mode = target.mode if target.mode is not None else (current.mode if current else DEFAULT_MODE)
    uid = target.uid if target.uid is not None else os.geteuid()
    gid = target.gid if target.gid is not None else os.getegid()
    stage = _Stage(target, mode, name)
    rendered = renamed = False
    try:
        try:
            produce(stage.write)
            stage.flush()
        except _Abort as abort:
            raise abort.error from None
        rendered = True
        try:
            _set_owner_and_mode(stage.fd, uid, gid, mode, name)
        except OSError as exc:
            raise stage.error(exc) from exc
        same = current is not None and _same_content(stage, current.fd, dest, name)
        changes = _changes(current, same, mode, uid, gid)
        if not changes:
            log.debug("%s: %s is in sync", name, dest)
            return WriteResult(Outcome.IN_SYNC)
        log.debug("%s: %s differs: %s", name, dest, ", ".join(changes))
        if noop:
            text = stage.read().decode("utf-8", errors="replace")
            old = _read_text(current.fd, dest, name) if current else None
            return _would_update(target, old, text, changes, link)
        if target.check_cmd and not sync_only:
            command = expand_command(target.check_cmd, src=str(stage.link()), dest=str(dest))
            run_command(command, timeout=target.check_timeout, what=f"check_cmd for {name}")
        try:
            os.fsync(stage.fd)
        except OSError as exc:
            raise stage.error(exc) from exc
        path = stage.link()
        stage.close()  # before the rename: a reader woken by IN_MOVED_TO must find the file closed
        renamed = _replace(path, dest, uid, gid, mode, name)
        return WriteResult(Outcome.UPDATED, changes=changes, symlink=link)
    finally:
        if not renamed and rendered and keep_stage_file:
            with contextlib.suppress(WriteError):  # a kept copy is a courtesy; the error is what matters
                log.info("%s: keeping stage file %s", name, stage.link())
        stage.close()
        if not renamed and stage.path is not None and not (rendered and keep_stage_file):
            _remove(stage.path)


def remove_stale_stages(targets: Iterable[Target]) -> None:
    """Remove the stage files of these targets' dests that a confpy killed mid-write left behind.

    Only names of confpy's own pattern for one of these dests, made by a process that is gone (or
    by an earlier process with this pid: confpy is often pid 1 in a container), are touched, and
    those of earlier confpy versions (which name no process). One scan per directory, however many
    resources write into it.
    """
    by_directory: dict[Path, dict[str, str]] = {}
    for target in targets:
        by_directory.setdefault(target.dest.parent, {})[target.dest.name] = target.name or str(target.dest)
    for directory, names in by_directory.items():
        try:
            entries = [e for e in os.scandir(directory) if e.name.startswith(".")]
        except OSError:
            continue  # no directory yet, or not readable: writing will say so
        for entry in entries:
            match = _STAGE_NAME.fullmatch(entry.name) or _OLD_STAGE_NAME.fullmatch(entry.name)
            if match is None or match[1] not in names or not entry.is_file(follow_symlinks=False):
                continue
            if match.re is _STAGE_NAME:
                pid, run = int(match[2]), match[3]
                if (pid == os.getpid() and run == _RUN) or (pid != os.getpid() and _alive(pid)):
                    continue
            name = names[match[1]]
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("%s: cannot remove stale stage file %s: %s", name, entry.path, exc.strerror)
                continue
            log.info("%s: removed stale stage file %s (left by a confpy that was killed)", name, entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _too_large(name: str, limit: int, dest: Path) -> TemplateError:
    return TemplateError(
        f"{name}: the output is larger than max_output_size ({format_size(limit)}): "
        f"rendering stopped, {dest} not changed"
    )


def _render_in_memory(produce: Producer, target: Target, name: str) -> str:
    """The output when there is nowhere to stage it (noop before its directory exists), size-limited."""
    pieces: list[str] = []
    size = 0

    def write(text: str) -> None:
        nonlocal size
        size += len(text.encode("utf-8", "surrogateescape"))
        if size > target.max_size:
            raise _Abort(_too_large(name, target.max_size, target.dest))
        pieces.append(text)

    try:
        produce(write)
    except _Abort as abort:
        raise abort.error from None
    return "".join(pieces)


def _would_update(
    target: Target, old: str | None, content: str, changes: tuple[str, ...], link: str | None
) -> WriteResult:
    make_diff = masked_diff if target.sensitive else unified_diff
    diff = make_diff(old or "", content, label=str(target.dest))
    return WriteResult(Outcome.WOULD_UPDATE, diff, changes, symlink=link)


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


def _open_dest(dest: Path, name: str) -> int | None:
    """dest opened for reading, or None if there is none. O_NONBLOCK: a FIFO in its place must not hang us."""
    try:
        fd = os.open(dest, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WriteError(f"{name}: cannot read destination {dest}: {exc.strerror}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise WriteError(f"{name}: destination {dest} is not a regular file")
    return fd


def _read_current(dest: Path, name: str) -> _Current | None:
    """The current dest (through a symlink, as confd compares), open, or None if there is none."""
    fd = _open_dest(dest, name)
    if fd is None:
        return None
    info = os.fstat(fd)
    return _Current(fd, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


def _symlink_target(dest: Path) -> str | None:
    """Where dest points if it is a symlink (the rename will replace the link itself)."""
    try:
        return os.readlink(dest)
    except OSError:  # not a link, or not there
        return None


def _same_content(stage: _Stage, fd: int, dest: Path, name: str) -> bool:
    """Whether the dest open as `fd` holds exactly the stage file's bytes, a chunk at a time."""
    try:
        if os.fstat(fd).st_size != stage.size:
            return False
        offset = 0
        while offset < stage.size:
            new = os.pread(stage.fd, _CHUNK, offset)
            if not new or os.pread(fd, len(new), offset) != new:
                return False
            offset += len(new)
        return True
    except OSError as exc:
        raise WriteError(f"{name}: cannot read destination {dest}: {exc.strerror}") from exc


def _read_fd(fd: int, size: int) -> bytes:
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, min(_CHUNK, size - offset), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _read_text(fd: int, dest: Path, name: str) -> str:
    """The current dest as text, for noop's diff."""
    try:
        return _read_fd(fd, os.fstat(fd).st_size).decode("utf-8", errors="replace")
    except OSError as exc:
        raise WriteError(f"{name}: cannot read destination {dest}: {exc.strerror}") from exc


def _stage_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.confpy-{os.getpid()}-{_RUN}-{secrets.token_hex(4)}")


def _open_stage(dest: Path, mode: int, name: str) -> tuple[int, Path | None]:
    """A stage file in dest's directory, never readable by more than mode allows: an O_TMPFILE
    (no name: None) where the filesystem and /proc allow one, else a new file of its own name."""
    try:
        if _has_proc_fd():
            try:
                return os.open(dest.parent, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, mode & 0o600), None
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                    raise
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        while True:
            stage = _stage_path(dest)
            with contextlib.suppress(FileExistsError):
                return os.open(stage, flags, mode & 0o600), stage
    except OSError as exc:
        raise WriteError(f"{name}: cannot create a stage file in {dest.parent}: {exc.strerror}") from exc


@functools.cache
def _has_proc_fd() -> bool:
    """An O_TMPFILE is linked through /proc/self/fd: without /proc, stage files are named."""
    return _PROC_FD.is_dir()


def _link_stage(fd: int, dest: Path, name: str) -> Path:
    """Give the O_TMPFILE `fd` a stage file name next to dest.

    os.link calls link(2), which links /proc's magic symlink itself (EXDEV); with a dir fd it
    calls linkat(2) with AT_SYMLINK_FOLLOW, which links the file it stands for.
    """
    try:
        directory = os.open(dest.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise WriteError(f"{name}: cannot name the stage file in {dest.parent}: {exc.strerror}") from exc
    try:
        while True:
            stage = _stage_path(dest)
            try:
                os.link(_PROC_FD / str(fd), stage.name, dst_dir_fd=directory, follow_symlinks=True)
                return stage
            except FileExistsError:
                continue
            except OSError as exc:
                raise WriteError(f"{name}: cannot name the stage file {stage}: {exc.strerror}") from exc
    finally:
        os.close(directory)


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


def _changes(current: _Current | None, same: bool, mode: int, uid: int, gid: int) -> tuple[str, ...]:
    if current is None:
        return ("new file",)
    changes = []
    if not same:
        changes.append("content")
    if current.mode != mode:
        changes.append(f"mode {current.mode:04o} -> {mode:04o}")
    if current.uid != uid:
        changes.append(f"uid {current.uid} -> {uid}")
    if current.gid != gid:
        changes.append(f"gid {current.gid} -> {gid}")
    return tuple(changes)


def _replace(stage: Path, dest: Path, uid: int, gid: int, mode: int, name: str) -> bool:
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
        source = os.open(stage, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fd = os.open(dest, os.O_WRONLY | os.O_CLOEXEC)
            try:
                # Owner and mode first: a 0600 secret must never sit in a file that is still 0644.
                _set_owner_and_mode(fd, uid, gid, mode, name)
                os.ftruncate(fd, 0)
                while chunk := os.read(source, _CHUNK):
                    _write_all(fd, chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
        finally:
            os.close(source)
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
