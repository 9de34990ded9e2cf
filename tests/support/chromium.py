"""Headless Chromium driven over the DevTools protocol on a pipe, to read pages their script fills.

`chromium --dump-dom` dumps the page once it has loaded, before data that its script receives
later (over a WebSocket, say) is shown; a test that reads the page through the protocol can wait
for what it looks for instead, with a deadline. The protocol runs on the two pipes Chromium
expects with `--remote-debugging-pipe` (it reads fd 3, writes fd 4; NUL-terminated JSON), so no
port is opened for it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["FLAGS", "Chromium", "ChromiumError"]

# No sandbox (tests run as root), no GPU, /tmp rather than a container's small /dev/shm, and
# nothing that talks to the network on its own.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class ChromiumError(RuntimeError):
    """Chromium failed, ended, or did not answer in time."""


class Chromium:
    """One headless Chromium with a fresh profile in `profile`; every call answers within `timeout` s."""

    def __init__(self, profile: Path, timeout: float = 30.0, size: tuple[int, int] = (1280, 900)) -> None:
        self.profile = profile
        self.timeout = timeout
        self.size = size
        self._next_id = 0
        self._buffer = b""
        self._proc: subprocess.Popen[bytes] | None = None
        self._to_browser = self._from_browser = -1

    @staticmethod
    def binary() -> str | None:
        return shutil.which("chromium")

    def __enter__(self) -> Chromium:
        binary = self.binary()
        if binary is None:
            raise ChromiumError("chromium is not installed (apt-get install chromium)")
        self.profile.mkdir(parents=True, exist_ok=True)
        commands, self._to_browser = os.pipe()
        self._from_browser, answers = os.pipe()
        commands, answers = _above_4(commands), _above_4(answers)
        width, height = self.size
        argv = [
            binary,
            *FLAGS,
            f"--user-data-dir={self.profile / 'data'}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # bash puts the pipe ends where Chromium looks for them (dash takes only one-digit fds).
        script = f'exec "$@" 3<&{commands} 4>&{answers} {commands}<&- {answers}>&-'
        with (self.profile / "chromium.log").open("ab") as log:
            self._proc = subprocess.Popen(
                ["/bin/bash", "-c", script, "bash", *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(commands, answers),
                # Its crash database and dconf go under HOME and the XDG directories, not the user's.
                env={
                    **os.environ,
                    "HOME": str(self.profile),
                    "XDG_CONFIG_HOME": str(self.profile / "config"),
                    "XDG_CACHE_HOME": str(self.profile / "cache"),
                },
                start_new_session=True,
            )
        os.close(commands)
        os.close(answers)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask the browser to close, then kill it if it has not within the timeout."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            with contextlib.suppress(ChromiumError):
                self.call("Browser.close")
            try:
                self._proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        self._proc = None

    # -- the protocol -----------------------------------------------------------------------------

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and return its result, skipping the events that come before it."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") != self._next_id:
                continue
            if "error" in answer:
                raise ChromiumError(f"{method}: {answer['error'].get('message', answer['error'])}")
            result: dict[str, Any] = answer.get("result", {})
            return result

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise ChromiumError(f"no answer within {self.timeout:g} s{self._log_tail()}")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise ChromiumError(f"chromium ended{self._log_tail()}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def _log_tail(self) -> str:
        try:
            lines = (self.profile / "chromium.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "; its output ends:\n" + "\n".join(lines[-10:])

    # -- pages ------------------------------------------------------------------------------------

    def open(self, url: str) -> str:
        """A new tab showing `url`; its session, for `text` and `screenshot`."""
        target = self.call("Target.createTarget", url=url)["targetId"]
        session: str = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise ChromiumError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def text(self, session: str) -> str:
        """What the page shows as text now ("" before it has a body)."""
        return str(self.evaluate(session, "document.body ? document.body.innerText : ''"))

    def screenshot(self, session: str, path: Path) -> None:
        """The page as shown, as a PNG file."""
        data = self.call("Page.captureScreenshot", session, format="png")["data"]
        path.write_bytes(base64.b64decode(data))


def _above_4(fd: int) -> int:
    """`fd` moved to a number above 4, so that putting the pipes on 3 and 4 overwrites neither."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(fd)
    return moved
