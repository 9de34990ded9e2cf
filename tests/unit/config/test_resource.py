import logging
import os
import signal
from pathlib import Path

import pytest

from confpy.config.resource import FIELDS, TemplateResource, load_resource, load_resources, parse_mode
from confpy.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_fields_and_key_joining(tmp_path: Path) -> None:
    path = write(
        tmp_path / "app.toml",
        """[template]
src = "app.conf.j2"
dest = "/tmp/app.conf"
prefix = "app"
keys = ["list", "/list", "/db/host"]
mode = "0600"
check_cmd = "true {{.src}}"
reload_cmd = "true"
check_cmd_timeout = "5s"
reload_cmd_timeout = 7
create_dest_dir = true
""",
    )
    res = load_resource(path, name="app.toml", global_prefix="/production")
    assert res.prefix == "/production/app"
    assert res.prefixed_keys == ("/production/app/list", "/production/app/list", "/production/app/db/host")
    assert res.mode == 0o600
    assert (res.check_cmd_timeout, res.reload_cmd_timeout) == (5.0, 7.0)
    assert res.create_dest_dir is True
    assert res.dest == Path("/tmp/app.conf")


def test_defaults(tmp_path: Path) -> None:
    res = load_resource(write(tmp_path / "a.toml", '[template]\nsrc = "a"\ndest = "/tmp/a"\n'), name="a.toml")
    assert res.prefix == "/"
    assert res.keys == ()
    assert res.mode is None and res.uid is None and res.gid is None
    assert (res.check_cmd_timeout, res.reload_cmd_timeout) == (30.0, 60.0)
    assert res.create_dest_dir is False


def test_template_view_strips_the_prefix(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.toml", '[template]\nsrc = "a"\ndest = "/tmp/a"\nprefix = "/app"\nkeys = ["/up"]\n'
    )
    res = load_resource(path, name="a.toml")
    values = {"/app/up/a": "1", "/app/up": "0", "/app/upper": "2", "/other/up": "3", "/app/down": "4"}
    # confd's etcdv3 GetValues: the key itself and what lies below key + "/", never /app/upper.
    assert res.view(values) == {"/up/a": "1", "/up": "0"}
    assert res.owns("/app/up/x") and res.owns("/app/up")
    assert not res.owns("/app/upper") and not res.owns("/app/upper/x") and not res.owns("/app/down")


def _prefixed(tmp_path: Path, prefix: str, keys: str = '["/"]', global_prefix: str = "") -> TemplateResource:
    body = f'[template]\nsrc = "a"\ndest = "/tmp/a"\nprefix = "{prefix}"\nkeys = {keys}\n'
    return load_resource(write(tmp_path / "a.toml", body), name="a.toml", global_prefix=global_prefix)


def test_a_resource_prefix_has_a_path_boundary(tmp_path: Path) -> None:
    res = _prefixed(tmp_path, "/prod/app")
    values = {"/prod/app/db": "1", "/prod/application/db": "2", "/prod/app": "3"}
    assert res.view(values) == {"/db": "1", "/": "3"}


@pytest.mark.parametrize(
    ("prefix", "global_prefix", "want"),
    [
        # confd's setVars: path.Join("/", strings.TrimPrefix(k, Prefix)) on the prefix as written.
        ("/svc/app", "", {"/": "top", "/x": "1"}),
        ("svc/app", "", {"/": "top", "/x": "1"}),
        ("/svc/app/", "", {"/svc/app": "top", "/x": "1"}),
        ("app/", "/svc", {"/svc/app": "top", "/x": "1"}),
        ("", "/svc/app/", {"/svc/app": "top", "/x": "1"}),
        ("/", "", {"/svc/app": "top", "/svc/app/x": "1"}),
    ],
)
def test_a_key_equal_to_the_prefix(
    tmp_path: Path, prefix: str, global_prefix: str, want: dict[str, str]
) -> None:
    res = _prefixed(tmp_path, prefix, '["/svc/app"]' if prefix == "/" else '["/"]', global_prefix)
    assert res.view({"/svc/app": "top", "/svc/app/x": "1", "/svc/apps": "no"}) == want


@pytest.mark.parametrize(
    ("text", "mode"), [("0644", 0o644), ("644", 0o644), ("0o644", 0o644), ("600", 0o600), ("4755", 0o4755)]
)
def test_mode_is_always_octal(text: str, mode: int) -> None:
    assert parse_mode(text, "x") == mode


@pytest.mark.parametrize("text", ["0999", "rw-r--r--", "", 644, "12345"])
def test_bad_mode(text: object) -> None:
    with pytest.raises(ConfigError, match="x: mode"):
        parse_mode(text, "x")


def test_owner_and_group_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.toml", '[template]\nsrc = "a"\ndest = "/tmp/a"\nowner = "root"\ngroup = "root"\n'
    )
    res = load_resource(path, name="a.toml")
    assert (res.uid, res.gid) == (0, 0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('dest = "/tmp/a"', "missing required field 'src'"),
        ('src = "a"', "missing required field 'dest'"),
        ('src = "a"\ndest = "/a"\nowner = "no-such-user-x"', "owner 'no-such-user-x' is not a user"),
        ('src = "a"\ndest = "/a"\ngroup = "no-such-group-x"', "group 'no-such-group-x' is not a group"),
        ('src = "a"\ndest = "/a"\nuid = 1\nowner = "root"', "disagree"),
        ('src = "a"\ndest = "/a"\nkeys = "/x"', "keys must be a list"),
        ('src = "a"\ndest = "/a"\ncheck_cmd_timeout = "soon"', "check_cmd_timeout"),
        ('src = "a"\ndest = "/a"\ncreate_dest_dir = "yes"', "create_dest_dir must be true or false"),
        ('src = "a"\ndest = "/a"\nrender_timeout = "0s"', "render_timeout must be positive"),
        ('src = "a"\ndest = "/a"\nrender_timeout = "long"', "render_timeout: 'long' is not a duration"),
        ('src = "a"\ndest = "/a"\nmax_output_size = "lots"', "max_output_size: 'lots' is not a size"),
        ('src = "a"\ndest = "/a"\nmax_output_size = 0', "max_output_size: a size must be positive"),
    ],
)
def test_invalid_fields_name_the_file(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path / "bad.toml", "[template]\n" + body + "\n")
    with pytest.raises(ConfigError) as info:
        load_resource(path, name="bad.toml")
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_broken_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", '[template]\nsrc = "a"\ndest = \n')
    with pytest.raises(ConfigError, match=r"bad.toml: invalid TOML: .*line 3"):
        load_resource(path, name="bad.toml")


def test_missing_template_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \[template\] table"):
        load_resource(write(tmp_path / "a.toml", 'src = "a"\n'), name="a.toml")


def test_unknown_field_warns_and_names_the_close_field(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "a.toml", '[template]\nsrc = "a"\ndest = "/a"\nreload_cmdd = "x"\nzzz = 1\n')
    with caplog.at_level(logging.WARNING, logger="confpy"):
        load_resource(path, name="a.toml")
    assert (
        f"{path}: unknown field 'reload_cmdd' in [template] is ignored (did you mean reload_cmd?)"
        in caplog.text
    )
    assert f"{path}: unknown field 'zzz' in [template] is ignored\n" in caplog.text


@pytest.mark.parametrize(
    ("typo", "field"),
    [
        ("chek_cmd", "check_cmd"),
        ("modee", "mode"),
        ("ownr", "owner"),
        ("Mode", "mode"),
        ("sensitiv", "sensitive"),
    ],
)
def test_a_misspelt_safety_field_is_refused(tmp_path: Path, typo: str, field: str) -> None:
    # Ignoring it would put an unchecked, or world-readable, or wrongly owned file live.
    path = write(tmp_path / "a.toml", f'[template]\nsrc = "a"\ndest = "/a"\n{typo} = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_resource(path, name="a.toml")
    assert str(info.value) == (
        f"{path}: unknown field {typo!r} in [template]: did you mean {field}? "
        "(a misspelt safety field is refused, not ignored)"
    )


def test_a_relative_dest_is_refused(tmp_path: Path) -> None:
    # confd writes it relative to wherever it was started; the message was "directory does not exist".
    path = write(tmp_path / "a.toml", '[template]\nsrc = "a"\ndest = "etc/app.conf"\n')
    with pytest.raises(ConfigError, match=r"a.toml: dest must be an absolute path, got 'etc/app.conf'$"):
        load_resource(path, name="a.toml")


def test_load_resources_walks_recursively_in_order_and_keeps_going(tmp_path: Path) -> None:
    confd = tmp_path / "conf.d"
    write(confd / "b.toml", '[template]\nsrc = "b"\ndest = "/b"\n')
    write(confd / "a.toml", '[template]\nsrc = "a"\ndest = "/a"\n')
    write(confd / "sub" / "c.toml", '[template]\nsrc = "c"\ndest = "/c"\n')
    write(confd / "broken.toml", "[template\n")
    write(confd / "notes.txt", "ignored")
    resources, errors = load_resources(tmp_path)
    assert [r.name for r in resources] == ["a.toml", "b.toml", os.path.join("sub", "c.toml")]
    assert len(errors) == 1 and "broken.toml" in str(errors[0])


def test_missing_conf_d(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"conf.d: template resource directory does not exist"):
        load_resources(tmp_path)


def test_command_placeholders_are_checked_at_load(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.toml", '[template]\nsrc = "a"\ndest = "/a"\nreload_cmd = "echo {{ getv(\\"/k\\") }}"\n'
    )
    with pytest.raises(ConfigError, match=r"a\.toml: reload_cmd: .*placeholder"):
        load_resource(path, name="a.toml")


def test_render_limits(tmp_path: Path) -> None:
    path = write(tmp_path / "a.toml", '[template]\nsrc = "a"\ndest = "/a"\n')
    plain = load_resource(path, name="a.toml")
    assert (plain.render_timeout, plain.max_output_size) == (None, None)  # the global settings apply
    path.write_text(
        '[template]\nsrc = "a"\ndest = "/a"\nrender_timeout = "1m30s"\nmax_output_size = "2MiB"\n'
    )
    resource = load_resource(path, name="a.toml")
    assert (resource.render_timeout, resource.max_output_size) == (90.0, 2 * 1024 * 1024)


def test_two_resources_with_one_dest_are_both_refused(tmp_path: Path) -> None:
    confd = tmp_path / "conf.d"
    (tmp_path / "out").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "out")
    write(confd / "a.toml", f'[template]\nsrc = "a"\ndest = "{tmp_path}/out/app.conf"\n')
    write(confd / "b.toml", f'[template]\nsrc = "b"\ndest = "{tmp_path}/out/./app.conf"\n')
    write(confd / "c.toml", f'[template]\nsrc = "c"\ndest = "{tmp_path}/alias/app.conf"\n')  # same file
    write(confd / "d.toml", f'[template]\nsrc = "d"\ndest = "{tmp_path}/out/other.conf"\n')
    resources, errors = load_resources(tmp_path)
    assert [r.name for r in resources] == ["d.toml"]
    assert [str(e) for e in errors] == [
        f"{confd / 'a.toml'}: dest {tmp_path}/out/app.conf is also the dest of {confd / 'b.toml'}, "
        f"{confd / 'c.toml'}: two resources must not write one file (none of them is applied)"
    ]


@pytest.mark.parametrize(
    ("src", "engine", "want"),
    [
        ("a.tmpl", "", "go"),
        ("a.conf.tmpl", "", "go"),
        ("a.j2", "", "jinja"),
        ("a.conf", "", "jinja"),
        ("a.tmpl", "jinja", "jinja"),
        ("a.conf", "go", "go"),
    ],
)
def test_the_engine_is_decided_by_the_resource_itself(src: str, engine: str, want: str) -> None:
    """One rule wherever a resource comes from (a file, or a library user's own): render and check read it."""
    resource = TemplateResource(
        name="a", path=Path("a.toml"), src=src, dest=Path("/tmp/a"), keys=(), engine=engine
    )
    assert resource.engine == want


def test_the_engine_field_is_validated(tmp_path: Path) -> None:
    path = write(tmp_path / "a.toml", '[template]\nsrc = "a.tmpl"\ndest = "/tmp/a"\nengine = "go"\n')
    assert load_resource(path, name="a.toml").engine == "go"
    path.write_text('[template]\nsrc = "a.tmpl"\ndest = "/tmp/a"\nengine = "jinja"\n')
    assert load_resource(path, name="a.toml").engine == "jinja"
    path.write_text('[template]\nsrc = "a.tmpl"\ndest = "/tmp/a"\nengine = "erb"\n')
    with pytest.raises(ConfigError, match='engine must be "go" or "jinja", got \'erb\''):
        load_resource(path, name="a.toml")


def test_the_schema_reads_every_attribute_once() -> None:
    """FIELDS is the one list of `[template]` fields: each settable attribute is read by exactly one
    (but `backend`, which is the `[backend]` table beside it)."""
    settable = set(TemplateResource._fields) - {"name", "path", "backend"}
    read = [f.name for f in FIELDS if f.read is not None]
    assert sorted(read) == sorted(settable)
    assert {f.name for f in FIELDS if f.read is None} == {"owner", "group"}
    assert FIELDS[[f.name for f in FIELDS].index("check_cmd_timeout")].default == 30.0


_TEMPLATE = '[template]\nsrc = "a.j2"\ndest = "/tmp/a"\nkeys = ["/a"]\n'


def test_a_backend_table_names_the_resources_own_backend(tmp_path: Path) -> None:
    """The fork's `[backend]` (pkg/template/resource.go): a whole backend, in confd.toml's keys."""
    own = '[backend]\nbackend = "etcd"\nnodes = ["http://127.0.0.1:2380"]\nconnect_timeout = "2s"\n'
    res = load_resource(write(tmp_path / "a.toml", _TEMPLATE + own), name="a.toml")
    assert res.backend is not None
    assert (res.backend.backend, res.backend.nodes, res.backend.connect_timeout) == (
        "etcdv3",
        ("http://127.0.0.1:2380",),
        2.0,
    )
    files = '[backend]\nbackend = "file"\nfile = ["/etc/a.yaml"]\n'
    on_file = load_resource(write(tmp_path / "b.toml", _TEMPLATE + files), name="b.toml").backend
    assert on_file is not None and on_file.files == ("/etc/a.yaml",)
    assert load_resource(write(tmp_path / "c.toml", _TEMPLATE), name="c.toml").backend is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[backend]\nnodes = ["http://a:2379"]\n', r'a\.toml: \[backend\] needs a backend = "NAME"'),
        (
            '[backend]\nbackend = "etcd"\nnode = ["http://a:2379"]\n',
            r"unknown key 'node' in \[backend\] \(did you mean nodes\?\)",
        ),
        ('[backend]\nbackend = "etcd"\nprefix = "/x"\n', r"unknown key 'prefix' in \[backend\]"),
        (
            '[backend]\nbackend = "consul"\n',
            r"a\.toml: \[backend\]: backend 'consul' is not supported by confpy",
        ),
        ('[backend]\nbackend = "file"\n', r"a\.toml: \[backend\]: the file backend needs at least one -file"),
        ('[backend]\nbackend = "etcd"\nnodes = ["ftp://x"]\n', r"a\.toml: \[backend\]: "),
        (
            '[backend]\nbackend = "etcd"\nnodes = 7\n',
            r"a\.toml: \[backend\] nodes: expected a list of strings",
        ),
        ('backend = "etcd"\n', r"a\.toml: backend must be a \[backend\] table"),
    ],
)
def test_a_bad_backend_table_is_one_line_naming_the_file_and_key(
    tmp_path: Path, table: str, message: str
) -> None:
    text = _TEMPLATE + table if table.startswith("[") else table + _TEMPLATE
    with pytest.raises(ConfigError, match=message) as info:
        load_resource(write(tmp_path / "a.toml", text), name="a.toml")
    assert "\n" not in str(info.value)
    assert info.value.resource == "a.toml"


def test_exec_fields_read_as_written(tmp_path: Path) -> None:
    extra = 'on_change = "restart"\nkill_signal = "INT"\nsplay = "5s"\n'
    res = load_resource(write(tmp_path / "a.toml", _TEMPLATE + extra), name="a.toml")
    assert (res.on_change, res.kill_signal, res.reload_signal, res.splay) == (
        "restart",
        signal.SIGINT,
        None,
        5.0,
    )
    alone = load_resource(
        write(tmp_path / "b.toml", _TEMPLATE + 'reload_signal = "SIGUSR1"\n'), name="b.toml"
    )
    assert (alone.on_change, alone.reload_signal) == ("signal", signal.SIGUSR1)
    plain = load_resource(write(tmp_path / "c.toml", _TEMPLATE), name="c.toml")
    assert (plain.on_change, plain.reload_signal, plain.kill_signal, plain.splay) == ("", None, None, 0.0)


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ('reload_signal = "HUPP"\n', "reload_signal", r"a\.toml: reload_signal: unknown signal 'HUPP'"),
        (
            'on_change = "restart"\nkill_signal = "NOPE"\n',
            "kill_signal",
            r"kill_signal: unknown signal 'NOPE'",
        ),
        ('splay = "-1s"\n', "splay", r"a\.toml: splay must not be negative, got '-1s'"),
        ("splay = -2\n", "splay", r"a\.toml: splay must not be negative, got -2"),
        ('on_change = "reboot"\n', "on_change", r'a\.toml: on_change must be one of "reload_cmd", "signal"'),
        (
            'kill_signal = "TERM"\n',
            "kill_signal",
            r'a\.toml: kill_signal is used only with on_change = "restart"',
        ),
        (
            'on_change = "restart"\nreload_signal = "HUP"\n',
            "reload_signal",
            r'a\.toml: reload_signal is used only with on_change = "signal"',
        ),
        ('on_change = "reload_cmd"\n', "on_change", r'a\.toml: on_change = "reload_cmd" needs a reload_cmd'),
        ("reload_signal = true\n", "reload_signal", r"reload_signal must be a signal name such as HUP"),
    ],
)
def test_bad_exec_fields_are_one_line_naming_the_resource_and_field(
    tmp_path: Path, extra: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_resource(write(tmp_path / "a.toml", _TEMPLATE + extra), name="a.toml")
    assert "\n" not in str(info.value)
    assert (info.value.resource, info.value.key) == ("a.toml", key)
