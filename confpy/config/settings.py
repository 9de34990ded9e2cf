"""Run settings from flags, `CONFPY_*` variables, confd.toml and defaults, in that order of precedence.

Each setting is declared once, as a field of `Settings` whose annotation's metadata says how users
spell it in each source (its `-flag`, its confd.toml keys, its variables), how its text is read and
its help; `SETTINGS` lists them for the readers here, the command line (confpy.cli) and the docs.

confd let its config file override command-line flags; confpy does not copy that bug.
"""

# No `from __future__ import annotations`: SETTINGS is read from the `Annotated` metadata of the
# fields of Settings, so the annotations must be objects at run time, not strings.
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from confpy.config.duration import Wait, parse_duration, parse_wait
from confpy.config.size import parse_size
from confpy.errors import ConfigError, closest, context, did_you_mean, invalid_toml

__all__ = [
    "BACKENDS",
    "CONNECTION",
    "SETTINGS",
    "Setting",
    "Settings",
    "backend_settings",
    "load_settings",
    "requested",
]

BACKENDS = {
    "etcdv3": "etcdv3",
    "etcd": "etcdv3",
    "env": "env",
    "file": "file",
    "redis": "redis",
    "zookeeper": "zookeeper",
}
_CONFD_ONLY_BACKENDS = ("consul", "dynamodb", "rancher", "ssm", "vault")


def _backend_names(last: str) -> str:
    """BACKENDS as users read them: "etcdv3 (alias etcd), env, ...", `last` before the last one."""
    names = [
        backend + "".join(f" (alias {alias})" for alias, to in BACKENDS.items() if to == backend != alias)
        for backend in dict.fromkeys(BACKENDS.values())
    ]
    return ", ".join(names[:-1]) + last + names[-1]


_SUPPORTED = _backend_names(", ")
# confd's defaults when no -node is given (config.go, initConfig).
_DEFAULT_NODES = {
    "etcdv3": ("http://127.0.0.1:2379",),
    "redis": ("127.0.0.1:6379",),
    "zookeeper": ("127.0.0.1:2181",),
}

DEFAULT_MAX_OUTPUT_SIZE = 64 * 1024 * 1024

_TRUE = ("1", "t", "true", "yes", "on")
_FALSE = ("0", "f", "false", "no", "off")


# --- how a value from a flag, a variable or confd.toml is read: (value, where) -> the field's type ---


def _bool(value: object, where: str) -> bool:
    """true or false; text as Go's strconv.ParseBool and the shells spell it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (*_TRUE, *_FALSE):
        return value.lower() in _TRUE
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _list(value: object, where: str) -> tuple[str, ...]:
    """A list of strings; text is split at commas (`CONFPY_NODES=http://a:2379,http://b:2379`)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(i.strip() for i in items if i.strip())


def _path(value: object, where: str) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(f"{where}: expected a path, got {value!r}")
    return Path(value)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _secret(value: object, where: str) -> str:
    """Text that must not be shown, even when it is not text."""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got a value that is not text")
    return value


# --- the table ----------------------------------------------------------------------------------


class Setting(NamedTuple):
    """One setting as users spell it: the `-flag`, the confd.toml keys, the variables.

    A row of the table, a NamedTuple: as a frozen dataclass its class took 0.65 ms more to build
    at every start (the generated methods are compiled then).
    """

    name: str
    """The `Settings` field."""
    flag: str
    """The command-line flag without its dash (confd's spelling; also taken with two dashes)."""
    toml: tuple[str, ...]
    """Its keys in confd.toml (confd mixes snake and kebab case); none: not read from the file."""
    env: tuple[str, ...]
    """Its variables, the first set one wins: `CONFPY_<NAME>`, then confd's own name if it had one."""
    parse: Callable[[object, str], Any]
    """Reads a value from any source into the field's type; `where` names the source in errors."""
    default: Any
    help: str
    """The flag's help, default in brackets."""
    metavar: str
    """What the flag's value is called in `--help` (flags that take no value show none)."""

    @property
    def takes_value(self) -> bool:
        """False for the boolean flags: `-noop`, not `-noop VALUE`."""
        return self.parse is not _bool

    @property
    def repeatable(self) -> bool:
        """Given once per item on the command line (`-node A -node B`)."""
        return self.parse is _list


def _meta(
    parse: Callable[[object, str], Any],
    help: str,
    metavar: str = "VALUE",
    *,
    flag: str = "",
    toml: tuple[str, ...] | None = None,
    confd_env: str = "",
) -> dict[str, Any]:
    """A `Settings` field's `Annotated` metadata: its `Setting`, but for the name and default (the field's).

    Unless given: the flag is the name in kebab case, the confd.toml keys are the flag and the
    name, and the variable is `CONFPY_<NAME>`.
    """
    return {
        "flag": flag,
        "toml": toml,
        "env": (confd_env,) if confd_env else (),
        "parse": parse,
        "help": help,
        "metavar": metavar,
    }


class Settings(NamedTuple):
    """Everything one confpy run needs to know, already validated. Each field is a setting: its
    type, then its spellings and help (`_meta`), then its default.

    A NamedTuple, not a dataclass: a run imports no `dataclasses` (~23 M instructions with its
    `inspect`, `ast` and `dis`), and the class is built without compiling generated methods.
    """

    backend: Annotated[str, _meta(_text, "backend: " + _backend_names(" or "), "NAME")] = "etcdv3"
    nodes: Annotated[
        tuple[str, ...],
        _meta(_list, "backend node URL (repeatable)", "URL", flag="node", toml=("nodes",)),
    ] = ()
    confdir: Annotated[Path, _meta(_path, "confd conf directory [/etc/confd]", "DIR")] = Path("/etc/confd")
    config_file: Annotated[
        Path | None, _meta(_path, "confd config file [<confdir>/confd.toml]", "FILE", toml=())
    ] = None
    prefix: Annotated[str, _meta(_text, "key prefix, joined in front of each resource prefix", "PREFIX")] = ""
    onetime: Annotated[bool, _meta(_bool, "run once and exit")] = False
    watch: Annotated[bool, _meta(_bool, "watch the backend for changes")] = False
    interval: Annotated[
        float | None,
        _meta(parse_duration, "time between full re-reads: 60 (seconds), 500ms or 1m30s [600]", "DURATION"),
    ] = None
    noop: Annotated[bool, _meta(_bool, "change nothing; print a diff of what would change")] = False
    sync_only: Annotated[bool, _meta(_bool, "write files but run no check or reload")] = False
    keep_stage_file: Annotated[bool, _meta(_bool, "keep stage files not renamed")] = False
    log_level: Annotated[str, _meta(_text, "trace, debug, info, warn or error [info]", "LEVEL")] = "info"
    client_cert: Annotated[
        str | None,
        _meta(
            _text, "TLS client certificate file", "FILE", toml=("client_cert",), confd_env="CONFD_CLIENT_CERT"
        ),
    ] = None
    client_key: Annotated[
        str | None,
        _meta(_text, "TLS client key file", "FILE", toml=("client_key",), confd_env="CONFD_CLIENT_KEY"),
    ] = None
    client_ca_keys: Annotated[
        str | None,
        _meta(
            _text, "TLS CA certificate file", "FILE", toml=("client_cakeys",), confd_env="CONFD_CLIENT_CAKEYS"
        ),
    ] = None
    username: Annotated[str | None, _meta(_text, "etcd user name", "USER")] = None
    password: Annotated[str | None, _meta(_secret, "etcd or redis password", "PASSWORD")] = None
    basic_auth: Annotated[
        bool, _meta(_bool, "use username/password (accepted for confd)", toml=("basic_auth",))
    ] = False
    files: Annotated[
        tuple[str, ...],
        _meta(_list, "YAML/JSON file or folder for the file backend", "PATH", flag="file", toml=("file",)),
    ] = ()
    filter: Annotated[str, _meta(_text, "file name glob for folders given to -file [*]", "GLOB")] = "*"
    separator: Annotated[str, _meta(_text, "redis: what replaces '/' in key names [/]", "SEP")] = ""
    connect_timeout: Annotated[
        float,
        _meta(
            parse_duration,
            "how long to retry an unreachable backend [5s]",
            "DURATION",
            toml=("connect_timeout",),
        ),
    ] = 5.0
    etcd_transport: Annotated[
        str,
        _meta(
            _text,
            "etcd API: auto (http, or grpc for -client-cert without -username), http or grpc [auto]",
            "NAME",
        ),
    ] = "auto"
    wait: Annotated[
        Wait | None, _meta(parse_wait, "watch debounce MIN[:MAX], e.g. 2s:10s [off]", "MIN[:MAX]")
    ] = None
    max_stale: Annotated[
        float, _meta(parse_duration, "exit non-zero when the watch is lost for longer [off]", "DURATION")
    ] = 0.0
    log_format: Annotated[str, _meta(_text, "text (confd's) or json [text]", "FORMAT")] = "text"
    metrics_addr: Annotated[
        str | None, _meta(_text, "serve /metrics, /health, /ready on HOST:PORT [off]", "ADDR")
    ] = None
    render_timeout: Annotated[
        float, _meta(parse_duration, "stop a render that takes longer [60s]", "DURATION")
    ] = 60.0
    max_output_size: Annotated[int, _meta(parse_size, "fail a render that writes more [64MiB]", "SIZE")] = (
        DEFAULT_MAX_OUTPUT_SIZE
    )

    @property
    def templates_dir(self) -> Path:
        return self.confdir / "templates"

    @property
    def poll_interval(self) -> float:
        """Seconds between full re-reads: -interval, or confd's 600 s default outside watch mode."""
        return self.interval if self.interval is not None else 600.0

    @property
    def etcd_api(self) -> str:
        """The etcd transport `auto` stands for: etcd's JSON gateway (no gRPC in the process: half the
        memory, no idle wake-ups, benchmarks/RESULTS.md), but gRPC where a client certificate is the
        only identity: with auth on, etcd 3.4's gateway does not take its CN as the user."""
        if self.etcd_transport != "auto":
            return self.etcd_transport
        return "grpc" if self.client_cert is not None and self.username is None else "http"

    @property
    def backend_nodes(self) -> tuple[str, ...]:
        """Nodes to use: confd's default is the local server."""
        return self.nodes or _DEFAULT_NODES.get(self.backend, ())

    @property
    def connection(self) -> tuple[object, ...]:
        """What identifies the backend connection: resources whose backends agree on it share one
        (the fork's configHash, pkg/template/client_cache.go, which also leaves timeouts out)."""
        return tuple(
            self.backend_nodes if name == "nodes" else getattr(self, name)
            for name in CONNECTION
            if name != "connect_timeout"
        )


def _from_field(name: str, annotation: Any) -> Setting:
    """The row of the field `name` of Settings, from its annotation's metadata and its default."""
    spec = dict(annotation.__metadata__[0])
    flag = spec.pop("flag") or name.replace("_", "-")
    toml = spec.pop("toml")
    if toml is None:
        toml = tuple(dict.fromkeys((flag, name)))
    env = ("CONFPY_" + name.upper(), *spec.pop("env"))
    return Setting(name=name, flag=flag, toml=toml, env=env, default=Settings._field_defaults[name], **spec)


#: How the etcd backend talks to etcd: its gRPC API, or the JSON gateway over HTTP/1.1 (`auto`:
#: `Settings.etcd_api`).
ETCD_TRANSPORTS = ("auto", "grpc", "http")
#: The settings that say which backend to reach and how: what a resource's `[backend]` table may set.
CONNECTION = (
    "backend",
    "nodes",
    "client_cert",
    "client_key",
    "client_ca_keys",
    "username",
    "password",
    "basic_auth",
    "files",
    "filter",
    "separator",
    "connect_timeout",
)
SETTINGS: tuple[Setting, ...] = tuple(_from_field(*field) for field in Settings.__annotations__.items())
"""Every setting, in the order `--help` lists them."""
_BY_NAME = {s.name: s for s in SETTINGS}
# confd.toml's keys -> settings; where a setting has two, the second is the one suggested.
_FILE_KEYS = {key: s for s in SETTINGS for key in s.toml}


def _read(name: str, value: object, source: str) -> Any:
    """A raw value from a flag, a variable or the file, in the field's type."""
    return _BY_NAME[name].parse(value, f"{source}: {name.replace('_', '-')}")


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for setting in SETTINGS:
        var = next((v for v in setting.env if environ.get(v)), None)
        if var is not None:
            found[setting.name] = _read(setting.name, environ[var], var)
    return found


def _from_file(path: Path, explicit: bool) -> dict[str, Any]:
    import tomllib  # here: `confpy --help` reads only the table

    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: config file does not exist") from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise invalid_toml(path, exc) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    found: dict[str, Any] = {}
    for key, value in document.items():
        setting = _FILE_KEYS.get(key)
        if setting is None:
            hint = did_you_mean(closest(key, _FILE_KEYS))
            logging.getLogger("confpy").warning(
                "%s: unknown setting %r is ignored%s", path, key, hint, extra={"resource": None, "key": key}
            )
            continue
        with context(key=key):
            found[setting.name] = _read(setting.name, value, str(path))
    return found


def requested(name: str, flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Any:
    """A setting as the flags or its variables give it, unread; None if none gives it (empty
    counts as not given).

    For what is needed before the settings can be read, or when they cannot: the log format to
    report a bad setting in.
    """
    environ = os.environ if environ is None else environ
    return flags.get(name) or next((environ[v] for v in _BY_NAME[name].env if environ.get(v)), None)


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Merge the sources. `flags` holds only what was given on the command line (field names)."""
    env = _from_environ(os.environ if environ is None else environ)
    given = {name: _read(name, value, "command line") for name, value in flags.items() if value is not None}
    confdir = Path(given.get("confdir") or env.get("confdir") or _BY_NAME["confdir"].default)
    explicit = given.get("config_file") or env.get("config_file")
    file_values = _from_file(Path(explicit) if explicit else confdir / "confd.toml", explicit=bool(explicit))
    merged = {**file_values, **env, **given}
    merged.setdefault("confdir", confdir)
    settings = Settings(**merged)
    _validate(settings)
    return settings._replace(backend=BACKENDS[settings.backend])


def backend_settings(table: Mapping[str, Any], where: str) -> Settings:
    """A resource's own backend, from its `[backend]` table: the connection settings spelt as in
    confd.toml, the others at their defaults. As in the fork (TemplateResourceConfig.BackendConfig,
    pkg/template/resource.go) the table is a whole backend, not merged with the global one, and
    `backend` is required."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        setting = _FILE_KEYS.get(key)
        if setting is None or setting.name not in CONNECTION:
            keys = [k for k, s in _FILE_KEYS.items() if s.name in CONNECTION]
            raise ConfigError(
                f"{where}: unknown key {key!r} in [backend]{did_you_mean(closest(key, keys))}", key=key
            )
        with context(key=key):
            values[setting.name] = setting.parse(value, f"{where}: [backend] {key}")
    if "backend" not in values:
        raise ConfigError(f'{where}: [backend] needs a backend = "NAME"', key="backend")
    settings = Settings(**values)
    try:
        _validate(settings)
    except ConfigError as exc:
        raise ConfigError(f"{where}: [backend]: {exc}", key=exc.key or "backend") from None
    return settings._replace(backend=BACKENDS[settings.backend])


def _validate(settings: Settings) -> None:
    from confpy.log import LOG_FORMATS, level_number  # json, socket: `confpy --help` reads only the table

    backend = settings.backend
    if backend in _CONFD_ONLY_BACKENDS:
        raise ConfigError(
            f"backend {backend!r} is not supported by confpy (supported: {_SUPPORTED})", key="backend"
        )
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r} (supported: {_SUPPORTED})", key="backend")
    with context(key="log_level"):
        level_number(settings.log_level)
    if settings.log_format not in LOG_FORMATS:
        raise ConfigError(
            f"unknown log format {settings.log_format!r} (use {' or '.join(LOG_FORMATS)})", key="log_format"
        )
    if settings.interval is not None and settings.interval <= 0:
        raise ConfigError("-interval must be a positive duration (seconds, e.g. 60, or 500ms, 1m30s)")
    if settings.render_timeout <= 0:
        raise ConfigError("-render-timeout must be a positive duration (seconds, e.g. 60, or 500ms, 1m30s)")
    if BACKENDS[backend] == "etcdv3":
        from confpy.backends.etcd.nodes import parse_node  # the one parser of -node, also used to connect

        for node in settings.nodes:
            parse_node(node)
    if settings.etcd_transport not in ETCD_TRANSPORTS:
        raise ConfigError(
            f"unknown -etcd-transport {settings.etcd_transport!r} (use {', '.join(ETCD_TRANSPORTS)})",
            key="etcd_transport",
        )
    if BACKENDS[backend] == "redis":
        from confpy.backends.redis import parse_redis_node

        for node in settings.nodes:
            parse_redis_node(node)
    if BACKENDS[backend] == "zookeeper":
        from confpy.backends.zookeeper import parse_zookeeper_node

        for node in settings.nodes:
            parse_zookeeper_node(node)
    if settings.separator and BACKENDS[backend] != "redis":
        raise ConfigError("-separator is only used with -backend redis")
    if BACKENDS[backend] == "file" and not settings.files:
        raise ConfigError("the file backend needs at least one -file", key="backend")
    # confd's redis takes -client-key as its password (backends/client.go New): no certificate.
    redis_key = BACKENDS[backend] == "redis" and not settings.client_cert
    if bool(settings.client_cert) != bool(settings.client_key) and not redis_key:
        raise ConfigError("-client-cert and -client-key must be given together")
    # redis also authenticates with a password alone (AUTH password); etcd needs both.
    if bool(settings.username) != bool(settings.password) and not (
        BACKENDS[backend] == "redis" and settings.password
    ):
        raise ConfigError("-username and -password must be given together")
