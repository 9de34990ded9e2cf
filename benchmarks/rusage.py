"""Run a command; write its wall time, CPU and peak RSS as JSON: `python rusage.py OUT CMD ARGS...`.

Why a helper process: Linux counts the memory a child had *before* exec in its peak RSS, so a
command forked straight from a big benchmark process reports the benchmark's own size. Forked from
this small process instead, the figure is the command's.
"""

from __future__ import annotations

import json
import os
import sys
import time

__all__ = ["main"]


def main(argv: list[str]) -> int:
    output, argv = argv[0], argv[1:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    figures = {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
        "status": os.waitstatus_to_exitcode(status),
    }
    with open(output, "w", encoding="utf-8") as fh:
        json.dump(figures, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
