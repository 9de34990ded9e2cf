"""README.md's example runs as written, and docs/stack.md lists every `make demo` option.

The checks that read the docs without running anything are in tests/unit/test_docs.py.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docs import between, blocks, page, section
from tests.support.paths import REPO

ROOT = REPO


# --- the example --------------------------------------------------------------------------------

# The example writes under /etc and /tmp and starts an etcd on 127.0.0.1:2379, as a user would. It
# runs in namespaces of its own: /etc and /tmp are overlays whose writes land on a tmpfs that goes
# with the namespace, the network is a loopback of its own, and every process it started (the
# etcd) is killed when it ends. Files mounted over /etc's (a container's /etc/hosts, which gives
# "localhost") are copied into the overlay, or it would hide them. On failure, the logs the example
# wrote under /tmp are shown.
_ISOLATE = """
set -e
mount -t tmpfs tmpfs /mnt
mkdir /mnt/etc-upper /mnt/etc-work /mnt/tmp-upper /mnt/tmp-work
for f in $(awk '$2 ~ "^/etc/" {{ print $2 }}' /proc/self/mounts); do
    copy=/mnt/etc-upper/${{f#/etc/}}
    if [ -f "$f" ]; then mkdir -p "$(dirname "$copy")" && cp -p "$f" "$copy"; fi
done
for d in etc tmp; do
    mount -t overlay overlay -o lowerdir=/$d,upperdir=/mnt/$d-upper,workdir=/mnt/$d-work /$d
done
trap 'rc=$?; [ $rc = 0 ] || tail -n 20 /mnt/tmp-upper/*.log >&2; exit $rc' EXIT
{python} -c 'import fcntl, socket, struct
fcntl.ioctl(socket.socket(), 0x8914, struct.pack("16sH14x", b"lo", 0x41))'  # SIOCSIFFLAGS lo UP|RUNNING
cd {root}
"""


_MARK = "--- the README's output block starts here ---"


def _file_path(first_line: str) -> str:
    """The path a code block's first line names: `# /etc/x` or `{# /etc/x -#}`."""
    match = re.fullmatch(r"(?:#|\{#-?) (/\S+)(?: -?#\})?", first_line)
    assert match, f"the block's first line names no file: {first_line!r}"
    return match.group(1)


def _log_shape(line: str) -> str:
    """A log line with its time, host and pid replaced, so that two runs compare equal."""
    return re.sub(r"^\S+ \S+ confpy\[\d+\]: ", "TIME HOST confpy[PID]: ", line)


def test_the_example_runs_as_written(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("the example writes under /etc as root: needs root and unshare for a private /etc")
    if not (ROOT / ".venv" / "bin" / "confpy").exists():
        pytest.skip("the example runs .venv/bin/confpy, which `make venv` creates")
    setup, resource, template, run, output = blocks(
        section(page("README.md"), "Example: from etcd to a file")
    )
    assert [setup[0], resource[0], template[0], run[0], output[0]] == ["sh", "toml", "jinja", "sh", ""]
    script = _ISOLATE.format(python=shlex.quote(sys.executable), root=shlex.quote(str(ROOT)))
    script += setup[1]
    for _, text in (resource, template):
        script += (
            f"cat > {shlex.quote(_file_path(text.splitlines()[0]))} <<'END_OF_FILE'\n{text}END_OF_FILE\n"
        )
    script += f"exec 2>&1\necho {shlex.quote(_MARK)}\n" + run[1]
    namespaces = ["--mount", "--propagation", "private", "--net", "--pid", "--fork", "--kill-child"]
    try:
        result = subprocess.run(
            ["unshare", *namespaces, "--mount-proc", "bash", "-c", script],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        shown = [
            o.decode(errors="replace") if isinstance(o, bytes) else o or "" for o in (exc.stdout, exc.stderr)
        ]
        pytest.fail(f"the example did not end within 90 s:\n{''.join(shown)}")
    if result.returncode != 0 and "unshare failed" in result.stderr:
        pytest.skip(f"cannot make namespaces here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stdout + result.stderr
    got = [_log_shape(line) for line in result.stdout.partition(f"{_MARK}\n")[2].splitlines()]
    assert got == [_log_shape(line) for line in output[1].splitlines()], result.stdout


# --- the sample stack ---------------------------------------------------------------------------


def test_the_demo_options_are_listed() -> None:
    shown = subprocess.run(
        [sys.executable, ROOT / "containers" / "demo.py", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    accepted = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", shown.stdout)) - {"--help"}
    text = between(page("stack.md"), "Its options go in `DEMO_ARGS`", "\n- ")
    assert set(re.findall(r"^  - `(--[a-z-]+)", text, re.MULTILINE)) == accepted
