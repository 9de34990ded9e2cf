"""Shared test helpers: build a confdir, run the confpy command as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["ConfpyProcess", "make_confdir", "run_confpy", "voluntary_switches", "wait_until"]


def make_confdir(root: Path, resources: Mapping[str, str], templates: Mapping[str, str]) -> Path:
    """A confdir with `conf.d/<name>` resource files and `templates/<name>` templates (both folders
    exist even when empty)."""
    confdir = root / "confdir"
    (confdir / "conf.d").mkdir(parents=True, exist_ok=True)  # without it a run is a configuration error
    for name, text in resources.items():
        path = confdir / "conf.d" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (confdir / "templates").mkdir(parents=True, exist_ok=True)
    for name, text in templates.items():
        path = confdir / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return confdir


def run_confpy(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m confpy ARGS` in a subprocess, output captured."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "CONFD_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "confpy", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
        check=False,
    )


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll until `predicate()` holds; fail the test after `timeout` seconds (a bound, not a benchmark)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


def voluntary_switches(thread: threading.Thread | int) -> int:
    """How often `thread` (one of this process's, or the main thread of the process with that PID)
    has blocked and been woken: a sleeping thread's count stays put however loaded the machine
    is, so counting over a pause tests idleness without timing anything."""
    if isinstance(thread, threading.Thread):
        task = f"self/task/{thread.native_id}"
    else:
        task = f"{thread}/task/{thread}"
    with open(f"/proc/{task}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt_switches"))


class ConfpyProcess:
    """`python -m confpy ARGS` running in the background, its log in a file the test can read."""

    def __init__(
        self,
        *args: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        """`wrapper` runs first and must exec Python with its arguments (`sh -c '...; exec "$@"'`)."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "CONFD_"))}
        full_env.update(env or {})
        self.log_path = log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "confpy", *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def wait_log(self, text: str, timeout: float = 15.0) -> None:
        wait_until(lambda: text in self.log, timeout, f"log line {text!r}")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()

    def __enter__(self) -> ConfpyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
