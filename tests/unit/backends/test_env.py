"""The env backend: confd's mapping between key prefixes and environment variable names."""

from __future__ import annotations

import pytest

from confpy.backends.env import EnvBackend, env_key, env_name
from confpy.errors import BackendError

ENVIRON = {
    "APP_DB_HOST": "db.local",
    "APP_DB_PORT": "5432",
    "APP_DBX": "prefix-match",
    "APP_NAME": "shop",
    "app_db_lower": "not matched: confd compares names as they are",
    "OTHER": "o",
}


def test_names_and_keys_map_as_in_confd() -> None:
    assert env_name("/app/db") == "APP_DB"
    assert env_name("app/db/") == "APP_DB_"
    assert env_key("APP_DB_HOST") == "/app/db/host"
    assert env_key("MY__VAR") == "/my//var"


def test_a_prefix_selects_every_variable_whose_name_starts_with_it() -> None:
    snapshot = EnvBackend(ENVIRON).read(["/app/db"])
    assert snapshot.values == {"/app/db/host": "db.local", "/app/db/port": "5432", "/app/dbx": "prefix-match"}
    assert snapshot.revision == 0


def test_several_prefixes_and_exact_keys() -> None:
    values = EnvBackend(ENVIRON).read(["/app/db/host", "/app/name", "/missing"]).values
    assert values == {"/app/db/host": "db.local", "/app/name": "shop"}


def test_the_root_prefix_selects_everything() -> None:
    values = EnvBackend(ENVIRON).read(["/"]).values
    assert values["/other"] == "o"
    assert values["/app/db/lower"] == ENVIRON["app_db_lower"]
    assert len(values) == len(ENVIRON)
    assert EnvBackend(ENVIRON).read([]).values == {}


def test_the_process_environment_is_read_at_each_read(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = EnvBackend()
    monkeypatch.setenv("CONFPY_TEST_ENV_KEY", "1")
    assert backend.read(["/confpy/test/env"]).values == {"/confpy/test/env/key": "1"}
    monkeypatch.setenv("CONFPY_TEST_ENV_KEY", "2")
    assert backend.read(["/confpy/test/env"]).values == {"/confpy/test/env/key": "2"}


def test_the_environment_cannot_be_watched() -> None:
    backend = EnvBackend(ENVIRON)
    assert backend.supports_watch is False
    with pytest.raises(BackendError, match="env backend cannot watch"):
        backend.watch("/app", 1, lambda item: None)
