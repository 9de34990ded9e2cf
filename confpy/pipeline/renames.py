"""Which filesystems write a file's data before they commit a rename over another file.

Part of the writer. A stage file renamed over its dest must not reach the disk as a rename
without its data: after a power cut the dest would be empty or stale blocks. fsync before the
rename guarantees it everywhere, and costs a disk flush (~0.3 ms here) before the new config is
readable. ext4 with a journal gives the same guarantee itself: with `auto_da_alloc` (the default)
it allocates and starts writing a file's delayed blocks when the file is renamed over an existing
one (fs/ext4/namei.c, ext4_rename, ext4_alloc_da_blocks), and in the `data=ordered` (default) and
`data=journal` modes the journal commits a transaction only after the data it allocated is
written, so the rename is committed after the data or not at all
(Documentation/admin-guide/ext4.rst, `auto_da_alloc`). There the writer renames first and fsyncs
after (before any reload), which makes the new config readable that much sooner and the two
flushes (file, directory) one. ext4 without a journal (`mkfs.ext4 -O ^has_journal`) orders
nothing: its directory block may reach the disk before the data.

Told from the superblock's own options, /proc/fs/ext4/<device>/options (every option, defaults
included; the journal's mode shows as `data=...` only when there is a journal), the device named
by /sys/dev/block/MAJOR:MINOR, once per device per process. /proc/self/mountinfo cannot tell: it
lists `data=ordered` neither for the default nor without a journal. Anything that is not ext4
(xfs, btrfs, overlayfs, tmpfs, NFS: no such file) is fsynced before the rename.
"""

from __future__ import annotations

import os

__all__ = ["data_before_rename"]

_DEVICES = "/sys/dev/block"
_EXT4 = "/proc/fs/ext4"
_JOURNALED = frozenset({"data=ordered", "data=journal"})
_known: dict[int, bool] = {}


def data_before_rename(dev: int) -> bool:
    """Whether the filesystem on device `dev` (a file's st_dev) commits a rename over an existing
    file only after the renamed file's data is on disk."""
    known = _known.get(dev)
    if known is None:
        known = _known[dev] = _ordered(dev)
    return known


def _ordered(dev: int) -> bool:
    try:
        device = os.path.basename(os.readlink(f"{_DEVICES}/{os.major(dev)}:{os.minor(dev)}"))
        with open(f"{_EXT4}/{device}/options", encoding="utf-8", errors="replace") as superblock:
            options = set(superblock.read().split())
    except OSError:
        return False
    return bool(options & _JOURNALED) and "noauto_da_alloc" not in options
