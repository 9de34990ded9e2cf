"""The demo's traffic dashboard: goaccess's live HTML report of the requests the apps logged.

The seed stack ends in Kibana, which Debian does not package; goaccess it does. The central log
agent writes one line per app request to ACCESS_LOG (templates/central-rsyslog.conf.j2) from the
events the forwarders sent it over TLS, so the dashboard shows only what made it through that
chain. goaccess tails the file and pushes every update over its WebSocket to the page (and the
whole report to each page that connects); the page itself is served from a thread. Everything
binds 127.0.0.1 and lives in one directory.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from loopback import free_port, wait_for

__all__ = ["LOG_FORMAT", "Dashboard", "missing_requirements"]

# The line the central agent writes: `sinatra-1 127.0.0.1 [2026-12-01T22:10:00.123Z] "GET /" 200`
# (the app as virtual host, the address that connected to it, its UTC time, the request, status).
LOG_FORMAT = '%v %h [%dT%t.%^] "%m %U" %s'
# Panels that this line has nothing for (no user agent, referrer, user, ...), and the client
# hosts: the apps' one client is nginx.
_IGNORED_PANELS = (
    "HOSTS",
    "OS",
    "BROWSERS",
    "REFERRERS",
    "REFERRING_SITES",
    "KEYPHRASES",
    "GEO_LOCATION",
    "REMOTE_USER",
    "CACHE_STATUS",
    "MIME_TYPE",
    "TLS_TYPE",
    "REQUESTS_STATIC",
)
_TITLE = "confpy demo: requests as the central log agent received them"
#: What goaccess prints once its WebSocket server listens: the page is live from then on.
_READY_NOTICE = "WebSocket server ready"
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # CSI sequences (ESC [ ... letter)


def missing_requirements() -> list[str]:
    """What the dashboard lacks on this machine, with the package that brings it."""
    return [] if shutil.which("goaccess") else ["goaccess (apt-get install goaccess)"]


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves the report's directory."""

    def log_message(self, format: str, *args: object) -> None:
        """No line per request: they would interleave with the demo's commentary."""


class Dashboard:
    """goaccess in real-time mode over `access_log`, its page served on 127.0.0.1."""

    def __init__(self, directory: Path, access_log: Path) -> None:
        self.directory = directory
        self.access_log = access_log
        self.ws_port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the dashboard is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def start(self, timeout: float = 10.0) -> str:
        """Start goaccess and the page's server; the page's URL once both answer."""
        www = self.directory / "www"
        www.mkdir(parents=True, exist_ok=True)
        self.access_log.parent.mkdir(parents=True, exist_ok=True)
        self.access_log.touch()
        handler = functools.partial(_QuietHandler, directory=str(www))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        log = self.directory / "goaccess.log"
        with log.open("ab") as out:
            self._proc = subprocess.Popen(
                self._command(www / "index.html"),
                # Its named pipes go under TMPDIR. Not --fifo-in/--fifo-out: goaccess 1.7 frees
                # those strings at exit as if it had allocated them, and aborts.
                env={**os.environ, "TMPDIR": str(self.directory)},
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: self._ready(www / "index.html", log), timeout, f"goaccess (see {log})", 0.05)
        return self.url

    def _command(self, html: Path) -> list[str]:
        ws = f"127.0.0.1:{self.ws_port}"
        return [
            "goaccess",
            str(self.access_log),
            "--no-global-config",
            f"--log-format={LOG_FORMAT}",
            "--date-format=%Y-%m-%d",
            "--time-format=%H:%M:%S",
            "--hour-spec=min",
            *(f"--ignore-panel={panel}" for panel in _IGNORED_PANELS),
            f"--html-report-title={_TITLE}",
            "--no-progress",
            "--no-parsing-spinner",
            "-o",
            str(html),
            "--real-time-html",
            "--addr=127.0.0.1",
            f"--port={self.ws_port}",
            f"--ws-url=ws://{ws}",
            f"--origin={self.url.rstrip('/')}",
        ]

    def _ready(self, html: Path, log: Path) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            # Its last line says why ("Unable to set bind: Address already in use."), but its
            # stdout and stderr share the log unsynchronised: on some machines its readiness
            # notice is written after the error, so that notice is never the reason.
            # Its progress display also writes terminal escapes (ESC [2K) on lines of their own.
            text = _ESCAPES.sub("", log.read_text(encoding="utf-8", errors="replace"))
            reasons = (line.strip() for line in reversed(text.split("\n")) if line.strip())
            reason = next((line for line in reasons if not line.startswith(_READY_NOTICE)), "no output")
            raise RuntimeError(f"goaccess exited with status {self._proc.returncode}: {reason} (see {log})")
        # Its own word, not a connection: something else may listen on the port.
        return html.exists() and _READY_NOTICE.encode() in log.read_bytes()

    def close(self, timeout: float = 5.0) -> None:
        """Stop goaccess (TERM, then KILL) and the page's server."""
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
