"""gopkg.in/yaml.v2's reading of YAML, which confd's file backend uses (resolve.go): which plain
scalars become null, bool, int, float or text, and string map keys.

PyYAML parses; its YAML 1.1 resolvers are replaced by yaml.v2's own rule, which calls Go's
strconv: `y`/`on` are booleans, `0755` is octal, `1_000` an int, `1e3` a float, `12:30` text.
One deliberate difference: yaml.v2 makes `2001-12-14` a time.Time, which confd's nodeWalk then
drops; here it stays text. Imported only with the file backend (PyYAML is loaded only then).
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable
from typing import Any

import yaml

from confpy._go.strconv import NumError, parse_float, parse_int, parse_uint

__all__ = ["YAMLError", "load_first", "resolve_plain"]

YAMLError = yaml.YAMLError

_PLAIN_TAG = "tag:confpy:plain"
# resolve.go's resolveMap: the scalars known by their whole text. Its booleans are YAML 1.1's,
# not strconv.ParseBool's (which takes 1/t/T and no y/yes/on): two Go rules, kept apart.
_KNOWN: dict[str, object] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")


def resolve_plain(text: str) -> object:
    """yaml.v2's resolve() of an unquoted scalar into None, bool, int, float or str.

    A text starting with "." may be a float (strconv.ParseFloat as written); one starting with a
    sign or digit, its underscores removed, is tried as ParseInt(s, 0, 64), ParseUint(s, 0, 64),
    then, if it looks like a YAML float, ParseFloat. Anything else, or a number out of range, is text.
    """
    if text in _KNOWN:
        return _KNOWN[text]
    if text[0] == ".":
        try:
            return parse_float(text)
        except NumError:
            return text
    if text[0] in "+-0123456789":
        plain = text.replace("_", "")
        for parse in (parse_int, parse_uint):
            try:
                return parse(plain)
            except NumError:
                pass
        if _YAML_STYLE_FLOAT.match(plain):
            try:
                return parse_float(plain)
            except NumError:
                pass
    return text


class _GoYamlLoader(yaml.SafeLoader):
    """PyYAML with yaml.v2's scalar rules, and map keys kept as written (confd needs string keys)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        self.flatten_mapping(node)
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found a key that is not text",
                    key_node.start_mark,
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping


def _construct_plain(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    return resolve_plain(str(node.value))


# Replaced, not extended: only merge keys and the catch-all resolve implicitly.
_GoYamlLoader.yaml_implicit_resolvers = {}
_GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"<<\Z"), ["<"])
_GoYamlLoader.add_implicit_resolver(_PLAIN_TAG, re.compile(r".*", re.DOTALL), None)
_GoYamlLoader.add_constructor(_PLAIN_TAG, _construct_plain)


def load_first(text: str) -> object:
    """The first document of `text` as yaml.v2 decodes it (None if there is none); YAMLError if bad."""
    return next(iter(yaml.load_all(text, Loader=_GoYamlLoader)), None)
