"""The two placeholders of check_cmd and reload_cmd, `{{.src}}` and `{{.dest}}`, and nothing else.

Read when a resource is loaded (a bad placeholder is a configuration error) and when its
commands run.
"""

from __future__ import annotations

import re

from confpy.errors import ConfigError

__all__ = ["expand_command"]

_PLACEHOLDER = r"(?s)\{\{(.*?)\}\}"  # compiled on first use: a resource without commands never needs it
_NAMES = {"src", ".src", "dest", ".dest"}


def expand_command(template: str, *, src: str | None, dest: str | None) -> str:
    """Fill `{{.src}}` / `{{.dest}}` (also `{{ src }}`, `{{ .dest }}`...) with shell-quoted paths.

    Only these two placeholders exist: anything else between `{{ }}` is refused, so a value from
    the key store can never end up in a shell command.
    """
    import shlex  # only for a resource with commands

    values = {"src": src, "dest": dest}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name not in _NAMES:
            raise ConfigError(
                f"unsupported placeholder {match.group(0)!r} in command {template!r}: "
                "only {{.src}} and {{.dest}} are allowed"
            )
        value = values[name.lstrip(".")]
        if value is None:
            raise ConfigError(f"placeholder {match.group(0)!r} has no value in command {template!r}")
        return shlex.quote(value)

    return re.sub(_PLACEHOLDER, replace, template)
