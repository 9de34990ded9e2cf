"""The file backend: confd's flattening of YAML/JSON, folders and filters, errors, and watching."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.backends.base import Event
from confpy.backends.file import HISTORY, FileBackend
from confpy.errors import BackendError, ConfigError, RevisionCompactedError

# confd's own test data (backends/file/client_test.go): two files merged.
CONFIG_MAP = """---
key: foobar
database:
  host: 127.0.0.1
  port: "3306"
upstream:
  app1: 10.0.1.10:8080
  app2: 10.0.1.11:8080
prefix:
  database:
    host: 127.0.0.1
    port: "3306"
  upstream:
    app1: 10.0.1.10:8080
    app2: 10.0.1.11:8080
"""
SECRETS = """---
database:
  password: p@sSw0rd
  username: confd
prefix:
  database:
    password: p@sSw0rd
    username: confd
"""
EXPECTED = {
    "/key": "foobar",
    "/database/host": "127.0.0.1",
    "/database/password": "p@sSw0rd",
    "/database/port": "3306",
    "/database/username": "confd",
    "/upstream/app1": "10.0.1.10:8080",
    "/upstream/app2": "10.0.1.11:8080",
    "/prefix/database/host": "127.0.0.1",
    "/prefix/database/password": "p@sSw0rd",
    "/prefix/database/port": "3306",
    "/prefix/database/username": "confd",
    "/prefix/upstream/app1": "10.0.1.10:8080",
    "/prefix/upstream/app2": "10.0.1.11:8080",
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def replace(path: Path, text: str) -> None:
    """Write as editors and Kubernetes do: a temp file renamed over the old one."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text)
    os.replace(temp, path)


def test_confd_files_merge_into_its_expected_keys(tmp_path: Path) -> None:
    config = write(tmp_path / "config.yml", CONFIG_MAP)
    secrets = write(tmp_path / "secrets.yml", SECRETS)
    assert FileBackend([str(config), str(secrets)]).read(["/"]).values == EXPECTED


def test_later_files_override_earlier_ones(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", "db:\n  password: one\n  user: u\n")
    b = write(tmp_path / "b.yaml", "db:\n  password: two\n")
    assert FileBackend([str(a), str(b)]).read(["/"]).values == {"/db/password": "two", "/db/user": "u"}
    assert FileBackend([str(b), str(a)]).read(["/"]).values == {"/db/password": "one", "/db/user": "u"}


def test_read_keeps_keys_that_start_with_a_prefix(tmp_path: Path) -> None:
    f = write(tmp_path / "c.yml", CONFIG_MAP)
    values = FileBackend([str(f)]).read(["/database", "/upstream/app1"]).values
    assert values == {
        "/database/host": "127.0.0.1",
        "/database/port": "3306",
        "/upstream/app1": "10.0.1.10:8080",
    }
    assert FileBackend([str(f)]).read([]).values == {}


def test_lists_nesting_and_nulls_flatten_as_confd(tmp_path: Path) -> None:
    f = write(
        tmp_path / "l.yaml",
        "hosts: [a, b]\n"
        "servers:\n  - name: s1\n    port: 80\n  - [x, z]\n  - null\n  - last\n"
        "empty:\nnested: {deep: {er: 1}}\n'': root\n",
    )
    assert FileBackend([str(f)]).read(["/"]).values == {
        "/hosts/0": "a",
        "/hosts/1": "b",
        "/servers/0/name": "s1",
        "/servers/0/port": "80",
        "/servers/1/0": "x",
        "/servers/1/1": "z",
        "/servers/3": "last",
        "/nested/deep/er": "1",
        "/": "root",
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", "true"),
        ("False", "false"),
        ("yes", "true"),
        ("y", "true"),
        ("off", "false"),
        ("'yes'", "yes"),
        ("42", "42"),
        ("-7", "-7"),
        ("0755", "493"),
        ("0o17", "15"),
        ("0x1F", "31"),
        ("0b101", "5"),
        ("1_000", "1000"),
        ("1.5", "1.5"),
        ("2.50", "2.5"),
        ("3.0", "3"),
        ("1e3", "1000"),
        ("1e21", "1000000000000000000000"),
        ("1.5e-7", "0.00000015"),
        (".5", "0.5"),
        ("08", "8"),
        (".inf", "+Inf"),
        ("-.inf", "-Inf"),
        (".nan", "NaN"),
        ("1e400", "1e400"),
        ("12:30", "12:30"),
        ("2001-12-14", "2001-12-14"),
        ('"007"', "007"),
        ("hello world", "hello world"),
        ("!!str 1", "1"),
        ("|\n  two\n  lines", "two\nlines\n"),
    ],
)
def test_scalars_print_as_confd_prints_them(tmp_path: Path, text: str, value: str) -> None:
    f = write(tmp_path / "s.yaml", f"v: {text}\n")
    assert FileBackend([str(f)]).read(["/"]).values == {"/v": value}


def test_nulls_and_keys_as_written(tmp_path: Path) -> None:
    f = write(tmp_path / "n.yaml", "a: ~\nb: null\nc:\n1: one\ny: yes\n")
    assert FileBackend([str(f)]).read(["/"]).values == {"/1": "one", "/y": "true"}


def test_merge_keys(tmp_path: Path) -> None:
    f = write(tmp_path / "m.yaml", "base: &b {u: 1, v: 2}\nderived:\n  <<: *b\n  v: 3\n")
    assert FileBackend([str(f)]).read(["/derived"]).values == {"/derived/u": "1", "/derived/v": "3"}


def test_json_files(tmp_path: Path) -> None:
    f = write(tmp_path / "c.json", '{\n\t"a": {"b": [1, 2.0, true, null, "x"]},\n\t"c": 1e3\n}\n')
    assert FileBackend([str(f)]).read(["/"]).values == {
        "/a/b/0": "1",
        "/a/b/1": "2",
        "/a/b/2": "true",
        "/a/b/4": "x",
        "/c": "1000",
    }


def test_folders_are_walked_in_lexical_order_with_the_filter(tmp_path: Path) -> None:
    root = tmp_path / "conf"
    write(root / "a.yml", "k: from-a\nonly_a: 1\n")
    write(root / "b" / "x.yml", "k: from-b-x\n")
    write(root / "c.yml", "k: from-c\n")
    write(root / "c.txt", "txt: 1\n")
    write(root / "d" / "e" / "deep.yml", "deep: 1\n")
    backend = FileBackend([str(root)], filter="*.yml")
    assert backend.read(["/"]).values == {"/k": "from-c", "/only_a": "1", "/deep": "1"}
    assert FileBackend([str(root)]).read(["/txt"]).values == {"/txt": "1"}


def test_an_explicit_file_is_read_whatever_the_filter(tmp_path: Path) -> None:
    f = write(tmp_path / "settings.conf", "a: 1\n")
    assert FileBackend([str(f)], filter="*.yml").read(["/"]).values == {"/a": "1"}


def test_symlinked_files_are_followed(tmp_path: Path) -> None:
    target = write(tmp_path / "real" / "t.yml", "a: 1\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "link.yml").symlink_to(target)
    assert FileBackend([str(tmp_path / "conf")]).read(["/"]).values == {"/a": "1"}


def test_bad_yaml_is_a_config_error_with_file_and_line(tmp_path: Path) -> None:
    f = write(tmp_path / "bad.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(ConfigError, match=rf"{f} line 3: invalid YAML"):
        FileBackend([str(f)]).read(["/"])


def test_bad_json_is_a_config_error_with_file_and_line(tmp_path: Path) -> None:
    f = write(tmp_path / "bad.json", '{\n "a": 1,\n}')
    with pytest.raises(ConfigError, match=rf"{f} line 3: invalid JSON"):
        FileBackend([str(f)]).read(["/"])


def test_a_top_level_list_is_a_config_error(tmp_path: Path) -> None:
    f = write(tmp_path / "list.yaml", "- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        FileBackend([str(f)]).read(["/"])


def test_a_missing_file_is_a_backend_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(BackendError, match=f"{missing} does not exist"):
        FileBackend([str(missing)]).read(["/"])


def test_bad_filter_and_no_paths_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="filter"):
        FileBackend(["x"], filter="[")
    with pytest.raises(ConfigError, match="at least one"):
        FileBackend([])


# --- watching ---------------------------------------------------------------------------------------


@pytest.fixture
def inbox() -> queue.Queue[list[Event] | BackendError]:
    return queue.Queue()


@pytest.fixture
def conf(tmp_path: Path) -> Iterator[tuple[Path, FileBackend]]:
    f = write(tmp_path / "conf" / "app.yaml", "app:\n  a: 1\n  b: 2\nother: x\n")
    backend = FileBackend([str(f)])
    try:
        yield f, backend
    finally:
        backend.close()


def next_item(
    inbox: queue.Queue[list[Event] | BackendError], timeout: float = 10.0
) -> list[Event] | BackendError:
    return inbox.get(timeout=timeout)


def test_watch_sees_a_changed_file_as_key_events(
    conf: tuple[Path, FileBackend], inbox: queue.Queue[list[Event] | BackendError]
) -> None:
    f, backend = conf
    snapshot = backend.read(["/app"])
    assert snapshot.values == {"/app/a": "1", "/app/b": "2"}
    backend.watch("/app", snapshot.revision + 1, inbox.put)
    f.write_text("app:\n  a: 10\n  c: 3\nother: changed\n")
    revision = snapshot.revision + 1
    assert next_item(inbox) == [
        Event("/app/a", "10", revision),
        Event("/app/b", None, revision),
        Event("/app/c", "3", revision),
    ]
    replace(f, "app:\n  a: 11\n  c: 3\n")
    assert next_item(inbox) == [Event("/app/a", "11", revision + 1)]


def test_a_change_between_read_and_watch_is_not_lost(
    conf: tuple[Path, FileBackend], inbox: queue.Queue[list[Event] | BackendError]
) -> None:
    f, backend = conf
    snapshot = backend.read(["/app"])
    f.write_text("app:\n  a: 5\n  b: 2\n")
    backend.watch("/app", snapshot.revision + 1, inbox.put)
    assert next_item(inbox, timeout=1) == [Event("/app/a", "5", snapshot.revision + 1)]
    assert backend.read(["/app"]).revision == snapshot.revision + 1


def test_watch_of_a_folder_sees_new_files(
    tmp_path: Path, inbox: queue.Queue[list[Event] | BackendError]
) -> None:
    root = tmp_path / "conf"
    write(root / "a.yml", "a: 1\n")
    with FileBackend([str(root)], filter="*.yml") as backend:
        start = backend.read(["/"]).revision
        backend.watch("/", start + 1, inbox.put)
        write(root / "sub" / "b.yml", "b: 2\n")
        assert next_item(inbox) == [Event("/b", "2", start + 1)]
        write(root / "ignored.txt", "c: 3\n")
        (root / "a.yml").unlink()
        assert next_item(inbox) == [Event("/a", None, start + 2)]


def test_a_broken_file_ends_the_watch_and_a_resumed_watch_catches_up(
    conf: tuple[Path, FileBackend], inbox: queue.Queue[list[Event] | BackendError]
) -> None:
    f, backend = conf
    start = backend.read(["/app"]).revision
    backend.watch("/app", start + 1, inbox.put)
    f.write_text("app: [broken\n")
    error = next_item(inbox)
    assert isinstance(error, BackendError)
    assert str(f) in str(error)
    with pytest.raises(BackendError, match="invalid YAML"):
        backend.watch("/app", start + 1, inbox.put)
    f.write_text("app:\n  a: 1\n  b: 3\n")
    again: queue.Queue[list[Event] | BackendError] = queue.Queue()
    backend.watch("/app", start + 1, again.put)
    assert next_item(again, timeout=1) == [Event("/app/b", "3", start + 1)]
    assert inbox.empty()


def test_no_callback_after_cancel(
    conf: tuple[Path, FileBackend], inbox: queue.Queue[list[Event] | BackendError]
) -> None:
    f, backend = conf
    start = backend.read(["/app"]).revision
    watch = backend.watch("/app", start + 1, inbox.put)
    watch.cancel()
    watch.cancel()
    f.write_text("app:\n  a: 9\n")
    time.sleep(0.5)
    assert inbox.empty()


def test_history_older_than_kept_is_reported_as_compacted(conf: tuple[Path, FileBackend]) -> None:
    f, backend = conf
    first = backend.read(["/"]).revision
    for i in range(HISTORY + 1):
        f.write_text(f"app:\n  a: {i}\n")
        backend.read(["/"])
    with pytest.raises(RevisionCompactedError):
        backend.watch("/app", first, lambda item: None)


def test_a_bad_filter_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bad -filter pattern '\[a'"):
        FileBackend([str(tmp_path)], filter="[a")
