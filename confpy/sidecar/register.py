"""`confpy register`: keep keys in the backend for exactly as long as this process lives.

The keys are put on one lease (any `LeaseBackend`: etcd, or the memory backend in process) that
is refreshed every TTL/3. A process that crashes stops refreshing, and the backend deletes its
keys when the lease expires; a clean stop revokes the lease at once. A lease can still be lost
while the process lives (etcd unreachable for longer than the TTL, or `etcdctl lease revoke`): a
refresh then finds TTL 0, and the keys are put again on a new lease. While the backend is
unreachable the refresh is retried with a bounded backoff.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from collections.abc import Mapping

from confpy.backends.backoff import Backoff
from confpy.backends.base import LeaseBackend
from confpy.config.backend import open_backend
from confpy.config.duration import parse_duration
from confpy.config.settings import Settings
from confpy.errors import BackendError, ConfigError
from confpy.runtime.signals import SignalRelay, stop_once

__all__ = ["Registration", "open_lease_backend", "parse_entry", "parse_ttl", "run_register"]

log = logging.getLogger("confpy")

#: The shortest refresh period: etcd's own minimum TTL is about 2 s.
MIN_PERIOD = 0.5


def parse_entry(text: str) -> tuple[str, str]:
    """`KEY=VALUE` (as `-register` takes it); the value may itself contain "="."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"-register {text!r}: expected KEY=VALUE, e.g. /services/web/10.0.0.5=10.0.0.5:80")
    return key, value


def parse_ttl(text: str) -> int:
    """`-ttl` as a duration ("15s", "1m") or seconds; etcd leases count whole seconds, so up."""
    seconds = math.ceil(parse_duration(text, "-ttl"))
    if seconds < 1:
        raise ConfigError(f"-ttl must be at least 1 s, got {text!r}")
    return seconds


def open_lease_backend(settings: Settings, what: str) -> LeaseBackend:
    """The backend of `settings`, which must hold leases; `what` (a command) refuses the others.

    Of the backends that settings can name only etcd holds leases (env, file, redis and zookeeper
    cannot), so the message names it.
    """
    backend = open_backend(settings)
    if not isinstance(backend, LeaseBackend):
        backend.close()
        raise ConfigError(f"{what} needs the etcd backend, not {settings.backend!r}")
    return backend


class Registration:
    """Puts `entries` on a lease of `ttl` seconds and keeps it alive on a thread until `stop()`."""

    def __init__(
        self, backend: LeaseBackend, entries: Mapping[str, str], ttl: int, *, backoff_max: float = 5.0
    ) -> None:
        if ttl < 1:
            raise ConfigError(f"-ttl must be at least 1 s, got {ttl}")
        self.backend = backend
        self.entries = dict(entries)
        self.ttl = ttl
        self.names = ", ".join(self.entries)
        self.lease = 0
        self.registered = threading.Event()
        self._period = max(MIN_PERIOD, ttl / 3)
        self._backoff = Backoff(first=0.2, cap=backoff_max, jitter=0.2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="confpy-register", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> bool:
        """Stop refreshing and revoke the lease, which deletes the keys; False if that failed.

        Revoking (rather than deleting the keys) leaves alone a key that another instance has
        registered since, on a lease of its own.
        """
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        if not self.lease:
            return True
        try:
            self.backend.revoke_lease(self.lease)
        except BackendError as exc:
            log.warning("cannot deregister %s (%s); etcd deletes them within %d s", self.names, exc, self.ttl)
            return False
        self.lease = 0
        self.registered.clear()
        log.info("deregistered %s", self.names)
        return True

    def _loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                delay = self._step()
                failures = 0
            except BackendError as exc:
                failures += 1
                delay = min(self._period, self._backoff.delay(failures))
                if self.registered.is_set():
                    log.warning("cannot keep %s registered: %s; retrying in %.1f s", self.names, exc, delay)
                else:
                    self.lease = 0  # a half-made registration starts over; its lease expires unused
                    log.warning("cannot register %s: %s; retrying in %.1f s", self.names, exc, delay)
            self._stopping.wait(delay)

    def _step(self) -> float:
        """Register if not registered, refresh otherwise; the seconds until the next step."""
        if not self.registered.is_set():
            lease, granted = self.backend.grant_lease(self.ttl)
            self.lease = lease
            self._period = max(MIN_PERIOD, granted / 3)
            self.backend.put_on_lease(self.entries, lease)
            self.registered.set()
            log.info("registered %s (lease %x, TTL %d s)", self.names, lease, granted)
            return self._period
        left = self.backend.keep_alive(self.lease)
        if left > 0:
            log.debug("lease %x of %s refreshed: %d s left", self.lease, self.names, left)
            return self._period
        log.warning("the lease of %s has expired or was revoked; registering again", self.names)
        self.lease = 0
        self.registered.clear()
        return 0.0


def run_register(settings: Settings, key: str, value: str, ttl: int) -> int:
    """Register `key` until SIGTERM or SIGINT, then deregister; the exit status.

    A second signal exits at once (the key then goes when its lease expires).
    """
    stop = threading.Event()
    with SignalRelay((signal.SIGTERM, signal.SIGINT), lambda signum: stop_once(stop, signum)):
        backend = open_lease_backend(settings, "confpy register")
        try:
            registration = Registration(backend, {key: value}, ttl)
            registration.start()
            stop.wait()
            registration.stop()
        finally:
            backend.close()
    return 0
