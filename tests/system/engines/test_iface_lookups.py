"""lookupIfaceIPV4 / lookupIfaceIPV6 (the fork's template_funcs.go) on interfaces a test sets up:
a network namespace of its own (`unshare -rn`), whose loopback gets the addresses, so the host's
interfaces are never touched. Each answer is checked against iproute2's own listing of the same
netlink dump, which is the order Go's net.Interface.Addrs reads."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SETUP = [
    "ip link set lo up",
    "ip addr del 127.0.0.1/8 dev lo",
    "ip addr add 10.20.30.40/24 dev lo",
    "ip addr add 10.20.30.41/24 dev lo",
    "ip -6 addr add fd00::7/128 dev lo nodad",
]
PROBE = """
import json, subprocess
from pathlib import Path
from confpy.config.resource import TemplateResource
from confpy.engines.go import GoEngine
from confpy.store import KeyStore
root = Path({root!r})
text = '{{{{ lookupIfaceIPV4 "lo" }}}} {{{{ lookupIfaceIPV6 "lo" }}}} '
(root / "t.tmpl").write_text(text + '[{{{{ lookupIfaceIPV4 "nope" }}}}]')
out = []
r = TemplateResource(name="a.toml", path=root / "a.toml", src="t.tmpl", dest=root / "out")
GoEngine(root).render(r, KeyStore(), out.append)
listing = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True).stdout
print(json.dumps({{"rendered": "".join(out), "listing": listing}}))
"""


def _namespace_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return (
        subprocess.run(["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True).returncode
        == 0
    )


pytestmark = pytest.mark.skipif(
    not _namespace_works(), reason="no user network namespaces (unshare -rn) here"
)


def _in_namespace(root: str, setup: list[str]) -> dict[str, str]:
    script = " && ".join([*setup, f"{shlex.quote(sys.executable)} -c {shlex.quote(PROBE.format(root=root))}"])
    done = subprocess.run(["unshare", "-rn", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def _first(listing: str, family: str) -> str:
    return next(
        line.split()[3].partition("/")[0] for line in listing.splitlines() if line.split()[2] == family
    )


def test_the_first_address_of_each_family(tmp_path: Path) -> None:
    result = _in_namespace(str(tmp_path), SETUP)
    v4, v6 = _first(result["listing"], "inet"), _first(result["listing"], "inet6")
    assert v4 == "10.20.30.40"
    assert result["rendered"] == f"{v4} {v6} []"
    assert v6 == "fd00::7"  # the kernel lists the global address before ::1


def test_an_interface_without_ipv4(tmp_path: Path) -> None:
    result = _in_namespace(str(tmp_path), ["ip link set lo up", "ip addr del 127.0.0.1/8 dev lo"])
    assert result["rendered"] == " ::1 []"
