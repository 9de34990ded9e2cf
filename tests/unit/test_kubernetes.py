"""deploy/kubernetes/: every manifest valid against a current Kubernetes release's schemas, offline,
and what the manifests promise about confpy true of confpy.

No cluster can run here, so the manifests are checked as far as that goes without one: schema
validity (strict: an unknown field is an error), the generated Secrets and ConfigMaps, the names
one object gives another (a volume's Secret or ConfigMap, an image), and confpy itself serving the
probes' paths on the port the probes name, started with the sidecar's own arguments.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.etcd_server import EtcdServer, free_port
from tests.support.helpers import ConfpyProcess, make_confdir, wait_until
from tests.support.paths import REPO

ROOT = REPO
DEPLOY = ROOT / "deploy" / "kubernetes"
#: The newest Kubernetes release whose schemas kubernetes-validate ships.
KUBERNETES = kubernetes_validate.latest_version()


def _manifests() -> list[dict[str, Any]]:
    return [doc for path in sorted(DEPLOY.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())]


def _generated() -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, str(DEPLOY / "generate.py")], capture_output=True, text=True, check=True, timeout=60
    )
    items: list[dict[str, Any]] = json.loads(out.stdout)["items"]
    return items


def _pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        spec = obj.get("spec", {})
        if "template" in spec:
            yield obj["metadata"]["name"], spec["template"]["spec"]


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod.get("initContainers", [])
    yield from pod["containers"]


@pytest.fixture(scope="module")
def generated() -> list[dict[str, Any]]:
    return _generated()


@pytest.mark.parametrize("obj", _manifests(), ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_manifest_is_valid_for_a_current_release(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def test_generated_secrets_and_config_maps_are_valid(generated: list[dict[str, Any]]) -> None:
    for obj in generated:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def test_an_invalid_manifest_is_refused() -> None:
    """The validator is strict: a misspelt field fails, so the tests above can fail."""
    bad = yaml.safe_load((DEPLOY / "namespace.yaml").read_text())
    bad["metadata"]["nmae"] = "typo"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES, strict=True)


def test_every_volume_names_an_object_that_exists(generated: list[dict[str, Any]]) -> None:
    made = {(o["kind"], o["metadata"]["name"]) for o in generated + _manifests()}
    for name, pod in _pod_specs(_manifests()):
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert ("Secret", volume["secret"]["secretName"]) in made, (name, volume)
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in made, (name, volume)


def test_every_image_is_built_by_the_repository() -> None:
    for name, pod in _pod_specs(_manifests()):
        for container in _containers(pod):
            image = container["image"]
            assert image.startswith("confpy-demo/"), (name, image)
            assert (ROOT / "containers" / image.removeprefix("confpy-demo/") / "Dockerfile").is_file()


def test_a_container_that_runs_etcdctl_has_it() -> None:
    # etcd-auth ran etcdctl in the etcd image, which installs only etcd-server (found running the
    # same Job's script on the Swarm stack).
    for name, pod in _pod_specs(_manifests()):
        for container in _containers(pod):
            if "etcdctl" in " ".join(container.get("command", []) + container.get("args", [])):
                image = container["image"].removeprefix("confpy-demo/")
                dockerfile = (ROOT / "containers" / image / "Dockerfile").read_text()
                assert "etcd-client" in dockerfile, (name, container["name"], image)


def test_the_config_maps_carry_the_repositorys_files(generated: list[dict[str, Any]]) -> None:
    maps = {o["metadata"]["name"]: o["data"] for o in generated if o["kind"] == "ConfigMap"}
    assert maps["nginx-confd"] == {p.name: p.read_text() for p in (ROOT / "conf.d" / "nginx").glob("*.toml")}
    assert maps["nginx-templates"] == {"nginx.conf.j2": (ROOT / "templates" / "nginx.conf.j2").read_text()}


def _sidecars() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, c)
        for name, pod in _pod_specs(_manifests())
        for c in pod.get("initContainers", [])
        if c.get("restartPolicy") == "Always"
    ]


def test_native_sidecars_gate_the_app_on_the_first_render() -> None:
    """Each sidecar runs in watch mode and has a startupProbe, so the app waits for its files."""
    sidecars = _sidecars()
    assert sidecars
    for name, sidecar in sidecars:
        assert sidecar["command"][0] == "confpy" and "-watch" in sidecar["command"], name
        assert sidecar["startupProbe"]["httpGet"]["path"] == "/ready", name
        assert sidecar["livenessProbe"]["httpGet"]["path"] == "/health", name


def _probe_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


def test_confpy_serves_the_probes_on_the_port_they_name(
    etcd: EtcdServer, etcd_prefix: str, tmp_path: Path
) -> None:
    """The sidecar's own arguments, its confdir and address swapped for the test's: every probe's
    path answers 200 once the first render is done, on the port given by -metrics-addr."""
    name, sidecar = _sidecars()[0]
    args = list(sidecar["command"][1:])
    metrics_port = int(args[args.index("-metrics-addr") + 1].rpartition(":")[2])
    probes = [sidecar[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe")]
    for probe in probes:
        assert _probe_port(sidecar, probe["port"]) == metrics_port, (name, probe)

    dest = tmp_path / "out" / "app.conf"
    confdir = make_confdir(
        tmp_path,
        {"app.toml": f'[template]\nsrc = "app.j2"\ndest = "{dest}"\nkeys = ["/k"]\ncreate_dest_dir = true\n'},
        {"app.j2": '{{ getv("/k") }}\n'},
    )
    etcd.client().put(f"{etcd_prefix}/k", "v")
    port = free_port()
    args[args.index("-confdir") + 1] = str(confdir)
    args[args.index("-metrics-addr") + 1] = f"127.0.0.1:{port}"
    with ConfpyProcess(*args, "-node", etcd.url, "-prefix", etcd_prefix, log_path=tmp_path / "log") as proc:

        def status(path: str) -> int:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as reply:
                    return int(reply.status)
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                return 0

        wait_until(lambda: all(status(p["path"]) == 200 for p in probes), 30, f"{name}'s probes answer 200")
        assert dest.read_text() == "v\n"
        assert proc.proc.poll() is None
