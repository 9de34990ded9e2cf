#!/usr/bin/env python3
"""Print the Secrets and ConfigMaps the manifests beside this file name, as one JSON List:

    python3 deploy/kubernetes/generate.py | kubectl apply -f -

- Secret etcd-tls: the CA and etcd's server and peer pairs, for every member name etcd.yaml gives.
- Secret etcd-client-<role>: ca.crt, tls.crt and tls.key, the client certificate whose CN is the
  role's etcd user (containers/pki.py; permissions in etcd-auth.yaml).
- ConfigMaps nginx-confd and nginx-templates: conf.d/nginx and the templates it names, read from
  this repository, so the cluster runs the very files the tests render.

The private keys exist only in the output: nothing is written to disk but a temporary directory.
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "containers"))
from pki import ROLES, make_pki  # noqa: E402

NAMESPACE = "confpy-demo"
ETCD_MEMBERS = 3
ETCD_NAMES = [
    "etcd",
    f"etcd.{NAMESPACE}.svc",
    *(f"*.etcd{suffix}" for suffix in ("", f".{NAMESPACE}.svc", f".{NAMESPACE}.svc.cluster.local")),
]


def _meta(name: str) -> dict[str, str]:
    return {"name": name, "namespace": NAMESPACE}


def _secret(name: str, files: dict[str, Path]) -> dict[str, Any]:
    data = {key: base64.b64encode(path.read_bytes()).decode() for key, path in files.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(name), "type": "Opaque", "data": data}


def _config_map(name: str, files: list[Path]) -> dict[str, Any]:
    data = {path.name: path.read_text() for path in sorted(files)}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name), "data": data}


def manifests() -> dict[str, Any]:
    """The List of every generated object."""
    items: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="confpy-k8s-") as tmp:
        pki = make_pki(Path(tmp), ETCD_NAMES, ROLES)
        server, peer = pki.pairs["server"], pki.pairs["peer"]
        tls = {"ca.crt": pki.ca, "server.crt": server[0], "server.key": server[1]}
        items.append(_secret("etcd-tls", {**tls, "peer.crt": peer[0], "peer.key": peer[1]}))
        for role in ROLES:
            cert, key = pki.pairs[role]
            items.append(_secret(f"etcd-client-{role}", {"ca.crt": pki.ca, "tls.crt": cert, "tls.key": key}))
    resources = sorted((ROOT / "conf.d" / "nginx").glob("*.toml"))
    sources = {tomllib.loads(path.read_text())["template"]["src"] for path in resources}
    items.append(_config_map("nginx-confd", resources))
    items.append(_config_map("nginx-templates", [ROOT / "templates" / src for src in sources]))
    return {"apiVersion": "v1", "kind": "List", "items": items}


if __name__ == "__main__":
    json.dump(manifests(), sys.stdout, indent=1)
    sys.stdout.write("\n")
