"""The wheel as users get it: built from the sources, installed into a clean venv outside the
checkout, and run against a real etcd (the script, `python -m confpy`, the package data).

Offline: the wheel is built with the development venv's setuptools, and the clean venv sees only
the distributions the wheel declares (and theirs), linked from the development venv, so a
dependency the code imports but the wheel does not declare fails here as it would for a user.
"""

from __future__ import annotations

import email.parser
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

import confpy
from tests.support.etcd_server import EtcdServer
from tests.support.helpers import make_confdir
from tests.support.paths import REPO

ROOT = REPO


@dataclass(frozen=True)
class Built:
    wheel: Path
    log: str


@dataclass(frozen=True)
class Installed:
    python: Path
    script: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The wheel, built from a copy of what the images copy (pyproject.toml, README.md, confpy/)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "confpy", src / "confpy", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, setuptools.build_meta as b; print(b.build_wheel(sys.argv[1]))",
            out,
        ],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return Built(out / build.stdout.splitlines()[-1], build.stdout + build.stderr)


def _declared(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(archive.read(name).decode())
    return [Requirement(r) for r in meta.get_all("Requires-Dist") or ()]


def _link_dependencies(requirements: list[Requirement], into: Path) -> None:
    """Link into `into` the top-level files of each required distribution, recursively."""
    site = Path(sysconfig.get_paths()["purelib"])
    todo, seen = list(requirements), set()
    while todo:
        req = todo.pop()
        if (req.marker and not req.marker.evaluate({"extra": ""})) or req.name.lower() in seen:
            continue
        seen.add(req.name.lower())
        dist = metadata.distribution(req.name)
        for top in {f.parts[0] for f in dist.files or () if f.parts[0] != ".."}:
            if (site / top).exists() and not (into / top).exists():
                (into / top).symlink_to(site / top)
        todo += [Requirement(r) for r in dist.requires or ()]


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    deps = tmp_path_factory.mktemp("deps")
    _link_dependencies(_declared(built.wheel), deps)
    where = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    (Path(where.stdout.strip()) / "confpy-test-deps.pth").write_text(f"{deps}\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index", "--no-deps"]
    result = subprocess.run([*pip, built.wheel], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return Installed(python, venv / "bin" / "confpy")


def _run(
    command: list[Any], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run outside the checkout, with no variable that would point Python or confpy elsewhere."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONFPY_", "CONFD_", "PYTHON", "VIRTUAL_ENV"))
    }
    return subprocess.run(
        command,
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_wheel_builds_without_warnings(built: Built) -> None:
    # setuptools >= 77 warns that `project.license` as a table stops working in 2027.
    assert not re.findall(r"^.*\w+Warning: .*$", built.log, re.MULTILINE)


def test_wheel_carries_the_package_data_and_one_version(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as archive:
        names = set(archive.namelist())
        meta = email.parser.Parser().parsestr(
            archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        )
    assert {"confpy/py.typed", "confpy/__main__.py", "confpy/engines/gotemplate/__init__.py"} <= names
    assert meta["Version"] == confpy.__version__
    assert meta["License-Expression"] == "MIT"
    assert built.wheel.name == f"confpy-{confpy.__version__}-py3-none-any.whl"


def test_installed_wheel_renders_from_etcd(
    installed: Installed, etcd: EtcdServer, etcd_client: Any, etcd_prefix: str, tmp_path: Path
) -> None:
    etcd_client.put(f"{etcd_prefix}/app/db/host", "10.0.0.7")
    dest = tmp_path / "out"
    dest.mkdir()
    resource = '[template]\nsrc = "{src}"\ndest = "{dest}"\nkeys = ["/app/db"]\n'
    confdir = make_confdir(
        tmp_path,
        {
            "jinja.toml": resource.format(src="app.conf.j2", dest=dest / "jinja.conf"),
            "go.toml": resource.format(src="app.conf.tmpl", dest=dest / "go.conf"),
        },
        {
            "app.conf.j2": 'db = {{ getv("/app/db/host") }}\n',
            "app.conf.tmpl": 'db = {{getv "/app/db/host"}}\n',
        },
    )
    flags = ["-onetime", "-node", etcd.url, "-confdir", confdir, "-prefix", etcd_prefix]
    where = _run([installed.python, "-c", "import confpy; print(confpy.__file__)"], cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(installed.python.parent.parent), where.stdout
    for command in ([installed.script], [installed.python, "-m", "confpy"]):
        for name in ("jinja.conf", "go.conf"):
            (dest / name).unlink(missing_ok=True)
        result = _run([*command, *flags], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert (dest / "jinja.conf").read_text() == (dest / "go.conf").read_text() == "db = 10.0.0.7\n"
        version = _run([*command, "-version"], cwd=tmp_path)
        assert version.stdout == f"confpy {confpy.__version__}\n", version.stderr


def test_shell_completion_from_the_installed_script(installed: Installed, tmp_path: Path) -> None:
    # The completion flags take no argument: typer detects the shell they run in (here bash, their
    # parent; `; true` keeps bash from exec'ing them).
    def in_bash(flag: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
        command = f"{shlex.quote(str(installed.script))} {flag}; true"
        return _run(["bash", "-c", command], cwd=tmp_path, env={"HOME": str(home)} if home else None)

    shown = in_bash("--show-completion")
    assert "_CONFPY_COMPLETE=complete_bash" in shown.stdout and "complete -o default" in shown.stdout, shown
    # What bash runs on <TAB> after `confpy -onet` and after `confpy exec -reload-s`.
    for words, cword, expected in (
        ("confpy -onet", "1", "-onetime"),
        ("confpy exec -reload-s", "2", "-reload-signal"),
    ):
        env = {"_CONFPY_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
        completed = _run([installed.script], cwd=tmp_path, env=env)
        assert completed.stdout.split() == [expected], completed.stderr
    home = tmp_path / "home"
    home.mkdir()
    done = in_bash("--install-completion", home)
    assert "bash completion installed" in done.stdout, done
    assert "_CONFPY_COMPLETE=complete_bash" in (home / ".bash_completions" / "confpy.sh").read_text()
    assert ".bash_completions/confpy.sh" in (home / ".bashrc").read_text()
