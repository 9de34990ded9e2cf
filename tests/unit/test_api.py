"""The public API (confpy/__init__.py) is one table: `__all__`, `dir()`, the TYPE_CHECKING imports
mypy reads and the objects users get all follow `_API`, and `import confpy` stays light."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys

import pytest

import confpy
import confpy.testing
from tests.support.paths import REPO

#: What `import confpy` must not import: each costs start-up time and is needed only by some runs.
HEAVY = (
    "jinja2",
    "pyetcd",
    "grpc",
    "yaml",
    "typer",
    "watchdog",
    "redis",
    "kazoo",
)


def _type_checking_imports() -> dict[str, str]:
    """name -> module of the `if TYPE_CHECKING:` block's imports, each written `X as X`."""
    tree = ast.parse((REPO / "confpy" / "__init__.py").read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    found: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.module, ast.unparse(node)
        for alias in node.names:
            assert alias.asname == alias.name, f"{ast.unparse(node)}: write `{alias.name} as {alias.name}`"
            assert alias.name not in found, f"{alias.name} imported twice"
            found[alias.name] = node.module
    return found


def test_all_and_dir_are_the_table() -> None:
    assert len(confpy.__all__) == len(set(confpy.__all__))
    assert set(confpy.__all__) == {*confpy._API, "__version__"}
    assert dir(confpy) == confpy.__all__ == sorted(confpy.__all__)


def test_the_type_checking_imports_are_the_table() -> None:
    assert _type_checking_imports() == confpy._API


@pytest.mark.parametrize("name", sorted(confpy._API))
def test_each_name_is_the_object_its_module_defines(name: str) -> None:
    module = importlib.import_module(confpy._API[name])
    assert name in module.__all__, f"{module.__name__} does not export {name}"
    obj = getattr(confpy, name)
    assert obj is getattr(module, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert obj.__module__ == module.__name__, f"{name} is defined in {obj.__module__}"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"^module 'confpy' has no attribute 'nope'$"):
        confpy.nope  # noqa: B018


def test_the_types_a_backend_needs_are_public() -> None:
    from confpy.backends import base

    assert set(base.__all__) - {"decode_value"} <= set(confpy.__all__)


def test_testing_exports_what_it_documents() -> None:
    assert confpy.testing.__all__ == ["MemoryBackend", "render_confdir"]
    assert confpy.testing.MemoryBackend is confpy.MemoryBackend
    assert confpy.testing.__doc__ and "render_confdir" in confpy.testing.__doc__


def test_import_confpy_imports_nothing_heavy() -> None:
    """A fresh interpreter: this one has imported everything already."""
    code = "import sys; import confpy; print('\\n'.join(sorted(sys.modules)))"
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(shown.stdout.split())
    assert {m for m in loaded if m.split(".")[0] == "confpy"} == {"confpy", "confpy._version"}
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
