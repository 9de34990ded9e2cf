"""Shared test helpers: build a confdir, run the confpy command as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["make_confdir", "run_confpy"]


def make_confdir(root: Path, resources: Mapping[str, str], templates: Mapping[str, str]) -> Path:
    """A confdir with `conf.d/<name>` resource files and `templates/<name>` templates."""
    confdir = root / "confdir"
    for name, text in resources.items():
        path = confdir / "conf.d" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (confdir / "templates").mkdir(parents=True, exist_ok=True)
    for name, text in templates.items():
        path = confdir / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return confdir


def run_confpy(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m confpy ARGS` in a subprocess, output captured."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "CONFD_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "confpy", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
        check=False,
    )
