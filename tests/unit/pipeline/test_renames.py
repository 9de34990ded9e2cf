"""Which filesystems commit a rename over a file only after its data (renames.py), from the ext4
superblock's options. The options texts are what this kernel prints for images made with and
without a journal (the real filesystems judge the same in tests/system/pipeline/test_writer.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from confpy.pipeline import renames

COMMON = "rw bsddf nogrpid block_validity dioread_nolock discard delalloc barrier user_xattr acl"
JOURNALED = f"{COMMON} journal_checksum auto_da_alloc errors=continue commit=5 data=ordered"
NO_JOURNAL = f"{COMMON} nojournal_checksum auto_da_alloc errors=continue commit=5"
DEV = os.makedev(254, 0)


def _answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: str | None, device: str = "vda"
) -> bool:
    """data_before_rename for 254:0, a device named `device` whose ext4 prints `options` (None:
    no ext4 on it)."""
    devices, ext4 = tmp_path / "sys-dev-block", tmp_path / "proc-fs-ext4"
    devices.mkdir()
    (devices / "254:0").symlink_to(f"../../devices/virtual/block/{device}")
    if options is not None:
        (ext4 / device).mkdir(parents=True)
        (ext4 / device / "options").write_text(options.replace(" ", "\n") + "\n")
    monkeypatch.setattr(renames, "_DEVICES", str(devices))
    monkeypatch.setattr(renames, "_EXT4", str(ext4))
    monkeypatch.setattr(renames, "_known", {})
    return renames.data_before_rename(DEV)


@pytest.mark.parametrize(
    "options", [JOURNALED, JOURNALED.replace("data=ordered", "data=journal")], ids=["ordered", "journal"]
)
def test_ext4_with_a_journal_orders_the_data_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: str
) -> None:
    assert _answer(tmp_path, monkeypatch, options)


@pytest.mark.parametrize(
    "options",
    [
        NO_JOURNAL,  # no journal: no transaction orders the directory block after the data
        JOURNALED.replace("data=ordered", "data=writeback"),  # the data may reach the disk later
        JOURNALED.replace("auto_da_alloc", "noauto_da_alloc"),  # no allocation at the rename
        None,  # not ext4: xfs, btrfs, a tmpfs, NFS
    ],
    ids=["no-journal", "writeback", "noauto_da_alloc", "not-ext4"],
)
def test_anything_else_is_fsynced_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: str | None
) -> None:
    assert not _answer(tmp_path, monkeypatch, options)


def test_the_superblock_is_found_by_the_devices_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A partition or a device-mapper volume: /proc/fs/ext4 names it as /sys/dev/block does."""
    assert _answer(tmp_path, monkeypatch, JOURNALED, device="dm-0")


def test_a_device_with_no_block_entry_is_fsynced_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An anonymous device (overlayfs, btrfs subvolumes, tmpfs: 0:N) has no /sys/dev/block entry."""
    monkeypatch.setattr(renames, "_DEVICES", str(tmp_path / "absent"))
    monkeypatch.setattr(renames, "_known", {})
    assert not renames.data_before_rename(os.makedev(0, 45))


def test_an_answer_is_read_once_per_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _answer(tmp_path, monkeypatch, JOURNALED)
    (tmp_path / "proc-fs-ext4" / "vda" / "options").write_text(NO_JOURNAL)
    assert renames.data_before_rename(DEV)
