"""Registration on the memory backend, in process: the lease protocol is all `register` and
`exec -register` need, so they run on any `LeaseBackend`; the real-etcd runs are in
tests/system/sidecar/."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from confpy.backends.base import Event
from confpy.backends.memory import MemoryBackend
from confpy.config import backend as backend_config
from confpy.config.settings import Settings
from confpy.errors import ConfigError
from confpy.sidecar import exec as exec_mode
from confpy.sidecar import register
from confpy.sidecar.register import Registration, open_lease_backend, run_register
from tests.support.helpers import make_confdir, wait_until

Item = list[Event] | Exception


def events_of(seen: list[Item]) -> list[Event]:
    events: list[Event] = []
    for item in seen:
        assert isinstance(item, list), item
        events.extend(item)
    return events


def test_keys_share_one_lease_and_go_on_stop() -> None:
    backend = MemoryBackend()
    seen: list[Item] = []
    backend.watch("/svc/", 0, seen.append)
    registration = Registration(backend, {"/svc/a": "1", "/svc/b": "2"}, ttl=30)
    registration.start()
    assert registration.registered.wait(10)
    assert backend.read(["/svc/"]).values == {"/svc/a": "1", "/svc/b": "2"}
    lease = registration.lease
    assert registration.stop() is True
    assert backend.read(["/svc/"]).values == {}
    assert backend.keep_alive(lease) == 0  # revoked, not left to expire
    put, deleted = backend.revision - 1, backend.revision
    assert events_of(seen) == [
        Event("/svc/a", "1", put),
        Event("/svc/b", "2", put),
        Event("/svc/a", None, deleted),
        Event("/svc/b", None, deleted),
    ]


def test_a_revoked_lease_is_replaced_and_the_keys_put_again() -> None:
    backend = MemoryBackend()
    registration = Registration(backend, {"/k": "v"}, ttl=1)
    registration.start()
    try:
        assert registration.registered.wait(10)
        first = registration.lease
        assert backend.revoke_lease(first) is True
        wait_until(
            lambda: registration.lease not in (0, first) and backend.read(["/k"]).values == {"/k": "v"},
            timeout=10,
            what="re-registration",
        )
    finally:
        assert registration.stop() is True
    assert backend.read(["/k"]).values == {}


@pytest.mark.parametrize("name", ["env", "file", "redis", "zookeeper"])
def test_backends_without_leases_are_refused(tmp_path: Path, name: str) -> None:
    settings = Settings(backend=name, files=(str(tmp_path),))
    with pytest.raises(ConfigError) as caught:
        open_lease_backend(settings, "confpy register")
    assert str(caught.value) == f"confpy register needs the etcd backend, not {name!r}"


def test_run_register_deregisters_on_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryBackend()
    monkeypatch.setattr(register, "open_backend", lambda settings: backend)

    def stop_once_registered() -> None:
        wait_until(lambda: backend.read(["/k"]).values == {"/k": "v"}, what="registration")
        os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_once_registered)
    stopper.start()
    assert run_register(Settings(), "/k", "v", 30) == 0
    stopper.join()
    assert backend.read(["/k"]).values == {}


def test_exec_registers_before_the_command_and_deregisters_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = MemoryBackend({"/db": "one"})
    seen: list[Item] = []
    backend.watch("/services/", 0, seen.append)
    monkeypatch.setattr(register, "open_backend", lambda settings: backend)
    monkeypatch.setattr(
        backend_config, "open_backend", lambda settings: pytest.fail("opened a second backend")
    )
    dest = tmp_path / "app.conf"
    resource = f'[template]\nsrc = "app.j2"\ndest = "{dest}"\nkeys = ["/db"]\n'
    confdir = make_confdir(tmp_path, {"app.toml": resource}, {"app.j2": 'db={{ getv("/db") }}\n'})
    me = "/services/me"
    # Waiting for its own key makes the command start only once the registration is in place.
    assert (
        exec_mode.run_exec(Settings(confdir=confdir), ["true"], wait_for=[me], register={me: "10.0.0.5:80"})
        == 0
    )
    assert dest.read_text() == "db=one\n"
    assert [(e.key, e.value) for e in events_of(seen)] == [(me, "10.0.0.5:80"), (me, None)]
