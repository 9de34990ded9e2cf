"""Keeping values out of error messages: a value from etcd may be a secret.

Filters and failing commands quote what they were given, which helps the user find a bad value;
below `-log-level trace` each value is shown as `<value of /key>` instead. Pure code.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MIN_SECRET_LENGTH", "redact"]

MIN_SECRET_LENGTH = 4
"""Shorter values ("1", "on", "80") are not secrets, and hiding them would mangle every message."""


def redact(message: str, items: Iterable[tuple[str, str]]) -> str:
    """`message` with every value of `items` (and its escaped, repr form) replaced by its key's name."""
    forms: dict[str, str] = {}
    for key, value in items:
        if len(value) < MIN_SECRET_LENGTH:
            continue
        for form in (value, repr(value)[1:-1]):
            if form in message:
                forms.setdefault(form, f"<value of {key}>")
    for form in sorted(forms, key=len, reverse=True):
        message = message.replace(form, forms[form])
    return message
