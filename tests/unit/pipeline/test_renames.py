"""Which filesystems commit a rename over a file only after its data (renames.py), from mountinfo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from confpy.pipeline import renames

ROOT = "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard"


def _answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *lines: str, device: str = "254:0") -> bool:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("".join(line + "\n" for line in lines))
    monkeypatch.setattr(renames, "_MOUNTINFO", str(mountinfo))
    monkeypatch.setattr(renames, "_known", {})
    major, minor = map(int, device.split(":"))
    return renames.data_before_rename(os.makedev(major, minor))


def test_ext4_with_its_defaults_orders_the_data_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _answer(tmp_path, monkeypatch, "22 27 0:21 / /proc rw - proc proc rw", ROOT)
    journal = ROOT.replace("rw,discard", "rw,data=journal")
    assert _answer(tmp_path, monkeypatch, journal)
    bind = "40 27 254:0 /srv /etc/app rw master:3 - ext4 /dev/vda rw,discard"  # optional fields
    assert _answer(tmp_path, monkeypatch, ROOT, bind)


@pytest.mark.parametrize(
    "line",
    [
        ROOT.replace("rw,discard", "rw,data=writeback"),  # the data may reach the disk after the rename
        ROOT.replace("rw,discard", "rw,noauto_da_alloc"),  # no allocation at the rename
        ROOT.replace("rw,relatime", "rw,noauto_da_alloc"),  # as a mount option
        "27 1 254:0 / / rw - xfs /dev/vda rw",
        "27 1 254:0 / / rw - btrfs /dev/vda rw",
        "27 1 254:0 / / rw - overlay overlay rw,lowerdir=/l,upperdir=/u",
        "27 1 254:1 / / rw - ext4 /dev/vdb rw",  # another device
    ],
    ids=["writeback", "noauto_da_alloc", "noauto_da_alloc-mount", "xfs", "btrfs", "overlay", "not-found"],
)
def test_anything_else_is_fsynced_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    assert not _answer(tmp_path, monkeypatch, line)


def test_one_bind_mount_that_says_otherwise_is_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "41 27 254:0 / /mnt rw - ext4 /dev/vda rw,noauto_da_alloc"
    assert not _answer(tmp_path, monkeypatch, ROOT, other)


def test_without_mountinfo_every_rename_is_fsynced_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(renames, "_MOUNTINFO", str(tmp_path / "absent"))
    monkeypatch.setattr(renames, "_known", {})
    assert not renames.data_before_rename(os.makedev(254, 0))


def test_an_answer_is_read_once_per_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _answer(tmp_path, monkeypatch, ROOT)
    (tmp_path / "mountinfo").write_text("27 1 254:0 / / rw - xfs /dev/vda rw\n")
    assert renames.data_before_rename(os.makedev(254, 0))
