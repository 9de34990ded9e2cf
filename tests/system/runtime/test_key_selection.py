"""Which keys a resource reads, for every backend, in onetime and in watch mode.

confd reads a key as the key itself plus what lies below `key + "/"` (backends/etcdv3/client.go,
GetValues), and strips the resource prefix as written (resource/template/resource.go, setVars).
confpy applies that rule once, in `TemplateResource.view` and `owns`, whatever the backend.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from confpy.backends.base import Backend, Event
from confpy.backends.env import EnvBackend, env_name
from confpy.backends.etcd.backend import EtcdBackend
from confpy.backends.file import FileBackend
from confpy.backends.memory import MemoryBackend
from confpy.config.resource import load_resources
from confpy.config.settings import Settings
from confpy.pipeline.processor import RunRecord, run_once
from confpy.runtime.load import load_processors
from confpy.runtime.mirror import Mirror
from confpy.runtime.watch import WatchEngine
from tests.support.helpers import ConfpyProcess, make_confdir, wait_until

RESOURCES = {
    "db.toml": '[template]\nsrc = "db.j2"\ndest = "{out}/db.conf"\nkeys = ["/app/db"]\n',
    "app.toml": '[template]\nsrc = "app.j2"\ndest = "{out}/app.conf"\nprefix = "/prod/app"\nkeys = ["/"]\n',
    "marker.toml": '[template]\nsrc = "marker.j2"\ndest = "{out}/marker.conf"\nkeys = ["/marker"]\n',
}
TEMPLATES = {
    "db.j2": "host={{ getv('/app/db/host', '-') }} self={{ getv('/app/db', '-') }}"
    " sibling={{ getv('/app/dbx/host', '-') }}\n",
    "app.j2": "{{ ls('/') | join(',') }} {{ getv('/', '-') }} {{ getv('/lication/db', '-') }}\n",
    "marker.j2": "{{ getv('/marker', '-') }}\n",
}
# A key and a folder of the same name (/app/db and /app/db/host): files hold them in two files.
LEAVES = {"/app/db": "self", "/prod/app": "top"}
VALUES = {
    "/app/db/host": "h",
    "/app/dbx/host": "x",
    "/prod/app/db": "d",
    "/prod/application/db": "no",
}
WANT = {"db.conf": "host=h self=self sibling=-\n", "app.conf": "db top -\n"}


class Keys:
    """One backend, and how a test writes keys into it (every key under `root`)."""

    def __init__(self, backend: Backend, put: Callable[[str, str], object], root: str = "") -> None:
        self.backend = backend
        self.put = put
        self.root = root


def _memory(tmp_path: Path, request: pytest.FixtureRequest) -> Keys:
    backend = MemoryBackend({**LEAVES, **VALUES})
    return Keys(backend, backend.put)


def _etcd(tmp_path: Path, request: pytest.FixtureRequest) -> Keys:
    etcd = request.getfixturevalue("etcd")
    root = request.getfixturevalue("etcd_prefix")
    backend = EtcdBackend([etcd.url])
    for key, value in {**LEAVES, **VALUES}.items():
        backend.put(root + key, value)
    return Keys(backend, lambda k, v: backend.put(root + k, v), root)


def _file(tmp_path: Path, request: pytest.FixtureRequest) -> Keys:
    leaves, rest = tmp_path / "leaves.json", tmp_path / "rest.json"
    leaves.write_text(json.dumps(_nested(LEAVES)))
    current = dict(VALUES)

    def put(key: str, value: str) -> None:
        current[key] = value
        stage = tmp_path / ".rest.json"
        stage.write_text(json.dumps(_nested(current)))
        os.replace(stage, rest)

    put("/app/db/host", VALUES["/app/db/host"])
    return Keys(FileBackend([str(leaves), str(rest)]), put)


def _env(tmp_path: Path, request: pytest.FixtureRequest) -> Keys:
    environ = {env_name(k): v for k, v in {**LEAVES, **VALUES}.items()}
    return Keys(EnvBackend(environ), lambda k, v: environ.__setitem__(env_name(k), v))


def _nested(values: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in values.items():
        *folders, name = key.strip("/").split("/")
        node = tree
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = value
    return tree


BACKENDS = {"memory": _memory, "etcd": _etcd, "file": _file, "env": _env}


@pytest.fixture(params=sorted(BACKENDS))
def keys(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Keys]:
    made = BACKENDS[request.param](tmp_path, request)
    try:
        yield made
    finally:
        made.backend.close()


def _confdir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    resources = {name: text.replace("{out}", str(out)) for name, text in RESOURCES.items()}
    return make_confdir(tmp_path, resources, TEMPLATES)


def _read(tmp_path: Path, name: str) -> str:
    path = tmp_path / "out" / name
    return path.read_text() if path.exists() else ""


def test_onetime_reads_a_key_and_what_is_below_it_never_a_sibling(keys: Keys, tmp_path: Path) -> None:
    processors, errors = load_processors(Settings(confdir=_confdir(tmp_path), prefix=keys.root))
    assert not errors
    report = run_once(keys.backend, processors)
    assert report.ok, report.errors
    assert {name: _read(tmp_path, name) for name in WANT} == WANT


def test_watch_routes_events_with_the_same_boundary(keys: Keys, tmp_path: Path) -> None:
    if not keys.backend.supports_watch:
        pytest.skip(f"the {keys.backend.name} backend cannot watch (watch mode re-reads it every -interval)")
    processors, errors = load_processors(Settings(confdir=_confdir(tmp_path), prefix=keys.root, watch=True))
    assert not errors
    runs: list[RunRecord] = []
    engine = WatchEngine(keys.backend, processors, backoff_max=0.2, on_run=runs.append)
    engine.start()
    try:
        wait_until(lambda: engine.ready and _read(tmp_path, "marker.conf") == "-\n", what="first render")
        assert {name: _read(tmp_path, name) for name in WANT} == WANT
        keys.put("/app/dbx/host", "x2")
        keys.put("/prod/application/db", "no2")
        keys.put("/marker", "1")  # applied after the two above: once it is rendered, they were seen
        wait_until(lambda: _read(tmp_path, "marker.conf") == "1\n", what="the marker's render")
        keys.put("/app/db/host", "h2")
        # A run is recorded once its file is written: wait for the record, not the file.
        wait_until(lambda: [r.name for r in runs].count("db.toml") >= 2, what="db's second run")
        assert _read(tmp_path, "db.conf") == "host=h2 self=self sibling=-\n"
        assert _read(tmp_path, "app.conf") == WANT["app.conf"]
        # db ran at start and for /app/db/host only; app ran at start only.
        assert [r.name for r in runs].count("db.toml") == 2
        assert [r.name for r in runs].count("app.toml") == 1
    finally:
        engine.stop(timeout=5)


def test_the_mirror_routes_nothing_to_a_resource_that_reads_only_a_sibling(tmp_path: Path) -> None:
    resources, errors = load_resources(_confdir(tmp_path))
    assert not errors
    mirror = Mirror(resources)
    mirror.load({**LEAVES, **VALUES}, 1)
    for prefix in mirror.prefixes:
        assert (
            mirror.apply(prefix, [Event("/app/dbx/host", "x2", 2), Event("/prod/application/x", "y", 2)])
            == set()
        )
    assert mirror.apply("/app/db", [Event("/app/db/host", "h2", 3)]) == {"db.toml"}
    assert mirror.stores["db.toml"].getv("/app/db/host") == "h2"
    assert "/app/dbx/host" not in mirror.stores["db.toml"]


def test_a_sibling_read_by_another_resource_reaches_it_through_the_shared_watch(tmp_path: Path) -> None:
    """/app/dbx lies inside the text prefix /app/db, so both share one watch; only dbx.toml owns it."""
    confdir = _confdir(tmp_path)
    (confdir / "conf.d" / "dbx.toml").write_text(
        f'[template]\nsrc = "db.j2"\ndest = "{tmp_path}/out/dbx.conf"\nkeys = ["/app/dbx"]\n'
    )
    resources, errors = load_resources(confdir)
    assert not errors
    mirror = Mirror(resources)
    assert "/app/dbx" not in mirror.prefixes and "/app/db" in mirror.prefixes
    mirror.load({**LEAVES, **VALUES}, 1)
    assert dict(mirror.stores["dbx.toml"].items()) == {"/app/dbx/host": "x"}
    assert mirror.apply("/app/db", [Event("/app/dbx/host", "x2", 2)]) == {"dbx.toml"}
    assert mirror.stores["dbx.toml"].getv("/app/dbx/host") == "x2"


def test_confpy_watch_reloads_nothing_for_a_sibling_key(
    tmp_path: Path, etcd: Any, etcd_prefix: str, etcd_client: Any
) -> None:
    """The command as users run it: a put to /app/dbx/host runs no reload_cmd of a /app/db reader."""
    out = tmp_path / "out"
    out.mkdir()
    resources = {
        "db.toml": RESOURCES["db.toml"].replace("{out}", str(out))
        + f'reload_cmd = "echo r >> {out}/db.reloads"\n',
        "marker.toml": RESOURCES["marker.toml"].replace("{out}", str(out)),
    }
    confdir = make_confdir(tmp_path, resources, TEMPLATES)
    etcd_client.put(f"{etcd_prefix}/app/db/host", "h")
    args = (
        "-watch",
        "-backend",
        "etcdv3",
        "-node",
        etcd.url,
        "-confdir",
        str(confdir),
        "-prefix",
        etcd_prefix,
    )
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        wait_until(lambda: _read(tmp_path, "marker.conf") == "-\n", what="first render")
        wait_until(lambda: _read(tmp_path, "db.reloads") == "r\n", what="db's first reload")
        etcd_client.put(f"{etcd_prefix}/app/dbx/host", "x")
        etcd_client.put(f"{etcd_prefix}/marker", "1")
        wait_until(lambda: _read(tmp_path, "marker.conf") == "1\n", what="the marker's render")
        etcd_client.put(f"{etcd_prefix}/app/db/host", "h2")
        wait_until(lambda: _read(tmp_path, "db.reloads") == "r\nr\n", what="db's second reload")
        assert _read(tmp_path, "db.conf") == "host=h2 self=- sibling=-\n"
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    assert _read(tmp_path, "db.reloads") == "r\nr\n"
