"""`-noop`'s output: the diffs the pipeline hands back in its run records, printed to stdout.

The pipeline never writes to stdout itself (a library caller may own it); the commands that
own it, `confpy -onetime` (launch) and `-watch`/interval mode (service), print through here.
Everything else confpy says goes to the log, on stderr.
"""

from __future__ import annotations

import os
import sys

from confpy.pipeline.processor import RunRecord

__all__ = ["show_diff"]


def _colour_terminal() -> bool:
    """Colour only on a terminal, and not when NO_COLOR is set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def show_diff(record: RunRecord) -> None:
    """Print the diff of a `-noop` run that found a change (in colour on a terminal)."""
    if record.diff:
        from confpy.pipeline.diff import colorize  # difflib: a run without -noop has no diff

        sys.stdout.write(colorize(record.diff) if _colour_terminal() else record.diff)
        sys.stdout.flush()
