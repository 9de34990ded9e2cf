"""Writing a rendered config: stage file, compare, check, atomic rename. Never a half-written dest.

The rendered text is streamed into a stage file (`stage.py`) in the destination's own directory,
so a 500 MB output is never held in memory whole and the final rename is atomic. The destination
is replaced only if content, mode, uid or gid differ and check_cmd accepts the stage file.
Reloading is the caller's job: watch mode groups reloads across resources.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from confpy._go.strconv import go_bytes
from confpy.config.placeholders import expand_command
from confpy.config.settings import DEFAULT_MAX_OUTPUT_SIZE
from confpy.errors import ConfigError, WriteError
from confpy.pipeline.renames import data_before_rename
from confpy.pipeline.stage import CHUNK, Abort, Stage, read_fd, too_large, write_all

__all__ = [
    "Outcome",
    "Pending",
    "Producer",
    "Target",
    "WriteResult",
    "commit",
    "stage_config",
    "write_config",
]

log = logging.getLogger("confpy")

DEFAULT_MODE = 0o644
DIR_MODE = 0o755

Producer: TypeAlias = Callable[[Callable[[str], None]], None]
"""Renders by calling its argument with each piece of the output, in order."""


class _TargetFields(NamedTuple):
    """Target's fields, checked by Target."""

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


class Target(_TargetFields):
    """Where and how one resource's rendered content is written; refused (ConfigError) when made
    with a value no file can have."""

    __slots__ = ()

    if not TYPE_CHECKING:  # mypy checks calls against the fields' own constructor, which this calls

        def __new__(cls, *args: Any, **kwargs: Any) -> Target:
            target = super().__new__(cls, *args, **kwargs)
            target._check()
            return target

    @property
    def label(self) -> str:
        """How messages name the target: the resource, or else the dest."""
        return self.name or str(self.dest)

    def _check(self) -> None:
        label = self.label
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


class WriteResult(NamedTuple):
    """The outcome, the noop diff, and why the file differs ("content", "mode 0644 -> 0600", ...).

    `symlink`: dest was a symlink to this path, and the update replaced (noop: would replace)
    the link by a regular file, as confd's rename does.
    """

    outcome: Outcome
    diff: str | None = None
    changes: tuple[str, ...] = ()
    symlink: str | None = None


class _Current(NamedTuple):
    """The dest as found: open for the comparison, its mode and owner, and its filesystem."""

    fd: int
    mode: int
    uid: int
    gid: int
    dev: int
    size: int


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
    staged = stage_config(target, content, noop=noop, keep_stage_file=keep_stage_file)
    if isinstance(staged, WriteResult):
        return staged
    with staged:
        return commit([staged], sync_only=sync_only)[0]


def stage_config(
    target: Target, content: str | Producer, *, noop: bool = False, keep_stage_file: bool = False
) -> WriteResult | Pending:
    """Render into a stage file and compare: a result when nothing is to be renamed (in sync, or
    noop's diff), else the Pending file, to check and install with `commit` (or discard)."""
    name = target.label
    dest = target.dest
    produce: Producer = (lambda write: write(content)) if isinstance(content, str) else content
    current, link = _read_current(dest, name)
    # A dest that is there has its directory; only a missing one needs the directory checked.
    if current is None and not _ensure_directory(dest.parent, target.create_dest_dir, name, noop):
        text = _render_in_memory(produce, target, name)
        return _would_update(target, None, text, (f"new directory {dest.parent}", "new file"), None)
    held = False
    try:
        staged = _stage(target, name, produce, current, link, noop, keep_stage_file)
        if isinstance(staged, Pending) and current is not None:
            staged.replaced_fd, held = current.fd, True
            # A symlink's target may sit on another filesystem than the link the rename replaces.
            staged.sync_after_rename = staged.link is None and data_before_rename(current.dev)
        return staged
    finally:
        if current is not None and not held:
            os.close(current.fd)


def commit(pending: Sequence[Pending], *, sync_only: bool = False) -> list[WriteResult]:
    """Check every file, then rename every one into place in order: one failed check renames none.

    A check command is run once for each distinct command line it expands to: one that names its
    `{{.src}}` checks each stage file, one that names none (`nginx -t`) runs once for the set.
    """
    if not sync_only:
        checks = {p.check_command(): p for p in pending if p.target.check_cmd}
        if checks:
            from confpy.pipeline.commands import run_command  # subprocess: only for a check_cmd

            for command, file in checks.items():
                what = f"check_cmd for {file.target.label}"
                run_command(command, timeout=file.target.check_timeout, what=what, step="check_cmd")
    for file in pending:
        file.sync()
    return [file.install() for file in pending]


class Pending:
    """A rendered stage file that differs from its dest: checked and installed by `commit`.

    A context manager: leaving it removes the stage file unless it was installed (or kept, with
    keep_stage_file), so no path out of a failed commit leaves one on disk.
    """

    def __init__(
        self,
        target: Target,
        stage: Stage,
        owner: tuple[int, int, int],
        changes: tuple[str, ...],
        link: str | None,
        keep_stage_file: bool,
    ) -> None:
        self.target = target
        self.stage = stage
        self.uid, self.gid, self.mode = owner
        self.changes = changes
        self.link = link
        self.keep_stage_file = keep_stage_file
        self.renamed = False
        # The dest this file replaces, held open until after the rename, which then only unlinks
        # it: its blocks are freed by the close that follows, not inside the rename that readers
        # wait for (ext4: 90 -> 14 us measured).
        self.replaced_fd: int | None = None
        # True: the filesystem writes this file's data before it commits the rename over the
        # existing dest (renames.py), so the fsync comes after the rename, not before it.
        self.sync_after_rename = False

    def check_command(self) -> str:
        assert self.target.check_cmd is not None
        return expand_command(self.target.check_cmd, src=str(self.stage.link()), dest=str(self.target.dest))

    def sync(self) -> None:
        """fsync the stage file, before any file of the commit is renamed (unless after it will do)."""
        if self.sync_after_rename:
            return
        try:
            os.fsync(self.stage.fd)
        except OSError as exc:
            raise self.stage.error(exc) from exc

    def install(self) -> WriteResult:
        target = self.target
        path = self.stage.link()
        self.stage.close()  # before the rename: a reader woken by IN_MOVED_TO must find the file closed
        self.renamed = _replace(
            path, target.dest, self.uid, self.gid, self.mode, target.label, self.sync_after_rename
        )
        self._release_replaced()
        return WriteResult(Outcome.UPDATED, changes=self.changes, symlink=self.link)

    def _release_replaced(self) -> None:
        if self.replaced_fd is not None:
            os.close(self.replaced_fd)
            self.replaced_fd = None

    def __enter__(self) -> Pending:
        return self

    def __exit__(self, *exc: object) -> None:
        stage = self.stage
        keep = not self.renamed and self.keep_stage_file
        if keep:
            with contextlib.suppress(WriteError):  # a kept copy is a courtesy; the error is what matters
                log.info("%s: keeping stage file %s", self.target.label, stage.link())
        stage.close()
        self._release_replaced()
        if not self.renamed and stage.path is not None and not keep:
            _remove(stage.path)


def _stage(
    target: Target,
    name: str,
    produce: Producer,
    current: _Current | None,
    link: str | None,
    noop: bool,
    keep_stage_file: bool,
) -> WriteResult | Pending:
    """stage_config's work once the directory is there and the current dest (and link) is known."""
    dest = target.dest
    mode = target.mode if target.mode is not None else (current.mode if current else DEFAULT_MODE)
    uid = target.uid if target.uid is not None else os.geteuid()
    gid = target.gid if target.gid is not None else os.getegid()
    stage = Stage(target.dest, mode, name, target.max_size)
    pending = Pending(target, stage, (uid, gid, mode), (), link, keep_stage_file=False)
    try:
        try:
            produce(stage.write)
            stage.flush()
        except Abort as abort:
            raise abort.error from None
        pending.keep_stage_file = keep_stage_file  # rendered: worth keeping for inspection
        try:
            _set_owner_and_mode(stage.fd, uid, gid, mode, name)
        except OSError as exc:
            raise stage.error(exc) from exc
        same = current is not None and _same_content(stage, current, dest, name)
        changes = _changes(current, same, mode, uid, gid)
        if not changes:
            log.debug("%s: %s is in sync", name, dest)
            pending.__exit__()
            return WriteResult(Outcome.IN_SYNC)
        log.debug("%s: %s differs: %s", name, dest, ", ".join(changes))
        if noop:
            text = stage.read().decode("utf-8", errors="replace")
            old = _read_text(current.fd, dest, name) if current else None
            pending.__exit__()
            return _would_update(target, old, text, changes, link)
    except BaseException:
        pending.__exit__()
        raise
    pending.changes = changes
    return pending


def _render_in_memory(produce: Producer, target: Target, name: str) -> str:
    """The output when there is nowhere to stage it (noop before its directory exists), size-limited."""
    pieces: list[str] = []
    size = 0

    def write(text: str) -> None:
        nonlocal size
        size += len(go_bytes(text))
        if size > target.max_size:
            raise Abort(too_large(name, target.max_size, target.dest))
        pieces.append(text)

    try:
        produce(write)
    except Abort as abort:
        raise abort.error from None
    return "".join(pieces)


def _would_update(
    target: Target, old: str | None, content: str, changes: tuple[str, ...], link: str | None
) -> WriteResult:
    from confpy.pipeline.diff import masked_diff, unified_diff  # difflib: only for -noop

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


def _read_current(dest: Path, name: str) -> tuple[_Current | None, str | None]:
    """The current dest (through a symlink, as confd compares), open, or None if there is none
    (nor, maybe, its directory: `_ensure_directory` tells); and where dest points if it is a
    symlink (the rename will replace the link itself). Opened without following links first: a
    dest that is no link, most, costs one open, not an open and a failing readlink. O_NONBLOCK:
    a FIFO in its place must not hang us."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    link = None
    try:
        try:
            fd = os.open(dest, flags | os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno != errno.ELOOP:  # ELOOP: a link (or a loop of them, which the next open tells)
                raise
            link = _symlink_target(dest)
            fd = os.open(dest, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None, link
    except OSError as exc:
        _is_directory(path=dest.parent, directory=dest.parent, name=name)  # its error, if it is the cause
        raise WriteError(f"{name}: cannot read destination {dest}: {exc.strerror}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise WriteError(f"{name}: destination {dest} is not a regular file")
    return _Current(fd, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, info.st_dev, info.st_size), link


def _symlink_target(dest: Path) -> str | None:
    """Where the link dest points (None: no longer a link, or gone)."""
    try:
        return os.readlink(dest)
    except OSError:
        return None


def _same_content(stage: Stage, current: _Current, dest: Path, name: str) -> bool:
    """Whether the current dest holds exactly the stage file's bytes, a chunk at a time (the
    stage's from memory when it was written in one piece)."""
    fd = current.fd
    try:
        if current.size != stage.size:
            return False
        if stage.data is not None:
            return read_fd(fd, stage.size) == stage.data
        offset = 0
        while offset < stage.size:
            new = os.pread(stage.fd, min(CHUNK, stage.size - offset), offset)  # not a CHUNK-sized buffer
            if not new or os.pread(fd, len(new), offset) != new:
                return False
            offset += len(new)
        return True
    except OSError as exc:
        raise WriteError(f"{name}: cannot read destination {dest}: {exc.strerror}") from exc


def _read_text(fd: int, dest: Path, name: str) -> str:
    """The current dest as text, for noop's diff."""
    try:
        return read_fd(fd, os.fstat(fd).st_size).decode("utf-8", errors="replace")
    except OSError as exc:
        raise WriteError(f"{name}: cannot read destination {dest}: {exc.strerror}") from exc


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


def _replace(stage: str, dest: Path, uid: int, gid: int, mode: int, name: str, sync_after: bool) -> bool:
    """Rename stage over dest (True); on EBUSY (a bind-mounted file) write in place (False).

    `sync_after`: fsync the new dest after the rename (Pending.sync_after_rename), opened by its
    name then, not before: nothing but the rename stands between the render and its readers.
    """
    try:
        os.rename(stage, dest)
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise WriteError(f"{name}: cannot replace {dest}: {exc.strerror}") from exc
    else:
        _fsync_after_rename(dest, name, file=sync_after)
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
                while chunk := os.read(source, CHUNK):
                    write_all(fd, chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
        finally:
            os.close(source)
    except OSError as exc:
        raise WriteError(f"{name}: cannot write {dest} in place: {exc.strerror}") from exc
    return False


def _fsync_after_rename(dest: Path, name: str, file: bool) -> None:
    """Make a rename durable: with `file`, the new dest (not fsynced before the rename), then its
    directory. Neither failure is raised: the content is in place and readers see it, so its
    reload must still run (an error line); some filesystems cannot fsync a directory (a warning)."""
    if file:
        try:
            _fsync_path(dest, os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            log.error("%s: cannot fsync %s after replacing it: %s", name, dest, exc.strerror)
    try:
        _fsync_path(dest.parent, os.O_DIRECTORY)
    except OSError as exc:
        log.warning("%s: cannot fsync directory %s: %s", name, dest.parent, exc.strerror)


def _fsync_path(path: Path, flags: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
