"""Template resources: the `[template]` tables in `<confdir>/conf.d/*.toml`, parsed and validated.

The fields are declared once, in `FIELDS` (name, kind, reader, whether a misspelling is refused):
the known-field list, its did-you-mean and the docs' field table come from it; each field's default
is the TemplateResource attribute's. Pure apart from reading the TOML files and resolving
owner/group names.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from confpy._go.path import BadPattern, path_join, path_match, path_rooted, path_under
from confpy.config.duration import Wait, parse_duration, parse_wait
from confpy.config.placeholders import expand_command
from confpy.config.settings import Settings, backend_settings
from confpy.config.size import parse_size
from confpy.errors import ConfigError, closest, context, did_you_mean, invalid_toml

if TYPE_CHECKING:
    import signal

__all__ = [
    "FIELDS",
    "Field",
    "TemplateResource",
    "load_resource",
    "load_resources",
    "parse_mode",
    "resource_dir",
]

log = logging.getLogger("confpy")


class _ResourceFields(NamedTuple):
    """TemplateResource's fields: what a resource file says (or a library user's own resource)."""

    name: str
    """The resource file's path relative to conf.d, e.g. "nginx.toml": used in every message."""
    path: Path
    src: str
    dest: Path
    keys: tuple[str, ...] = ()
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
    each: str | None = None
    """One file per key set: a key pattern as templates see keys (`/sites/*`); each distinct key
    it matches (the first segments of a key, as many as the pattern has) is one item, and `dest`'s
    file name is a template of the item (see `each_dir`, `each_name`)."""
    on_change: str = ""
    """Under `confpy exec`, what a change does to the command: "reload_cmd", "signal", "restart"
    or "none"; "" as `-reload-signal` says (its signal when given, reload_cmd otherwise)."""
    reload_signal: signal.Signals | None = None
    """`on_change = "signal"`'s signal; None: `-reload-signal`'s, else SIGHUP."""
    kill_signal: signal.Signals | None = None
    """`on_change = "restart"`'s signal to stop the command; None: SIGTERM."""
    splay: float = 0.0
    """Under `confpy exec`, a random delay of up to this many seconds before acting on a change."""
    backend: Settings | None = None
    """The resource's own `[backend]` table (the fork's per-resource backend); None: the global one."""
    commit_group: str | None = None
    """Resources whose files change together: rendered from one revision, every check before any
    rename, then all renames and one reload (see confpy.pipeline.processor.CommitGroup)."""


class TemplateResource(_ResourceFields):
    """One template resource: which keys feed which template into which file, and how to apply it.

    A NamedTuple (compared by value, `_replace` for a changed copy), not a dataclass: a run imports
    no `dataclasses`. Its `__dict__` holds `prefixed_keys` once computed.
    """

    if not TYPE_CHECKING:  # mypy checks calls against the fields' own constructor, which this calls

        def __new__(cls, *args: Any, **kwargs: Any) -> TemplateResource:
            resource = super().__new__(cls, *args, **kwargs)
            if resource.engine:
                return resource
            return resource._replace(engine="go" if resource.src.endswith(".tmpl") else "jinja")

    @cached_property
    def prefixed_keys(self) -> tuple[str, ...]:
        """`keys` under `prefix`: the backend's keys."""
        return tuple(path_join(self.prefix, k) for k in self.keys)

    @property
    def each_dir(self) -> Path:
        """An each-resource's directory: `dest` up to its file name, which alone is a template (and
        may hold a "/" inside its `{{ }}`: `{{ getv(item + "/name") }}.conf`)."""
        return Path(_static_dir(str(self.dest)))

    @property
    def each_name(self) -> str:
        """An each-resource's file name template, as written after dest's last "/" before `{{`."""
        text = str(self.dest)
        return text[len(_static_dir(text)) + 1 :]

    def template_key(self, key: str) -> str:
        """The key as templates see it: the prefix text stripped, then rooted at "/".

        confd's setVars (resource/template/resource.go): `path.Join("/", strings.TrimPrefix(k,
        Prefix))`. With prefix `/svc/app` the key `/svc/app` is seen as `/`; with `/svc/app/` it
        is not stripped and keeps its full path.
        """
        return path_rooted(key.removeprefix(self.prefix))

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


def _static_dir(dest: str) -> str:
    """The part of a dest before the "/" that precedes its first `{{`."""
    return dest.partition("{{")[0].rpartition("/")[0]


_GLOB = r"[*?\[\\]"  # compiled on first use (re's cache): only each needs it


def _each(field: Field, table: Mapping[str, Any], where: str) -> str | None:
    """A key pattern with at least one glob segment (`/sites/*`); rooted and cleaned."""
    pattern = _string(table, field.name, where)
    if pattern is None:
        return None
    rooted = path_rooted(pattern)
    if not re.search(_GLOB, rooted):
        raise ConfigError(f'{where}: each must be a key pattern such as "/sites/*", got {pattern!r}')
    try:
        path_match(rooted, "/")
    except BadPattern:
        raise ConfigError(f"{where}: each: {pattern!r} is not a valid key pattern") from None
    return rooted


_ON_CHANGE = ("reload_cmd", "signal", "restart", "none")


def _on_change(field: Field, table: Mapping[str, Any], where: str) -> str:
    """As written ("" if absent; a `reload_signal` alone then means "signal")."""
    value = table.get(field.name)
    if value is None:
        return "signal" if table.get("reload_signal") is not None else ""
    if value not in _ON_CHANGE:
        choices = ", ".join(f'"{c}"' for c in _ON_CHANGE)
        raise ConfigError(f"{where}: on_change must be one of {choices}, got {value!r}")
    return str(value)


def _signal(field: Field, table: Mapping[str, Any], where: str) -> signal.Signals | None:
    """A signal name, used only by the `on_change` it belongs to (a stray one is refused)."""
    value = table.get(field.name)
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ConfigError(f"{where}: {field.name} must be a signal name such as HUP, got {value!r}")
    from confpy.config.signals import parse_signal  # signal: only a resource that names one

    try:
        signum = parse_signal(str(value))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {field.name}: {exc}") from None
    wanted = _SIGNAL_OF[field.name]
    # reload_signal alone means on_change = "signal"; kill_signal needs on_change = "restart" written.
    if table.get("on_change", "signal" if wanted == "signal" else None) != wanted:
        raise ConfigError(f'{where}: {field.name} is used only with on_change = "{wanted}"')
    return signum


_SIGNAL_OF = {"reload_signal": "signal", "kill_signal": "restart"}


def _splay(field: Field, table: Mapping[str, Any], where: str) -> float:
    """A duration; a negative one is named as such (parse_duration calls "-1s" no duration)."""
    value = table.get(field.name, field.default)
    if (isinstance(value, str) and value.strip().startswith("-")) or (
        isinstance(value, int | float) and value < 0
    ):
        raise ConfigError(f"{where}: splay must not be negative, got {value!r}")
    return _duration(field, table, where)


def _each_keys(each: str) -> tuple[str, ...]:
    """What an each-resource reads when it names no keys: the pattern's segments before its first glob."""
    static = []
    for segment in each.split("/")[1:]:
        if re.search(_GLOB, segment):
            break
        static.append(segment)
    return ("/" + "/".join(static),)


def _check_each_dest(dest: Path, where: str) -> None:
    """An each-resource's dest: a fixed, clean directory, and a file name that is a template
    (a "/" may appear only inside its `{{ }}`)."""
    text = str(dest)
    directory = _static_dir(text)
    name = text[len(directory) + 1 :]
    outside = re.sub(r"\{\{.*?\}\}", "", name, flags=re.DOTALL)
    if not directory or os.path.normpath(directory) != directory or "{{" not in name or "/" in outside:
        raise ConfigError(
            f"{where}: with each, dest must be a fixed directory and a file name template such as "
            f'"/etc/nginx/sites/{{{{ base(item) }}}}.conf", got {text!r}',
            key="dest",
        )


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
        raise ConfigError(f"{where}: {name_field} must be a {kind} name, got {name!r}", key=name_field)
    try:
        named = lookup(name)
    except KeyError:
        raise ConfigError(
            f"{where}: {name_field} {name!r} is not a {kind} on this system", key=name_field
        ) from None
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


# --- the schema: each field's reader takes (field, the [template] table, the file's path) ----------


class Field(NamedTuple):
    """One field of a resource's `[template]` table: a row of FIELDS, a NamedTuple as settings'
    Setting is (a frozen dataclass's class takes ~0.7 ms more to build at every start)."""

    name: str
    kind: str
    """What it holds, in the words of the docs."""
    read: Callable[[Field, Mapping[str, Any], str], Any] | None
    """Its value in the TemplateResource attribute of its name, checked; None: read by another
    field's reader (owner by uid's, group by gid's)."""
    safety: bool = False
    """A misspelling is refused rather than ignored: ignoring `chek_cmd` would put an unchecked
    file live, and ignoring `modee` a secret world-readable."""

    @property
    def default(self) -> Any:
        """Its value when absent: the TemplateResource attribute's default (None if it has none)."""
        return TemplateResource._field_defaults.get(self.name)


def _required(field: Field, table: Mapping[str, Any], where: str) -> str:
    value = _string(table, field.name, where, required=True)
    assert value is not None
    return value


def _absolute_path(field: Field, table: Mapping[str, Any], where: str) -> Path:
    value = _required(field, table, where)
    if not os.path.isabs(value):
        raise ConfigError(f"{where}: {field.name} must be an absolute path, got {value!r}")
    return Path(value)


def _optional(field: Field, table: Mapping[str, Any], where: str) -> str | None:
    return _string(table, field.name, where)


def _prefix(field: Field, table: Mapping[str, Any], where: str) -> str:
    """As written ("" if absent); load_resource roots it and joins the global -prefix."""
    return _string(table, field.name, where) or ""


def _flag(field: Field, table: Mapping[str, Any], where: str) -> bool:
    value = table.get(field.name, field.default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {field.name} must be true or false, got {value!r}")
    return value


def _keys(field: Field, table: Mapping[str, Any], where: str) -> tuple[str, ...]:
    keys = table.get(field.name, list(field.default))
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f'{where}: keys must be a list of strings such as ["/app/upstreams"]')
    return tuple(keys)


def _mode(field: Field, table: Mapping[str, Any], where: str) -> int | None:
    mode = table.get(field.name)
    return None if mode is None or mode == "" else parse_mode(mode, where)


def _uid(field: Field, table: Mapping[str, Any], where: str) -> int | None:
    return _owner_id(table, where, "uid", "owner", "user", _user_id)


def _gid(field: Field, table: Mapping[str, Any], where: str) -> int | None:
    return _owner_id(table, where, "gid", "group", "group", _group_id)


def _user_id(name: str) -> int:
    import pwd  # only for a resource that names its owner

    return pwd.getpwnam(name).pw_uid


def _group_id(name: str) -> int:
    import grp

    return grp.getgrnam(name).gr_gid


def _command(field: Field, table: Mapping[str, Any], where: str) -> str | None:
    """A check or reload command; a placeholder other than {{.src}} or {{.dest}} is refused at load."""
    command = _string(table, field.name, where)
    if command is not None:
        try:
            expand_command(command, src="src", dest="dest")
        except ConfigError as exc:
            raise ConfigError(f"{where}: {field.name}: {exc}") from None
    return command


def _duration(field: Field, table: Mapping[str, Any], where: str) -> float:
    return parse_duration(table.get(field.name, field.default), f"{where}: {field.name}")


def _limit_duration(field: Field, table: Mapping[str, Any], where: str) -> float | None:
    """A positive duration, or None when absent: the global flag of the same name applies."""
    if field.name not in table:
        return None
    seconds = parse_duration(table[field.name], f"{where}: {field.name}")
    if seconds <= 0:
        raise ConfigError(f"{where}: {field.name} must be positive, got {table[field.name]!r}")
    return seconds


def _size(field: Field, table: Mapping[str, Any], where: str) -> int | None:
    """A size, or None when absent: the global flag of the same name applies."""
    return parse_size(table[field.name], f"{where}: {field.name}") if field.name in table else None


def _wait(field: Field, table: Mapping[str, Any], where: str) -> Wait | None:
    return parse_wait(table.get(field.name), f"{where}: {field.name}")


def _engine(field: Field, table: Mapping[str, Any], where: str) -> str:
    """The `engine` field as written ("" if absent: TemplateResource decides by src)."""
    engine = table.get(field.name)
    if engine is None:
        return ""
    if engine not in ("go", "jinja"):
        raise ConfigError(f'{where}: engine must be "go" or "jinja", got {engine!r}')
    return str(engine)


FIELDS: tuple[Field, ...] = (
    Field("src", "template file under templates/", _required),
    Field("dest", "absolute path", _absolute_path),
    Field("prefix", "key prefix", _prefix),
    Field("create_dest_dir", "boolean", _flag),
    Field("keys", "list of keys", _keys),
    Field("mode", 'octal string such as "0644"', _mode, safety=True),
    Field("uid", "user id", _uid, safety=True),
    Field("owner", "user name", None, safety=True),
    Field("gid", "group id", _gid, safety=True),
    Field("group", "group name", None, safety=True),
    Field("check_cmd", "command", _command, safety=True),
    Field("reload_cmd", "command", _command),
    Field("check_cmd_timeout", "duration", _duration),
    Field("reload_cmd_timeout", "duration", _duration),
    Field("sensitive", "boolean", _flag, safety=True),
    Field("wait", "MIN[:MAX] duration", _wait),
    Field("reload_group", "name", _optional),
    Field("engine", '"go" or "jinja"', _engine),
    Field("render_timeout", "duration", _limit_duration),
    Field("max_output_size", "size", _size),
    Field("each", "key pattern such as /sites/*", _each),
    Field("on_change", '"reload_cmd", "signal", "restart" or "none"', _on_change),
    Field("reload_signal", "signal name such as HUP", _signal),
    Field("kill_signal", "signal name such as TERM", _signal),
    Field("splay", "duration", _splay),
    Field("commit_group", "name", _optional),
)
"""The `[template]` fields, in the order they are read (and so checked)."""
_KNOWN = tuple(f.name for f in FIELDS)
_SAFETY = frozenset(f.name for f in FIELDS if f.safety)


def load_resource(path: Path, *, name: str, global_prefix: str = "") -> TemplateResource:
    """Parse one resource file; every problem is a ConfigError naming the file (and line for TOML),
    with the resource and its file as fields, which what it logs is about too."""
    with context(resource=name, path=path):
        return _load_resource(path, name, global_prefix)


def _read(declared: Field, table: Mapping[str, Any], where: str) -> Any:
    """A field's value; an error reading it has the field as its `key` (check points at its line)."""
    assert declared.read is not None
    with context(key=declared.name):
        return declared.read(declared, table, where)


def _load_resource(path: Path, name: str, global_prefix: str) -> TemplateResource:
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise invalid_toml(path, exc) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    where = str(path)
    table = document.get("template")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: no [template] table")
    for unknown in sorted(set(table) - set(_KNOWN)):
        close = closest(unknown, _KNOWN)
        if close in _SAFETY:
            raise ConfigError(
                f"{where}: unknown field {unknown!r} in [template]: did you mean {close}? "
                "(a misspelt safety field is refused, not ignored)",
                key=unknown,
            )
        hint = did_you_mean(close)
        log.warning(
            "%s: unknown field %r in [template] is ignored%s", where, unknown, hint, extra={"key": unknown}
        )
    for unknown in sorted(set(document) - {"template", "backend"}):
        log.warning("%s: unknown table or key %r is ignored", where, unknown, extra={"key": unknown})
    values = {f.name: _read(f, table, where) for f in FIELDS if f.read is not None}
    values["backend"] = _backend(document.get("backend"), where)
    if values["on_change"] == "reload_cmd" and not values["reload_cmd"]:
        raise ConfigError(f'{where}: on_change = "reload_cmd" needs a reload_cmd', key="on_change")
    prefix = values.pop("prefix")
    if values["each"] is not None:
        with context(key="dest"):
            _check_each_dest(values["dest"], where)
        values["keys"] = values["keys"] or _each_keys(values["each"])
    rooted = path_join("/", global_prefix, prefix)
    # A trailing "/" as written stays: confd strips the prefix text as it is (see template_key).
    if (prefix or global_prefix).endswith("/") and rooted != "/":
        rooted += "/"
    return TemplateResource(name=name, path=path, prefix=rooted, **values)


def _backend(table: object, where: str) -> Settings | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: backend must be a [backend] table", key="backend")
    return backend_settings(table, where)


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
            errors.append(exc)
    return _refuse_split_groups(*_refuse_shared_dests(resources, errors))


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
        # About first's file, but not first's alone: no `resource`, as no one resource failed to load.
        errors.append(
            ConfigError(
                f"{first.path}: dest {first.dest} is also the dest of {names}: "
                "two resources must not write one file (none of them is applied)",
                path=first.path,
                key="dest",
            )
        )
    refused = {id(r) for group in shared for r in group}
    return [r for r in resources if id(r) not in refused], errors


def _refuse_split_groups(
    resources: list[TemplateResource], errors: list[ConfigError]
) -> tuple[list[TemplateResource], list[ConfigError]]:
    """A commit group reads its members' keys in one read and reloads once, so its members must
    agree on the backend and on that reload: one backend, at most one reload_cmd and one
    reload_group among them. Otherwise no member is applied, and one error names the two that
    disagree: applying some members alone is what the group is to prevent."""
    by_group: dict[str, list[TemplateResource]] = {}
    for resource in resources:
        if resource.commit_group:
            by_group.setdefault(resource.commit_group, []).append(resource)
    refused: set[int] = set()
    for name, members in by_group.items():
        disagreement = _disagreement(members)
        if disagreement is not None:
            first, other, what = disagreement
            errors.append(
                ConfigError(
                    f"{other.path}: commit group {name!r} reads once and reloads once, but its "
                    f"{what} differs from {first.path}'s (no member of the group is applied)",
                    path=other.path,
                    key="backend" if what == "backend" else what.split()[0],
                )
            )
            refused |= {id(m) for m in members}
    return [r for r in resources if id(r) not in refused], errors


def _disagreement(
    members: Sequence[TemplateResource],
) -> tuple[TemplateResource, TemplateResource, str] | None:
    """Two members of a commit group that differ in backend, reload_cmd or reload_group, and how."""
    connection = [(m, None if m.backend is None else m.backend.connection) for m in members]
    other = next((m for m, c in connection if c != connection[0][1]), None)
    if other is not None:
        return members[0], other, "backend"
    for attribute in ("reload_cmd", "reload_group"):
        named = [m for m in members if getattr(m, attribute)]
        other = next((m for m in named if getattr(m, attribute) != getattr(named[0], attribute)), None)
        if other is not None:
            return named[0], other, f"{attribute} {getattr(other, attribute)!r}"
    return None


def resource_dir(confdir: Path) -> Path:
    """`<confdir>/conf.d`; a ConfigError when it is missing (confd only warned and rendered nothing)."""
    confd = confdir / "conf.d"
    if not confd.is_dir():
        raise ConfigError(f"{confd}: template resource directory does not exist", path=confd)
    return confd


def _resource_files(confd: Path) -> Sequence[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(confd, followlinks=True):
        dirs.sort()
        found.extend(Path(root, f) for f in files if f.endswith("toml"))
    return sorted(found)
