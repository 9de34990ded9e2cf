"""Measuring from outside the measured process: inotify on dest files, /proc for CPU and memory.

`FileProbe` timestamps every rename into (or close-after-write of) the watched files on a thread of
its own that blocks in `read(2)` on the inotify descriptor, so the timestamp is taken when the
kernel reports the change, not when the benchmark gets round to looking.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import statistics
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FileProbe",
    "Observation",
    "cpu_seconds",
    "percentile",
    "rss_kib",
    "summarize",
    "thread_count",
]

_IN_CLOSE_WRITE = 0x00000008
_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")
_CLK_TCK = os.sysconf("SC_CLK_TCK")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]


@dataclass(frozen=True)
class Observation:
    """A watched file's content right after the kernel reported it was replaced or written."""

    time: float  # time.perf_counter() when the event was read
    name: str
    content: str


class FileProbe:
    """Records every new version of the files named `names` in `directory` (rename or close-write)."""

    def __init__(self, directory: Path, names: Iterable[str] | None = None) -> None:
        self.directory = directory
        self.names = set(names) if names is not None else None
        self.observations: list[Observation] = []
        self._cond = threading.Condition()
        fd = _libc.inotify_init1(_IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._fd = fd
        mask = _IN_MOVED_TO | _IN_CLOSE_WRITE | _IN_CREATE
        if _libc.inotify_add_watch(fd, str(directory).encode(), mask) < 0:
            os.close(fd)
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {directory} failed")
        self._rpipe, self._wpipe = os.pipe()
        self._thread = threading.Thread(target=self._loop, name="bench-inotify", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import select

        while True:
            ready, _, _ = select.select([self._fd, self._rpipe], [], [])
            if self._rpipe in ready:
                return
            data = os.read(self._fd, 65536)
            now = time.perf_counter()
            offset = 0
            seen: list[str] = []
            while offset < len(data):
                _wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                raw = data[offset + _EVENT.size : offset + _EVENT.size + length]
                offset += _EVENT.size + length
                name = raw.rstrip(b"\0").decode()
                if mask & (_IN_MOVED_TO | _IN_CLOSE_WRITE) and (self.names is None or name in self.names):
                    seen.append(name)
            found = []
            for name in dict.fromkeys(seen):
                try:
                    content = (self.directory / name).read_text()
                except OSError:
                    continue
                found.append(Observation(now, name, content))
            if found:
                with self._cond:
                    self.observations.extend(found)
                    self._cond.notify_all()

    def wait_for(
        self, name: str, accept: Callable[[str], bool], *, since: int = 0, timeout: float = 2.0
    ) -> Observation | None:
        """The first observation (at index >= `since`) of `name` whose content `accept`s; None on timeout."""
        deadline = time.monotonic() + timeout
        index = since
        with self._cond:
            while True:
                while index < len(self.observations):
                    obs = self.observations[index]
                    index += 1
                    if obs.name == name and accept(obs.content):
                        return obs
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def mark(self) -> int:
        """An index for `wait_for(since=...)`: only what is observed from now on."""
        with self._cond:
            return len(self.observations)

    def close(self) -> None:
        os.write(self._wpipe, b"x")
        self._thread.join(2.0)
        for fd in (self._fd, self._rpipe, self._wpipe):
            os.close(fd)


def _proc_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as fh:
        text = fh.read()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process and all its threads so far."""
    fields = _proc_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def thread_count(pid: int) -> int:
    return int(_proc_fields(pid)[17])


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """VmRSS (now) or VmHWM (peak) of a running process, in KiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(values: Sequence[float], scale: float = 1000.0) -> dict[str, float]:
    """Median, p99 and max of `values` times `scale` (seconds to milliseconds by default)."""
    return {
        "p50": round(statistics.median(values) * scale, 3),
        "p99": round(percentile(values, 99) * scale, 3),
        "max": round(max(values) * scale, 3),
    }
