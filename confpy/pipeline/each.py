"""One template, many files: an each-resource's items, their file names, and its manifest.

An each-resource (`each = "/sites/*"`) renders its template once per item, the distinct keys the
pattern matches, into the file its dest's name template gives the item. The file names are
refused when one would leave the resource's directory (a "/", ".", "..", a leading "." that could
hit a stage file or the manifest) or when two items give one name: nothing is written then.

The manifest, `<dir>/.confpy-each.<resource>.json`, lists the files the resource created. It is
how a restarted confpy knows which files are its own: a file whose item went away is removed only
if the manifest lists it, and a file that is there but not listed is never overwritten. It is
written before new files are renamed in (so a kill in between lists a file that may not exist,
never the reverse) and again after the removals.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import quote

from confpy._go.path import pattern_regex
from confpy.config.resource import TemplateResource
from confpy.errors import TemplateError, WriteError
from confpy.pipeline.writer import Target, write_config
from confpy.store import KeyStore

__all__ = ["Manifest", "file_names", "items"]

MANIFEST_PREFIX = ".confpy-each."
#: NUL, which no file name holds, and the other C0 controls and DEL: a newline in a file name
#: breaks every log line and listing that names it.
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def items(resource: TemplateResource, store: KeyStore) -> list[str]:
    """The distinct keys `each` matches: each key of the store cut to the pattern's depth, sorted."""
    assert resource.each is not None
    depth = resource.each.count("/")
    match = pattern_regex(resource.each).match
    found: set[str] = set()
    for key in store:
        parts = key.split("/", depth + 1)
        if len(parts) > depth:
            item = "/".join(parts[: depth + 1])
            if item not in found and match(item):
                found.add(item)
    return sorted(found)


def file_names(
    resource: TemplateResource,
    store: KeyStore,
    keys: Iterable[str],
    render: Callable[[TemplateResource, str, KeyStore, str], str],
) -> dict[str, str]:
    """Each item's file name (file name -> item), rendered by `render` from dest's name template.

    A TemplateError (nothing is written) for a name that would leave the directory and for two
    items with one name, naming the resource and both keys.
    """
    by_name: dict[str, str] = {}
    directory = resource.each_dir
    for item in keys:
        name = render(resource, resource.each_name, store, item)
        if not name or name in (".", "..") or "/" in name or name.startswith(".") or _CONTROL.search(name):
            raise TemplateError(
                f"{resource.name}: key {item}: dest file name {name!r} is not one file name in "
                f"{directory} (no '/' or control character, not empty, '.', '..' or starting with "
                "'.'): nothing written",
                key=item,
            )
        if name in by_name:
            raise TemplateError(
                f"{resource.name}: keys {by_name[name]} and {item} both map to dest "
                f"{directory / name}: nothing written",
                key=item,
            )
        by_name[name] = item
    return by_name


class Manifest:
    """The file names an each-resource created in its directory, kept in a file beside them."""

    def __init__(self, resource: TemplateResource) -> None:
        self.resource = resource
        self.path = resource.each_dir / f"{MANIFEST_PREFIX}{quote(resource.name, safe='')}.json"
        self.target = Target(dest=self.path, mode=0o644, name=resource.name, create_dest_dir=True)

    def read(self) -> set[str]:
        """The names listed; none when there is no manifest yet. One that does not parse is a
        WriteError: without it confpy cannot tell its files from others'."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError) as exc:
            raise WriteError(f"{self.resource.name}: cannot read manifest {self.path}: {exc}") from None
        with contextlib.suppress(ValueError, TypeError):
            files = json.loads(text)["files"]
            if isinstance(files, list) and all(isinstance(f, str) for f in files):
                return set(files)
        raise WriteError(
            f"{self.resource.name}: manifest {self.path} is not confpy's (a JSON object with a "
            "'files' list): remove it only once the files it listed are gone"
        )

    def write(self, names: Iterable[str]) -> None:
        document = {"resource": self.resource.name, "files": sorted(names)}
        write_config(self.target, json.dumps(document, indent=1) + "\n")

    def remove(self, names: Iterable[str]) -> list[Path]:
        """Unlink the listed files `names` (a link is unlinked, never followed); those removed."""
        removed = []
        for name in sorted(names):
            path = self.resource.each_dir / name
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise WriteError(f"{self.resource.name}: cannot remove {path}: {exc.strerror}") from exc
            removed.append(path)
        return removed
