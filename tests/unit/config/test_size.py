"""Sizes in settings and resource files."""

from __future__ import annotations

import pytest

from confpy.config.size import format_size, parse_size
from confpy.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (1024, 1024),
        ("1024", 1024),
        ("64MiB", 64 * 1024**2),
        ("64 mib", 64 * 1024**2),
        ("500MB", 500_000_000),
        ("2k", 2000),
        ("3KiB", 3072),
        ("1GiB", 1024**3),
        ("1gb", 10**9),
        ("10B", 10),
    ],
)
def test_parse_size(value: object, size: int) -> None:
    assert parse_size(value, "max_output_size") == size


@pytest.mark.parametrize("value", ["", "lots", "1.5MiB", "-1", "1 TiB", True, 2.5, [1]])
def test_not_a_size(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^conf.d/a.toml: max_output_size: .* is not a size"):
        parse_size(value, "conf.d/a.toml: max_output_size")


@pytest.mark.parametrize("value", [0, "0MiB", -5])
def test_a_size_is_positive(value: object) -> None:
    with pytest.raises(ConfigError, match="a size must be positive"):
        parse_size(value, "x")


@pytest.mark.parametrize(
    ("size", "text"),
    [(64 * 1024**2, "64 MiB"), (1024**3, "1 GiB"), (3072, "3 KiB"), (1000, "1000 bytes"), (1, "1 bytes")],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text
