"""The test client: request the load balancer again and again and print one line per answer.

The URL is read from the target file (rendered by confpy from /nginx/host) before every request,
so the client follows nginx wherever it is registered. Output: `200 sinatra-4561`, or
`error <reason>` when a request fails; `--count` stops after that many requests.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request

__all__ = ["main", "request_once"]


def request_once(target_file: str, timeout: float) -> str:
    """One request to the current target; the line to print."""
    try:
        with open(target_file, encoding="utf-8") as fh:
            url = fh.read().strip()
    except OSError as exc:
        return f"error cannot read {target_file}: {exc.strerror}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read().decode("utf-8", errors="replace").strip()
            return f"{resp.status} {body}"
    except urllib.error.HTTPError as exc:
        return f"error {exc.code} from {url}"
    except (OSError, ValueError) as exc:
        return f"error {url}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-file", required=True, help="file holding the URL to request")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between requests")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds one request may take")
    parser.add_argument("--count", type=int, default=0, help="stop after this many requests (0: never)")
    args = parser.parse_args(argv)
    done = 0
    try:
        while args.count == 0 or done < args.count:
            print(request_once(args.target_file, args.timeout), flush=True)
            done += 1
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
