"""Run settings from flags, `CONFPY_*` variables, confd.toml and defaults, in that order of precedence.

confd let its config file override command-line flags; confpy does not copy that bug.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confpy.config.duration import Wait, parse_duration, parse_wait
from confpy.config.size import parse_size
from confpy.errors import ConfigError, closest, did_you_mean

__all__ = ["BACKENDS", "LOG_LEVELS", "Settings", "load_settings"]

BACKENDS = {
    "etcdv3": "etcdv3",
    "etcd": "etcdv3",
    "env": "env",
    "file": "file",
    "redis": "redis",
    "zookeeper": "zookeeper",
}
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic")
_CONFD_ONLY_BACKENDS = ("consul", "dynamodb", "rancher", "ssm", "vault")
_SUPPORTED = "etcdv3 (alias etcd), env, file, redis, zookeeper"
# confd's defaults when no -node is given (config.go, initConfig).
_DEFAULT_NODES = {
    "etcdv3": ("http://127.0.0.1:2379",),
    "redis": ("127.0.0.1:6379",),
    "zookeeper": ("127.0.0.1:2181",),
}

DEFAULT_MAX_OUTPUT_SIZE = 64 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Everything one confpy run needs to know, already validated."""

    backend: str = "etcdv3"
    nodes: tuple[str, ...] = ()
    confdir: Path = Path("/etc/confd")
    config_file: Path | None = None
    prefix: str = ""
    onetime: bool = False
    watch: bool = False
    interval: float | None = None
    noop: bool = False
    sync_only: bool = False
    keep_stage_file: bool = False
    log_level: str = "info"
    client_cert: str | None = None
    client_key: str | None = None
    client_ca_keys: str | None = None
    username: str | None = None
    password: str | None = None
    basic_auth: bool = False
    files: tuple[str, ...] = ()
    filter: str = "*"
    separator: str = ""
    connect_timeout: float = 5.0
    wait: Wait | None = None
    max_stale: float = 0.0
    log_format: str = "text"
    metrics_addr: str | None = None
    render_timeout: float = 60.0
    max_output_size: int = DEFAULT_MAX_OUTPUT_SIZE

    @property
    def templates_dir(self) -> Path:
        return self.confdir / "templates"

    @property
    def poll_interval(self) -> float:
        """Seconds between full re-reads: -interval, or confd's 600 s default outside watch mode."""
        return self.interval if self.interval is not None else 600.0

    @property
    def backend_nodes(self) -> tuple[str, ...]:
        """Nodes to use: confd's default is the local server."""
        return self.nodes or _DEFAULT_NODES.get(self.backend, ())


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
# confd.toml's key names (confd mixes snake and kebab case) -> Settings fields.
_FILE_KEYS = {
    "backend": "backend",
    "nodes": "nodes",
    "confdir": "confdir",
    "prefix": "prefix",
    "onetime": "onetime",
    "watch": "watch",
    "interval": "interval",
    "noop": "noop",
    "sync-only": "sync_only",
    "sync_only": "sync_only",
    "keep-stage-file": "keep_stage_file",
    "keep_stage_file": "keep_stage_file",
    "log-level": "log_level",
    "log_level": "log_level",
    "client_cert": "client_cert",
    "client_key": "client_key",
    "client_cakeys": "client_ca_keys",
    "username": "username",
    "password": "password",
    "basic_auth": "basic_auth",
    "file": "files",
    "filter": "filter",
    "separator": "separator",
    "connect_timeout": "connect_timeout",
    "wait": "wait",
    "max-stale": "max_stale",
    "max_stale": "max_stale",
    "log-format": "log_format",
    "log_format": "log_format",
    "metrics-addr": "metrics_addr",
    "metrics_addr": "metrics_addr",
    "render-timeout": "render_timeout",
    "render_timeout": "render_timeout",
    "max-output-size": "max_output_size",
    "max_output_size": "max_output_size",
}
# confd's own variable names for the TLS files, honoured for users moving over.
_CONFD_ENV = {
    "CONFD_CLIENT_CERT": "client_cert",
    "CONFD_CLIENT_KEY": "client_key",
    "CONFD_CLIENT_CAKEYS": "client_ca_keys",
}


def _coerce(name: str, value: Any, source: str) -> Any:
    """Turn a raw value from a flag, a variable or the file into the field's type."""
    kind = _FIELDS[name].type
    where = f"{source}: {name.replace('_', '-')}"
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "1",
            "t",
            "true",
            "yes",
            "on",
            "0",
            "f",
            "false",
            "no",
            "off",
        ):
            return value.lower() in ("1", "t", "true", "yes", "on")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if kind == "Wait | None":
        return parse_wait(value, where)
    if kind in ("float", "float | None"):
        return parse_duration(value, where)
    if kind == "int":
        return parse_size(value, where)
    if kind == "tuple[str, ...]":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(i.strip() for i in items if i.strip())
    if kind in ("Path", "Path | None"):
        if not isinstance(value, str | os.PathLike):
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        return Path(value)
    if not isinstance(value, str):
        shown = "a value that is not text" if name == "password" else repr(value)
        raise ConfigError(f"{where}: expected a string, got {shown}")
    return value


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for var, name in _CONFD_ENV.items():
        if environ.get(var):
            found[name] = _coerce(name, environ[var], var)
    for name in _FIELDS:
        var = "CONFPY_" + name.upper()
        if environ.get(var):
            found[name] = _coerce(name, environ[var], var)
    return found


def _from_file(path: Path, explicit: bool) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: config file does not exist") from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    found: dict[str, Any] = {}
    for key, value in document.items():
        name = _FILE_KEYS.get(key)
        if name is None:
            hint = did_you_mean(closest(key, _FILE_KEYS))
            logging.getLogger("confpy").warning(
                "%s: unknown setting %r is ignored%s", path, key, hint, extra={"resource": None}
            )
            continue
        found[name] = _coerce(name, value, str(path))
    return found


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Merge the sources. `flags` holds only what was given on the command line (field names)."""
    env = _from_environ(os.environ if environ is None else environ)
    given = {name: _coerce(name, value, "command line") for name, value in flags.items() if value is not None}
    confdir = Path(given.get("confdir") or env.get("confdir") or Settings.confdir)
    explicit = given.get("config_file") or env.get("config_file")
    file_values = _from_file(Path(explicit) if explicit else confdir / "confd.toml", explicit=bool(explicit))
    merged = {**file_values, **env, **given}
    merged.setdefault("confdir", confdir)
    settings = Settings(**merged)
    _validate(settings)
    return dataclasses.replace(settings, backend=BACKENDS[settings.backend])


def _validate(settings: Settings) -> None:
    backend = settings.backend
    if backend in _CONFD_ONLY_BACKENDS:
        raise ConfigError(f"backend {backend!r} is not supported by confpy (supported: {_SUPPORTED})")
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r} (supported: {_SUPPORTED})")
    if settings.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"unknown log level {settings.log_level!r} (use one of {', '.join(LOG_LEVELS)})")
    if settings.log_format not in ("text", "json"):
        raise ConfigError(f"unknown log format {settings.log_format!r} (use text or json)")
    if settings.interval is not None and settings.interval <= 0:
        raise ConfigError("-interval must be a positive duration (seconds, e.g. 60, or 500ms, 1m30s)")
    if settings.render_timeout <= 0:
        raise ConfigError("-render-timeout must be a positive duration (seconds, e.g. 60, or 500ms, 1m30s)")
    if BACKENDS[backend] == "etcdv3":
        from confpy.backends.etcd import parse_node  # the one parser of -node, also used to connect

        for node in settings.nodes:
            parse_node(node)
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
        raise ConfigError("the file backend needs at least one -file")
    if bool(settings.client_cert) != bool(settings.client_key):
        raise ConfigError("-client-cert and -client-key must be given together")
    # redis also authenticates with a password alone (AUTH password); etcd needs both.
    if bool(settings.username) != bool(settings.password) and not (backend == "redis" and settings.password):
        raise ConfigError("-username and -password must be given together")
