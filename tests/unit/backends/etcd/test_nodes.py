"""The etcd backend's `-node` forms and its checks of the settings, before anything connects."""

from __future__ import annotations

from typing import Any

import pytest

from confpy.backends.etcd.backend import EtcdBackend
from confpy.backends.etcd.nodes import parse_node
from confpy.errors import ConfigError


@pytest.mark.parametrize(
    ("node", "tls", "url", "target"),
    [
        ("http://127.0.0.1:2379", False, "http://127.0.0.1:2379", "127.0.0.1:2379"),
        ("https://etcd.example:4001", False, "https://etcd.example:4001", "etcd.example:4001"),
        ("127.0.0.1:2379", False, "http://127.0.0.1:2379", "127.0.0.1:2379"),
        ("127.0.0.1:2379", True, "https://127.0.0.1:2379", "127.0.0.1:2379"),
        ("http://localhost", False, "http://localhost:2379", "localhost:2379"),
        ("http://[::1]:2379/", False, "http://[::1]:2379", "[::1]:2379"),
    ],
)
def test_node_forms(node: str, tls: bool, url: str, target: str) -> None:
    parsed = parse_node(node, tls)
    assert (parsed.url, parsed.target, parsed.secure) == (url, target, url.startswith("https"))


@pytest.mark.parametrize("node", ["ftp://h:1", "http://", "h:port", "http://h:1/v2/keys", "http://h:99999"])
def test_bad_node_is_a_config_error_naming_it(node: str) -> None:
    with pytest.raises(ConfigError, match="bad etcd node") as info:
        EtcdBackend([node])
    assert repr(node) in str(info.value)


def test_half_given_credentials_are_config_errors(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="both"):
        EtcdBackend(["127.0.0.1:2379"], cert="c.pem")
    with pytest.raises(ConfigError, match="both"):
        EtcdBackend(["127.0.0.1:2379"], username="u")
    missing = str(tmp_path / "ca.pem")
    with pytest.raises(ConfigError, match=f"CA certificate {missing}"):
        EtcdBackend(["127.0.0.1:2379"], ca=missing)
