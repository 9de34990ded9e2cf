"""One template, many files (`each`), against a real etcd: create, update, remove under watch; the
refusals (a name that leaves the directory, two keys for one file, a file confpy did not create);
one check and one reload for the set; both engines. Every wait is bounded."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.etcd_server import EtcdServer
from tests.support.helpers import ConfpyProcess, make_confdir, run_confpy, wait_until
from tests.system.runtime.test_watch_mode import check_history, client_for

JINJA = "server {{ getv(item + '/host') }}:{{ getv(item + '/port', '80') }}\n"
GO = '{{$k := .}}server {{getv (printf "%s/host" $k)}}\n'


def each_confdir(
    tmp: Path, prefix: str, *, name: str = "{{ base(item) }}.conf", src: str = "site.j2", extra: str = ""
) -> tuple[Path, Path]:
    sites = tmp / "sites"
    sites.mkdir(exist_ok=True)
    toml = (
        f'[template]\nsrc = "{src}"\ndest = "{sites}/{name}"\nprefix = "{prefix}"\neach = "/sites/*"\n{extra}'
    )
    confdir = make_confdir(tmp, {"sites.toml": toml}, {"site.j2": JINJA, "site.tmpl": GO})
    return confdir, sites


def files(sites: Path) -> dict[str, str]:
    """The files in `sites` and their text; one removed between the listing and its read (confpy
    removing a gone item's file while a test polls) is not there."""
    found = {}
    for p in sorted(sites.iterdir()):
        if not p.name.startswith(".") and not p.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                found[p.name] = p.read_text()
    return found


def onetime(confdir: Path, etcd: EtcdServer) -> Any:
    return run_confpy("-onetime", "-confdir", str(confdir), "-node", etcd.url, "-log-level", "debug")


def test_one_file_per_site_under_watch_created_updated_removed_with_one_reload_each_change(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/sites/a/host", "10.0.0.1")
    etcd_client.put(f"{etcd_prefix}/sites/b/host", "10.0.0.2")
    etcd_client.put(f"{etcd_prefix}/sites/b/port", "8080")
    reloads = tmp_path / "reloads"
    extra = f'reload_cmd = "echo reload >> {reloads}"\n'
    confdir, sites = each_confdir(tmp_path, etcd_prefix, extra=extra)
    args = ["-watch", "-confdir", str(confdir), "-node", etcd.url, "-log-level", "debug"]
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        wait_until(
            lambda: files(sites) == {"a.conf": "server 10.0.0.1:80\n", "b.conf": "server 10.0.0.2:8080\n"}
        )
        wait_until(lambda: reloads.exists() and reloads.read_text() == "reload\n")
        # Each change waits for its reload before the next: a reload owed while a newer change
        # already waits is skipped by design (confpy.runtime.worker), which would make the count racy.
        etcd_client.put(f"{etcd_prefix}/sites/c/host", "10.0.0.3")
        wait_until(lambda: "c.conf" in files(sites))
        wait_until(lambda: reloads.read_text().count("reload") == 2, what="the reload for c")
        etcd_client.put(f"{etcd_prefix}/sites/a/port", "81")
        wait_until(lambda: files(sites).get("a.conf") == "server 10.0.0.1:81\n")
        wait_until(lambda: reloads.read_text().count("reload") == 3, what="the reload for a")
        etcd_client.delete_prefix(f"{etcd_prefix}/sites/b/")
        wait_until(lambda: "b.conf" not in files(sites), what="b.conf removed")
        wait_until(lambda: reloads.read_text().count("reload") == 4, what="one reload per change")
        assert files(sites) == {"a.conf": "server 10.0.0.1:81\n", "c.conf": "server 10.0.0.3:80\n"}
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    assert "removed" in proc.log and "b.conf (its key is gone)" in proc.log
    manifest = sites / ".confpy-each.sites.toml.json"
    assert '"a.conf"' in manifest.read_text() and '"b.conf"' not in manifest.read_text()


def test_go_templates_see_the_item_as_dot(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/sites/a/host", "h1")
    etcd_client.put(f"{etcd_prefix}/sites/b/host", "h2")
    confdir, sites = each_confdir(tmp_path, etcd_prefix, name="{{base .}}.conf", src="site.tmpl")
    result = onetime(confdir, etcd)
    assert result.returncode == 0, result.stderr
    assert files(sites) == {"a.conf": "server h1\n", "b.conf": "server h2\n"}


def test_a_restart_removes_the_files_of_keys_gone_while_it_was_down_and_only_those(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/sites/a/host", "h1")
    etcd_client.put(f"{etcd_prefix}/sites/b/host", "h2")
    confdir, sites = each_confdir(tmp_path, etcd_prefix)
    assert onetime(confdir, etcd).returncode == 0
    (sites / "mine.conf").write_text("hand-made\n")
    etcd_client.delete_prefix(f"{etcd_prefix}/sites/a/")
    result = onetime(confdir, etcd)
    assert result.returncode == 0, result.stderr
    assert files(sites) == {"b.conf": "server h2:80\n", "mine.conf": "hand-made\n"}


@pytest.mark.parametrize(
    ("key", "name", "reason"),
    [
        ("x", "{{ base(item) | replace('x', '..') }}", "is not one file name"),
        ("x", "{{ item }}.conf", "is not one file name"),  # "/sites/x.conf": a "/" in the name
        ("x", "{{ '../' ~ base(item) }}", "is not one file name"),
        (".x", "{{ base(item) }}", "is not one file name"),  # a dot-file: stage files and manifest
        ("x", "{{ base(item) }}\\n.conf", "is not one file name"),  # a newline breaks every log line
    ],
)
def test_a_file_name_that_leaves_the_directory_is_refused_and_nothing_is_written(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any, key: str, name: str, reason: str
) -> None:
    etcd_client.put(f"{etcd_prefix}/sites/{key}/host", "evil")
    etcd_client.put(f"{etcd_prefix}/sites/zz/host", "h")  # after the bad one: refused all the same
    confdir, sites = each_confdir(tmp_path, etcd_prefix, name=name)
    result = onetime(confdir, etcd)
    assert result.returncode != 0
    assert f"sites.toml: key /sites/{key}: dest file name" in result.stderr and reason in result.stderr
    assert list(sites.iterdir()) == []
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.conf").exists()


def test_two_keys_for_one_file_are_refused_naming_both(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/sites/web/host", "h1")
    etcd_client.put(f"{etcd_prefix}/sites/WEB/host", "h2")
    confdir, sites = each_confdir(tmp_path, etcd_prefix, name="{{ base(item) | lower }}.conf")
    result = onetime(confdir, etcd)
    assert result.returncode != 0
    line = f"sites.toml: keys /sites/WEB and /sites/web both map to dest {sites}/web.conf: nothing written"
    assert line in result.stderr
    assert list(sites.iterdir()) == []


def test_a_file_it_did_not_create_is_neither_overwritten_nor_removed(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/sites/a/host", "h1")
    etcd_client.put(f"{etcd_prefix}/sites/b/host", "h2")
    confdir, sites = each_confdir(tmp_path, etcd_prefix)
    (sites / "b.conf").write_text("someone else's\n")
    (sites / "link.conf").symlink_to(tmp_path / "outside")
    result = onetime(confdir, etcd)
    assert result.returncode != 0
    assert f"{sites}/b.conf exists and this resource did not create it" in result.stderr
    assert files(sites)["b.conf"] == "someone else's\n" and "a.conf" not in files(sites)
    etcd_client.put(f"{etcd_prefix}/sites/link/host", "h3")
    (sites / "b.conf").unlink()
    result = onetime(confdir, etcd)
    assert f"{sites}/link.conf is a symlink" in result.stderr
    assert not (tmp_path / "outside").exists() and "a.conf" not in files(sites)


def test_check_cmd_with_src_checks_each_staged_file_and_one_failure_writes_none(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    etcd_client.put(f"{etcd_prefix}/sites/a/host", "good")
    etcd_client.put(f"{etcd_prefix}/sites/b/host", "bad")
    checks = tmp_path / "checks"
    extra = f'check_cmd = "echo x >> {checks}; ! grep -q bad {{{{.src}}}}"\n'
    confdir, sites = each_confdir(tmp_path, etcd_prefix, extra=extra)
    result = onetime(confdir, etcd)
    assert result.returncode != 0 and "check_cmd for sites.toml" in result.stderr
    assert files(sites) == {} and checks.read_text() == "x\nx\n"
    etcd_client.put(f"{etcd_prefix}/sites/b/host", "fine")
    assert onetime(confdir, etcd).returncode == 0
    assert sorted(files(sites)) == ["a.conf", "b.conf"]


def test_check_cmd_without_a_file_runs_once_for_the_set(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    for site in "abc":
        etcd_client.put(f"{etcd_prefix}/sites/{site}/host", site)
    checks = tmp_path / "checks"
    confdir, sites = each_confdir(tmp_path, etcd_prefix, extra=f'check_cmd = "echo x >> {checks}"\n')
    assert onetime(confdir, etcd).returncode == 0
    assert len(files(sites)) == 3 and checks.read_text() == "x\n"


@pytest.mark.parametrize("name", ["{{ base(item) }}/site.conf", "../{{ base(item) }}", "site.conf"])
def test_a_dest_whose_directory_is_not_fixed_is_refused_at_load(
    tmp_path: Path, etcd: EtcdServer, name: str
) -> None:
    confdir, _ = each_confdir(tmp_path, "/p", name=name)
    result = onetime(confdir, etcd)
    assert result.returncode != 0
    assert "with each, dest must be a fixed directory and a file name template" in result.stderr


def test_under_etcd_restarts_every_reload_sees_the_files_of_one_etcd_state_in_order(
    tmp_path: Path, fresh_etcd: EtcdServer, etcd_prefix: str
) -> None:
    """The history checker of tests/system/runtime/test_watch_mode.py, for a set of files: each
    reload copies the whole set (`cat` of every file), and each copy must be the render of some
    state the writer made, in order, ending at the last; etcd is SIGKILLed and stopped meanwhile."""
    client = client_for(fresh_etcd.endpoint)
    client.put(f"{etcd_prefix}/sites/s0/host", "start")
    history = tmp_path / "history"
    history.mkdir()
    sites = tmp_path / "sites"
    extra = f'reload_cmd = "cat {sites}/*.conf > {history}/$(date +%s%N)"\n'
    confdir, sites = each_confdir(tmp_path, etcd_prefix, extra=extra)

    def render(state: dict[str, str]) -> str:
        return "".join(f"server {state[k]}:80\n" for k in sorted(state, key=lambda k: k.split("/")[-2]))

    state = {f"{etcd_prefix}/sites/s0/host": "start"}
    states = [render(state)]
    args = ["-watch", "-confdir", str(confdir), "-node", fresh_etcd.url, "-log-level", "debug"]
    with ConfpyProcess(*args, log_path=tmp_path / "confpy.log") as proc:
        wait_until(lambda: files(sites) == {"s0.conf": "server start:80\n"})
        i, deadline = 0, time.monotonic() + 90
        for restart in range(3):
            for _ in range(30):
                if time.monotonic() > deadline:
                    break
                key = f"{etcd_prefix}/sites/s{i % 4}/host"
                try:
                    if i % 7 == 6:
                        client.delete(key)
                    else:
                        client.put(key, f"v{i}")
                except Exception:
                    time.sleep(0.1)
                    continue
                if i % 7 == 6:
                    state.pop(key, None)
                else:
                    state[key] = f"v{i}"
                states.append(render(state))
                i += 1
                time.sleep(0.01)
            fresh_etcd.kill() if restart % 2 else fresh_etcd.stop()
            time.sleep(0.5)
            fresh_etcd.restart()
        final = render(state)
        wait_until(lambda: "".join(files(sites).values()) == final, timeout=40, what="the last state on disk")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
    written = [p.read_text() for p in sorted(history.iterdir(), key=lambda p: int(p.name))]
    check_history(written, states, final)


def test_a_file_name_template_with_a_slash_inside_its_braces_writes_into_the_fixed_directory(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    """The directory ends at the "/" before the first `{{`, not at the template's own "/"."""
    etcd_client.put(f"{etcd_prefix}/sites/a/host", "shop")
    confdir, sites = each_confdir(tmp_path, etcd_prefix, name="{{ getv(item + '/host') }}.conf")
    result = onetime(confdir, etcd)
    assert result.returncode == 0, result.stderr
    assert files(sites) == {"shop.conf": "server shop:80\n"}


def test_a_file_name_too_long_for_the_file_system_is_one_line_and_nothing_is_written(
    tmp_path: Path, etcd: EtcdServer, etcd_prefix: str, etcd_client: Any
) -> None:
    """The name comes from the keys' data: a key of 300 bytes is the resource's error, not a crash."""
    etcd_client.put(f"{etcd_prefix}/sites/a/host", "a")
    etcd_client.put(f"{etcd_prefix}/sites/{'x' * 300}/host", "b")
    confdir, sites = each_confdir(tmp_path, etcd_prefix)
    result = onetime(confdir, etcd)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"dest file name of 305 bytes in {sites}: File name too long: nothing written" in result.stderr
    assert files(sites) == {}
