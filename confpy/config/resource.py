"""Template resources: the `[template]` tables in `<confdir>/conf.d/*.toml`, parsed and validated.

Pure apart from reading the TOML files and resolving owner/group names.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import re
import tomllib
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confpy._go.path import path_join, path_under
from confpy.config.duration import Wait, parse_duration, parse_wait
from confpy.config.placeholders import expand_command
from confpy.config.size import parse_size
from confpy.errors import ConfigError, closest, did_you_mean

__all__ = ["TemplateResource", "load_resource", "load_resources", "parse_mode", "resource_dir"]

log = logging.getLogger("confpy")

_KNOWN_FIELDS = frozenset(
    {
        "src",
        "dest",
        "keys",
        "prefix",
        "mode",
        "uid",
        "gid",
        "owner",
        "group",
        "check_cmd",
        "reload_cmd",
        "check_cmd_timeout",
        "reload_cmd_timeout",
        "create_dest_dir",
        "wait",
        "reload_group",
        "engine",
        "sensitive",
        "render_timeout",
        "max_output_size",
    }
)


# Fields whose loss makes the output less safe: a misspelling is refused rather than ignored, since
# ignoring `chek_cmd` would put an unchecked file live and ignoring `modee` a secret world-readable.
_SAFETY_FIELDS = frozenset({"check_cmd", "mode", "uid", "gid", "owner", "group", "sensitive"})


@dataclass(frozen=True)
class TemplateResource:
    """One template resource: which keys feed which template into which file, and how to apply it."""

    name: str
    """The resource file's path relative to conf.d, e.g. "nginx.toml": used in every message."""
    path: Path
    src: str
    dest: Path
    keys: tuple[str, ...]
    prefix: str = "/"
    """Rooted and cleaned, but with a trailing "/" if one was written (it changes what is stripped)."""
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    check_cmd: str | None = None
    reload_cmd: str | None = None
    check_cmd_timeout: float = 30.0
    reload_cmd_timeout: float = 60.0
    create_dest_dir: bool = False
    wait: Wait | None = None
    """Debounce in watch mode (consul-template's `wait`); None: the global -wait applies."""
    reload_group: str | None = None
    """Resources in one group share one reload, run once after all of them have settled."""
    sensitive: bool = False
    """Secrets: the -noop diff shows only how many lines changed."""
    engine: str = ""
    """"go" (confd's Go templates) or "jinja"; "" decides by src: Go for a src ending in `.tmpl`
    (confd's convention), Jinja2 otherwise. Rendering and `confpy check` both read this field."""
    render_timeout: float | None = None
    """Seconds a render may take before it is stopped; None: the global -render-timeout applies."""
    max_output_size: int | None = None
    """Bytes a render may produce; None: the global -max-output-size applies."""
    prefixed_keys: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefixed_keys", tuple(path_join(self.prefix, k) for k in self.keys))
        if not self.engine:
            object.__setattr__(self, "engine", "go" if self.src.endswith(".tmpl") else "jinja")

    def template_key(self, key: str) -> str:
        """The key as templates see it: the prefix text stripped, then rooted at "/".

        confd's setVars (resource/template/resource.go): `path.Join("/", strings.TrimPrefix(k,
        Prefix))`. With prefix `/svc/app` the key `/svc/app` is seen as `/`; with `/svc/app/` it
        is not stripped and keeps its full path.
        """
        return path_join("/", key.removeprefix(self.prefix))

    def view(self, values: Mapping[str, str], ordered: Sequence[str] | None = None) -> dict[str, str]:
        """The keys of `values` this resource reads, renamed as its templates see them.

        `ordered` (the sorted keys of `values`) lets many resources share one sort: each then
        visits only its own keys, found by bisection, so a run costs O(keys), not O(keys x resources).
        """
        keys = sorted(values) if ordered is None else ordered
        return {self.template_key(k): values[k] for k in _under(keys, self.prefixed_keys)}

    def owns(self, key: str) -> bool:
        """Whether a change to `key` can change this resource's output."""
        return any(path_under(key, root) for root in self.prefixed_keys)


def _under(ordered: Sequence[str], roots: Sequence[str]) -> Iterator[str]:
    """The keys of the sorted `ordered` that `path_under` selects for any of `roots`."""
    for root in dict.fromkeys(roots):
        below = root if root.endswith("/") else root + "/"
        start = bisect_left(ordered, root)
        if below != root and start < len(ordered) and ordered[start] == root:
            yield root
        for index in range(bisect_left(ordered, below, start), len(ordered)):
            if not ordered[index].startswith(below):
                break
            yield ordered[index]


def parse_mode(value: object, where: str) -> int:
    """File mode, always octal: "0644", "644" and "0o644" all mean 0o644 (confd read "644" as decimal)."""
    if not isinstance(value, str):
        raise ConfigError(f'{where}: mode must be a string such as "0644", got {value!r}')
    text = value.strip().lower().removeprefix("0o")
    if not re.fullmatch(r"[0-7]{1,4}", text):
        raise ConfigError(f'{where}: mode {value!r} is not an octal file mode such as "0644"')
    return int(text, 8)


def _owner_id(
    table: Mapping[str, Any],
    where: str,
    id_field: str,
    name_field: str,
    kind: str,
    lookup: Callable[[str], int],
) -> int | None:
    """uid/owner or gid/group: a number, a name, or both if they agree."""
    number, name = table.get(id_field), table.get(name_field)
    if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number < 0):
        raise ConfigError(f"{where}: {id_field} must be a non-negative integer, got {number!r}")
    if name is None:
        return number
    if not isinstance(name, str):
        raise ConfigError(f"{where}: {name_field} must be a {kind} name, got {name!r}")
    try:
        named = lookup(name)
    except KeyError:
        raise ConfigError(f"{where}: {name_field} {name!r} is not a {kind} on this system") from None
    if number is not None and number != named:
        raise ConfigError(
            f"{where}: {id_field} {number} and {name_field} {name!r} ({id_field} {named}) disagree"
        )
    return named


def _string(table: Mapping[str, Any], name: str, where: str, *, required: bool = False) -> str | None:
    value = table.get(name)
    if value is None or value == "":
        if required:
            raise ConfigError(f"{where}: missing required field {name!r}")
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {name} must be a string, got {value!r}")
    return value


def _command(table: Mapping[str, Any], name: str, where: str) -> str | None:
    """A check or reload command; a placeholder other than {{.src}} or {{.dest}} is refused at load."""
    command = _string(table, name, where)
    if command is not None:
        try:
            expand_command(command, src="src", dest="dest")
        except ConfigError as exc:
            raise ConfigError(f"{where}: {name}: {exc}") from None
    return command


def _bool(table: Mapping[str, Any], name: str, where: str) -> bool:
    value = table.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {name} must be true or false, got {value!r}")
    return value


def _keys(table: Mapping[str, Any], where: str) -> tuple[str, ...]:
    keys = table.get("keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f'{where}: keys must be a list of strings such as ["/app/upstreams"]')
    return tuple(keys)


def _engine(table: Mapping[str, Any], where: str) -> str:
    """The `engine` field as written ("" if absent: TemplateResource decides by src)."""
    engine = table.get("engine")
    if engine is None:
        return ""
    if engine not in ("go", "jinja"):
        raise ConfigError(f'{where}: engine must be "go" or "jinja", got {engine!r}')
    return str(engine)


def _render_timeout(table: Mapping[str, Any], where: str) -> float | None:
    if "render_timeout" not in table:
        return None
    seconds = parse_duration(table["render_timeout"], f"{where}: render_timeout")
    if seconds <= 0:
        raise ConfigError(f"{where}: render_timeout must be positive, got {table['render_timeout']!r}")
    return seconds


def load_resource(path: Path, *, name: str, global_prefix: str = "") -> TemplateResource:
    """Parse one resource file; every problem is a ConfigError naming the file (and line for TOML)."""
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    where = str(path)
    table = document.get("template")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: no [template] table")
    for unknown in sorted(set(table) - _KNOWN_FIELDS):
        close = closest(unknown, _KNOWN_FIELDS)
        if close in _SAFETY_FIELDS:
            raise ConfigError(
                f"{where}: unknown field {unknown!r} in [template]: did you mean {close}? "
                "(a misspelt safety field is refused, not ignored)"
            )
        hint = did_you_mean(close)
        log.warning(
            "%s: unknown field %r in [template] is ignored%s", where, unknown, hint, extra={"resource": name}
        )
    for unknown in sorted(set(document) - {"template"}):
        log.warning("%s: unknown table or key %r is ignored", where, unknown, extra={"resource": name})

    src = _string(table, "src", where, required=True)
    dest = _string(table, "dest", where, required=True)
    assert src is not None and dest is not None
    if not os.path.isabs(dest):
        raise ConfigError(f"{where}: dest must be an absolute path, got {dest!r}")
    prefix = _string(table, "prefix", where) or ""
    rooted = path_join("/", global_prefix, prefix)
    # A trailing "/" as written stays: confd strips the prefix text as it is (see template_key).
    if (prefix or global_prefix).endswith("/") and rooted != "/":
        rooted += "/"
    create_dest_dir = _bool(table, "create_dest_dir", where)
    mode = table.get("mode")
    return TemplateResource(
        name=name,
        path=path,
        src=src,
        dest=Path(dest),
        keys=_keys(table, where),
        prefix=rooted,
        mode=None if mode is None or mode == "" else parse_mode(mode, where),
        uid=_owner_id(table, where, "uid", "owner", "user", lambda n: pwd.getpwnam(n).pw_uid),
        gid=_owner_id(table, where, "gid", "group", "group", lambda n: grp.getgrnam(n).gr_gid),
        check_cmd=_command(table, "check_cmd", where),
        reload_cmd=_command(table, "reload_cmd", where),
        check_cmd_timeout=parse_duration(table.get("check_cmd_timeout", 30), f"{where}: check_cmd_timeout"),
        reload_cmd_timeout=parse_duration(
            table.get("reload_cmd_timeout", 60), f"{where}: reload_cmd_timeout"
        ),
        create_dest_dir=create_dest_dir,
        sensitive=_bool(table, "sensitive", where),
        wait=parse_wait(table.get("wait"), f"{where}: wait"),
        reload_group=_string(table, "reload_group", where),
        engine=_engine(table, where),
        render_timeout=_render_timeout(table, where),
        max_output_size=(
            parse_size(table["max_output_size"], f"{where}: max_output_size")
            if "max_output_size" in table
            else None
        ),
    )


def load_resources(
    confdir: Path, *, global_prefix: str = ""
) -> tuple[list[TemplateResource], list[ConfigError]]:
    """Every `*toml` file under `<confdir>/conf.d`, recursively, in lexical order.

    A broken file does not stop the others (confd aborted the whole run): its error is returned
    beside the resources that did load. A missing conf.d raises: nothing can run.
    """
    confd = resource_dir(confdir)
    resources: list[TemplateResource] = []
    errors: list[ConfigError] = []
    for path in _resource_files(confd):
        try:
            resources.append(
                load_resource(path, name=str(path.relative_to(confd)), global_prefix=global_prefix)
            )
        except ConfigError as exc:
            exc.path = path
            errors.append(exc)
    return _refuse_shared_dests(resources, errors)


def _refuse_shared_dests(
    resources: list[TemplateResource], errors: list[ConfigError]
) -> tuple[list[TemplateResource], list[ConfigError]]:
    """Two resources writing one file would overwrite each other on every change: neither is
    applied, and one error names them all (confd accepted them silently)."""
    by_file: dict[str, list[TemplateResource]] = {}
    for resource in resources:
        # The directory resolved, the name not: a dest that is a symlink is replaced, not followed.
        file = os.path.join(os.path.realpath(resource.dest.parent), resource.dest.name)
        by_file.setdefault(file, []).append(resource)
    shared = [group for group in by_file.values() if len(group) > 1]
    for first, *others in shared:
        names = ", ".join(str(r.path) for r in others)
        errors.append(
            ConfigError(
                f"{first.path}: dest {first.dest} is also the dest of {names}: "
                "two resources must not write one file (none of them is applied)"
            )
        )
    refused = {id(r) for group in shared for r in group}
    return [r for r in resources if id(r) not in refused], errors


def resource_dir(confdir: Path) -> Path:
    """`<confdir>/conf.d`; a ConfigError when it is missing (confd only warned and rendered nothing)."""
    confd = confdir / "conf.d"
    if not confd.is_dir():
        raise ConfigError(f"{confd}: template resource directory does not exist")
    return confd


def _resource_files(confd: Path) -> Sequence[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(confd, followlinks=True):
        dirs.sort()
        found.extend(Path(root, f) for f in files if f.endswith("toml"))
    return sorted(found)
