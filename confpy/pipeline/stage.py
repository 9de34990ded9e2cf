"""The stage file: where a render is streamed before it may replace the destination.

Part of the writer (`writer.py` compares, checks and renames; this module makes the file it
works on). The stage file sits in the destination's own directory, so the final rename is
atomic, and is created owner-only, never more permissive than the final mode. Where the
filesystem allows it the stage file is an O_TMPFILE, which has no name until it is linked (for
check_cmd, which needs a path, or for the rename): a kill at any other moment leaves nothing on
disk. A named stage file (`.<dest>.confpy-<pid>-<run>-<serial>`) that a killed confpy left
behind is removed at the next start by `remove_stale_stages`.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

from confpy._go.strconv import go_bytes
from confpy.config.size import format_size
from confpy.errors import ConfpyError, TemplateError, WriteError

__all__ = ["CHUNK", "Abort", "Stage", "read_fd", "remove_stale_stages", "too_large", "write_all"]

log = logging.getLogger("confpy")

CHUNK = 1 << 20
"""Bytes read at a time to compare or copy files."""
_FLUSH_AT = 1 << 16  # characters of output buffered before they go to the stage file
# This process's mark in its stage files' names. os.urandom is what secrets.token_hex reads;
# importing secrets (random, hashlib, hmac, base64) cost ~4 ms of every -onetime.
_RUN = os.urandom(4).hex()
# The last part of a stage file's name: this process's pid and run make it unique, a serial number
# keeps it so within the run (where os.urandom would cost a getrandom call per write).
_SERIAL = itertools.count()
# A stage file's name: dest's name, pid, run. Like the one below, compiled on first use (re's
# cache): only a directory with a file whose name starts with "." needs them.
_STAGE_NAME = r"\.(.+)\.confpy-(\d+)-([0-9a-f]{8})-[0-9a-f]{8}"
# The names earlier confpy versions gave their stage files: `.<dest>.<8 random hex digits>`. One of
# the digits must be a letter, so that a user's `.app.conf.20261201` is never taken for one.
_OLD_STAGE_NAME = r"\.(.+)\.(?=[0-9]*[a-f])[0-9a-f]{8}"
_PROC_FD = "/proc/self/fd"


class Abort(BaseException):
    """Carries an error out of a render in progress.

    A BaseException, so that the template engines' own error handling, which wraps every
    Exception as a template error at some line, lets it through unchanged.
    """

    def __init__(self, error: ConfpyError) -> None:
        super().__init__(str(error))
        self.error = error


class Stage:
    """The stage file being written: buffered, limited to `limit` bytes, named lazily."""

    def __init__(self, dest: Path, mode: int, name: str, limit: int) -> None:
        self.dest = dest
        self.limit = limit
        self.name = name
        self.fd, self.path = _open_stage(dest, mode, name)
        self.size = 0
        #: The file's whole content while it was written in one piece (most configs): compared
        #: with the dest without reading it back.
        self.data: bytes | None = None
        self._pending: list[str] = []
        self._chars = 0

    def write(self, text: str) -> None:
        self._pending.append(text)
        self._chars += len(text)
        if self._chars >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        data = go_bytes("".join(self._pending))  # Go's non-UTF-8 bytes
        self._pending.clear()
        self._chars = 0
        self.data = data if not self.size else None
        self.size += len(data)
        if self.size > self.limit:
            raise Abort(too_large(self.name, self.limit, self.dest))
        try:
            write_all(self.fd, data)
        except OSError as exc:
            raise Abort(self.error(exc)) from exc

    def error(self, exc: OSError) -> WriteError:
        where = self.path or f"in {self.dest.parent}"
        return WriteError(f"{self.name}: cannot write stage file {where}: {exc.strerror}")

    def link(self) -> str:
        """The stage file's path, giving an O_TMPFILE a name in dest's directory first."""
        if self.path is None:
            self.path = _link_stage(self.fd, self.dest, self.name)
        return self.path

    def read(self) -> bytes:
        return self.data if self.data is not None else read_fd(self.fd, self.size)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def remove_stale_stages(dests: Mapping[Path, str]) -> None:
    """Remove the stage files of these dests (each with the name its messages use) that a confpy
    killed mid-write left behind.

    Only names of confpy's own pattern for one of these dests, made by a process that is gone (or
    by an earlier process with this pid: confpy is often pid 1 in a container), are touched, and
    those of earlier confpy versions (which name no process). One scan per directory, however many
    resources write into it.
    """
    by_directory: dict[Path, dict[str, str]] = {}
    for dest, label in dests.items():
        by_directory.setdefault(dest.parent, {})[dest.name] = label
    for directory, names in by_directory.items():
        try:
            entries = [e for e in os.scandir(directory) if e.name.startswith(".")]
        except OSError:
            continue  # no directory yet, or not readable: writing will say so
        for entry in entries:
            if not entry.name.startswith("."):
                continue
            match = re.fullmatch(_STAGE_NAME, entry.name) or re.fullmatch(_OLD_STAGE_NAME, entry.name)
            if match is None or match[1] not in names or not entry.is_file(follow_symlinks=False):
                continue
            if match.re.pattern == _STAGE_NAME:
                pid, run = int(match[2]), match[3]
                if (pid == os.getpid() and run == _RUN) or (pid != os.getpid() and _alive(pid)):
                    continue
            name = names[match[1]]
            # About the resource the label names; a label that is the dest names none.
            about = {"resource": None if name == str(directory / match[1]) else name}
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning(
                    "%s: cannot remove stale stage file %s: %s", name, entry.path, exc.strerror, extra=about
                )
                continue
            log.info(
                "%s: removed stale stage file %s (left by a confpy that was killed)",
                name,
                entry.path,
                extra=about,
            )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def too_large(name: str, limit: int, dest: Path) -> TemplateError:
    return TemplateError(
        f"{name}: the output is larger than max_output_size ({format_size(limit)}): "
        f"rendering stopped, {dest} not changed"
    )


def read_fd(fd: int, size: int) -> bytes:
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, min(CHUNK, size - offset), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


# The write path names files with os.path on the dest's str, not pathlib: each Path a write made
# (`dest.parent`, `dest.with_name`) cost 20-30 us between puts, a fifth of a render.


def _stage_path(dest: Path) -> str:
    serial = next(_SERIAL) & 0xFFFFFFFF
    return f"{_stage_prefix(dest)}{os.getpid()}-{_RUN}-{serial:08x}"


@functools.lru_cache(maxsize=4096)
def _stage_prefix(dest: Path) -> str:
    """What the names of dest's stage files start with: its directory and `.<name>.confpy-`."""
    directory, base = os.path.split(dest)
    return os.path.join(directory, f".{base}.confpy-")


def _open_stage(dest: Path, mode: int, name: str) -> tuple[int, str | None]:
    """A stage file in dest's directory, never readable by more than mode allows: an O_TMPFILE
    (no name: None) where the filesystem and /proc allow one, else a new file of its own name."""
    try:
        if _proc_fd() is not None:
            try:
                flags = os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC
                return os.open(os.path.dirname(dest) or ".", flags, mode & 0o600), None
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
def _proc_fd() -> int | None:
    """This process's /proc/self/fd, open for the process's life, through which an O_TMPFILE is
    linked; None without /proc, where stage files are named."""
    try:
        return os.open(_PROC_FD, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None


def _forget_proc_fd() -> None:
    """In a forked child: the parent's /proc/self/fd, open in it, names the parent's files."""
    if _proc_fd.cache_info().currsize:
        fd = _proc_fd()
        _proc_fd.cache_clear()
        if fd is not None:
            os.close(fd)


os.register_at_fork(after_in_child=_forget_proc_fd)


def _link_stage(fd: int, dest: Path, name: str) -> str:
    """Give the O_TMPFILE `fd` a stage file name next to dest.

    linkat(2) with AT_SYMLINK_FOLLOW links the file /proc's magic symlink stands for (link(2)
    would link the symlink itself: EXDEV); os.link calls linkat when given a directory fd.
    """
    proc = _proc_fd()
    assert proc is not None  # an O_TMPFILE is only opened when there is one
    while True:
        stage = _stage_path(dest)
        try:
            os.link(str(fd), stage, src_dir_fd=proc, follow_symlinks=True)
            return stage
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteError(f"{name}: cannot name the stage file {stage}: {exc.strerror}") from exc


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
