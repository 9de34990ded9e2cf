from pathlib import Path

import pytest

from confpy.config.settings import SETTINGS, Settings, load_settings, requested
from confpy.errors import ConfigError


def confdir_with(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "confd.toml").write_text(toml)
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({"confdir": str(tmp_path)}, environ={})
    assert s.backend == "etcdv3"
    assert s.backend_nodes == ("http://127.0.0.1:2379",)
    assert s.interval is None and s.poll_interval == 600
    assert s.templates_dir == tmp_path / "templates"


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    confdir = confdir_with(
        tmp_path, 'prefix = "/file"\nlog-level = "debug"\nnodes = ["http://f:1"]\ninterval = 5\n'
    )
    env = {"CONFPY_PREFIX": "/env", "CONFPY_LOG_LEVEL": "warn"}
    s = load_settings({"confdir": str(confdir), "prefix": "/flag"}, environ=env)
    assert s.prefix == "/flag"
    assert s.log_level == "warn"
    assert s.nodes == ("http://f:1",)
    assert s.interval == 5


def test_confd_key_names_and_env_names(tmp_path: Path) -> None:
    confdir = confdir_with(
        tmp_path, 'backend = "etcd"\nsync-only = true\nclient_cakeys = "/ca.pem"\nfile = ["/a.yaml"]\n'
    )
    s = load_settings(
        {"confdir": str(confdir)}, environ={"CONFD_CLIENT_CERT": "/c.pem", "CONFD_CLIENT_KEY": "/k"}
    )
    assert s.backend == "etcdv3"
    assert s.sync_only is True
    assert s.client_ca_keys == "/ca.pem"
    assert s.client_cert == "/c.pem"
    assert s.files == ("/a.yaml",)


def test_env_lists_and_bools(tmp_path: Path) -> None:
    s = load_settings(
        {"confdir": str(tmp_path)}, environ={"CONFPY_NODES": "http://a:1, http://b:2", "CONFPY_NOOP": "true"}
    )
    assert s.nodes == ("http://a:1", "http://b:2")
    assert s.noop is True


def test_missing_default_file_is_fine_explicit_is_an_error(tmp_path: Path) -> None:
    assert load_settings({"confdir": str(tmp_path)}, environ={}) == Settings(confdir=tmp_path)
    with pytest.raises(ConfigError, match=r"nope\.toml: config file does not exist"):
        load_settings({"confdir": str(tmp_path), "config_file": str(tmp_path / "nope.toml")}, environ={})


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"backend": "consul"}, "not supported by confpy"),
        ({"backend": "zk2"}, "unknown backend 'zk2'"),
        ({"log_level": "loud"}, "unknown log level"),
        ({"interval": "0"}, "positive"),
        ({"interval": "soon"}, "not a duration"),
        ({"backend": "file"}, "at least one -file"),
        ({"client_cert": "/c"}, "given together"),
        ({"username": "u"}, "given together"),
        ({"render_timeout": "0"}, "-render-timeout must be a positive duration"),
        ({"max_output_size": "0"}, "max-output-size: a size must be positive"),
        ({"max_output_size": "64 furlongs"}, "is not a size"),
    ],
)
def test_invalid_settings(tmp_path: Path, flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"confdir": str(tmp_path), **flags}, environ={})


def test_bad_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"confd.toml: invalid TOML: .*line 1"):
        load_settings({"confdir": str(confdir_with(tmp_path, "backend = \n"))}, environ={})
    with pytest.raises(ConfigError, match="noop: expected true or false"):
        load_settings({"confdir": str(confdir_with(tmp_path, 'noop = "maybe"\n'))}, environ={})


def test_unknown_setting_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = load_settings({"confdir": str(confdir_with(tmp_path, 'scheme = "http"\n'))}, environ={})
    assert s.backend == "etcdv3"
    assert "unknown setting 'scheme' is ignored" in caplog.text


def test_render_limits_from_flags_env_and_file(tmp_path: Path) -> None:
    defaults = load_settings({"confdir": str(tmp_path)}, environ={})
    assert (defaults.render_timeout, defaults.max_output_size) == (60.0, 64 * 1024 * 1024)
    confdir = confdir_with(tmp_path, 'render-timeout = "5s"\nmax_output_size = "1GiB"\n')
    from_file = load_settings({"confdir": str(confdir)}, environ={})
    assert (from_file.render_timeout, from_file.max_output_size) == (5.0, 1024**3)
    env = {"CONFPY_MAX_OUTPUT_SIZE": "500MB"}
    flags = load_settings({"confdir": str(confdir), "render_timeout": "2s"}, environ=env)
    assert (flags.render_timeout, flags.max_output_size) == (2.0, 500_000_000)


def test_each_setting_is_spelt_once_in_each_source() -> None:
    assert [s.name for s in SETTINGS] == list(Settings._fields)
    for spellings in (
        [s.flag for s in SETTINGS],
        [k for s in SETTINGS for k in s.toml],
        [v for s in SETTINGS for v in s.env],
    ):
        assert len(spellings) == len(set(spellings)), spellings
    by_name = {s.name: s for s in SETTINGS}
    assert (by_name["nodes"].flag, by_name["files"].flag, by_name["files"].toml) == (
        "node",
        "file",
        ("file",),
    )
    assert by_name["client_ca_keys"].env == ("CONFPY_CLIENT_CA_KEYS", "CONFD_CLIENT_CAKEYS")
    assert (
        by_name["config_file"].toml == () and not by_name["noop"].takes_value and by_name["nodes"].repeatable
    )


def test_confd_spellings_of_the_tls_files_yield_to_confpys(tmp_path: Path) -> None:
    env = {"CONFD_CLIENT_CERT": "/confd.pem", "CONFPY_CLIENT_CERT": "/confpy.pem", "CONFD_CLIENT_KEY": "/k"}
    assert load_settings({"confdir": str(tmp_path)}, environ=env).client_cert == "/confpy.pem"


def test_requested_reads_a_setting_before_the_settings_are_read() -> None:
    env = {"CONFPY_LOG_FORMAT": "json", "CONFD_CLIENT_CERT": "/c.pem"}
    assert requested("log_format", {}, env) == "json"
    assert requested("log_format", {"log_format": "text"}, env) == "text"
    assert requested("log_format", {"log_format": ""}, env) == "json"  # an empty flag is not given
    assert requested("client_cert", {}, env) == "/c.pem"
    assert requested("prefix", {}, env) is None
