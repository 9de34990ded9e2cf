"""Differential test of confpy's Go template engine against the real Go text/template.

`GoJudge` builds tests/support/gojudge (standard library only) with Debian's Go into a temp dir and keeps
it running as a server: one JSON request a line in, one answer a line out, so thousands of cases
cost one process. `confpy_render` runs the same text, data and store through confpy's engine with
confd's functions. `compare` puts the two results side by side; `shrink` delta-debugs a template
that differs down to a small reproducer of the same difference.

As a script it is the long fuzz run (`make fuzz-go`):

    python -m tests.support.godiff [--seed N] [--count N]      # FUZZ_SEED / FUZZ_COUNT in the environment
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confpy.engines.forkfuncs import FORK_FUNCTIONS
from confpy.engines.gotemplate import parse
from confpy.engines.gotemplate.confd import SIGNATURES, go_functions
from confpy.errors import TemplateError
from confpy.store import KeyStore
from tests.support.paths import GOJUDGE

__all__ = [
    "Case",
    "Comparison",
    "GoJudge",
    "Result",
    "compare",
    "confpy_render",
    "go_judge",
    "random_cases",
    "shrink",
]

JUDGE_SOURCE = GOJUDGE

#: confd behaviour confpy changes on purpose (docs/differences.md), recognised in the
#: template's text: a case that uses it and differs is excluded and counted as NEWER_GO's are.
DELIBERATE: dict[str, re.Pattern[str]] = {
    'ls "/" and lsdir "/" list the root (confd issue #725)': re.compile(
        r'\b(ls|lsdir) "/+"|"/+" *\)? *\| *(ls|lsdir)\b'  # as an argument, or piped (from a parenthesis)
    ),
    # two processes read time.Now apart, and a printed time has microseconds and no monotonic
    # reading (docs/go-templates.md)
    "datetime: time.Now, read by two processes": re.compile(r"\bdatetime\b"),
}

#: What confpy deliberately does as newer Go does and Go 1.19 refuses: excluded from the
#: comparison, and listed in docs/go-templates.md. Each is recognised by Go 1.19's error.
NEWER_GO: dict[str, re.Pattern[str]] = {
    # Go 1.22: {{range N}} over an integer
    "range over int (Go 1.22)": re.compile(r"range can't iterate over -?\d+$"),
    # Go 1.23: {{else with}}
    "else with (Go 1.23)": re.compile(r"^template: [^:]*:\d+: unexpected <with> in else$"),
}


@dataclass(frozen=True)
class Result:
    """What one engine made of a case: output bytes, or the error text (traceback: a crash)."""

    ok: bool
    out: bytes = b""
    err: str = ""
    crash: bool = False
    hung: bool = False  # Go gave no answer in time (GoJudge): no verdict either way

    def show(self) -> str:
        if self.ok:
            return f"output {self.out!r}"
        return ("TRACEBACK " if self.crash else "error ") + repr(self.err)


@dataclass(frozen=True)
class Case:
    """A template with its data and store; name is the template's name in error messages."""

    text: str
    data: Any = None
    store: tuple[tuple[str, str], ...] = ()
    name: str = "t.tmpl"


@dataclass(frozen=True)
class Comparison:
    """Go's result beside confpy's, and how they differ (kind is "same" when they do not)."""

    case: Case
    go: Result
    confpy: Result

    @property
    def kind(self) -> str:
        go, py = self.go, self.confpy
        if go.hung:
            return "go-hangs"
        if py.crash:
            return "traceback"
        if not go.ok and (py.ok or py.err != go.err):
            for label, pattern in NEWER_GO.items():
                if pattern.search(go.err):
                    return "newer-go: " + label
        if go.ok and py.ok:
            kind = "same" if go.out == py.out else "output"
        elif go.ok:
            kind = "confpy-fails"
        elif py.ok:
            kind = "go-fails"
        else:
            kind = "same" if go.err == py.err else "error-text"
        if kind != "same":
            for label, pattern in DELIBERATE.items():
                if pattern.search(self.case.text):
                    return "deliberate: " + label
        return kind

    @property
    def excluded(self) -> bool:
        """Newer Go or a deliberate change (docs/go-templates.md, docs/differences.md), or Go
        hanging (no verdict): not a difference."""
        return self.kind.startswith(("newer-go", "deliberate", "go-hangs"))

    def describe(self) -> str:
        return (
            f"{self.kind}: {self.case.text!r}\n    go:     {self.go.show()}\n    confpy: {self.confpy.show()}"
        )


class GoJudge:
    """The Go program as a server: build once into a temp dir, then one request a line.

    Go's text/template has no time limit, and some templates run (nearly) forever in it: a
    template that calls itself in a range's else, say, recurses to Go's maxExecDepth with a
    stack growing by copies. A case without an answer in `CASE_TIMEOUT` seconds is Go hanging: the
    judge is killed and started again, the case is `Result(hung=True)` (excluded from the
    comparison, as newer Go is), and the cases after it are sent again.
    """

    CASE_TIMEOUT = 10.0

    def __init__(self, workdir: Path) -> None:
        go = shutil.which("go")
        if go is None:
            raise FileNotFoundError("go (Debian's golang-go, installed by `make system-deps`)")
        self._env = {
            **os.environ,
            "GOCACHE": str(workdir / "gocache"),
            "GOPATH": str(workdir / "gopath"),
            "GOTOOLCHAIN": "local",
            "GOENV": "off",  # no user config file: the build sees only what is set here
            "GOPROXY": "off",
            "GOFLAGS": "",
            "CGO_ENABLED": "0",
        }
        self._binary = workdir / "gojudge"
        subprocess.run(
            [go, "build", "-o", str(self._binary), "."],
            cwd=JUDGE_SOURCE,
            env=self._env,
            check=True,
            timeout=300,
        )
        self.version = subprocess.run(
            [go, "env", "GOVERSION"], env=self._env, capture_output=True, text=True, check=True
        ).stdout.strip()
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [str(self._binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self._env, bufsize=1 << 20
        )
        self._pending = bytearray()  # read from the judge's stdout, not yet a whole line
        self._store: tuple[tuple[str, str], ...] | None = None

    def _kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.stdout.close()

    def _answer(self) -> dict[str, Any] | None:
        """The judge's next answer, None when it gives none within CASE_TIMEOUT."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()  # read raw: the deadline needs select, not a buffered read
        deadline = time.monotonic() + self.CASE_TIMEOUT
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError("gojudge exited")
            self._pending += chunk
        line, _, rest = bytes(self._pending).partition(b"\n")
        self._pending = bytearray(rest)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def render_many(self, cases: Iterable[Case]) -> list[Result]:
        """Go's results for `cases`, in order (requests are written ahead of the answers read)."""
        todo = list(cases)
        results: list[Result] = []
        chunk = 200  # bounded, so neither pipe fills while the other side waits
        while todo:
            batch, todo = todo[:chunk], todo[chunk:]
            assert self.proc.stdin is not None
            for case in batch:
                request: dict[str, Any] = {"name": case.name, "text": case.text, "data": case.data}
                if case.store != self._store:
                    request["store"] = dict(case.store)
                    self._store = case.store
                self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
            for i in range(len(batch)):
                answer = self._answer()
                if answer is None:
                    hung = f"gojudge: no answer in {self.CASE_TIMEOUT:g} s"
                    results.append(Result(ok=False, err=hung, hung=True))
                    self._kill()
                    self.restarts += 1
                    self._start()
                    todo = batch[i + 1 :] + todo
                    break
                results.append(_result(answer))
        return results

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _result(answer: dict[str, Any]) -> Result:
    if answer.get("panic"):
        return Result(ok=False, err="panic: " + answer["panic"])
    out = base64.b64decode(answer["out"] or "")
    err = base64.b64decode(answer["err"] or "").decode("utf-8", "surrogateescape")
    return Result(ok=answer["ok"], out=out, err=err)


@contextmanager
def go_judge() -> Iterator[GoJudge]:
    """A running judge, built in a temp dir that is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="confpy-gojudge-") as tmp:
        judge = GoJudge(Path(tmp))
        try:
            yield judge
        finally:
            judge.close()


def _go_data(value: Any) -> Any:
    """JSON as Go's encoding/json decodes it into interface{}: every number a float64."""
    return json.loads(json.dumps(value), parse_int=float)


#: the fork's functions the judge has (gojudge/fork.go: those that are standard-library calls);
#: confpy's engine is judged without the others, so a template naming one (gogen makes up
#: identifiers) is `function "empty" not defined` on both sides.
JUDGED_FORK = frozenset(re.findall(r'^\t\t"(\w+)":', (GOJUDGE / "fork.go").read_text(), re.M))
_UNJUDGED = ({*FORK_FUNCTIONS, "include"}) - JUDGED_FORK
_SIGNATURES = {name: sig for name, sig in SIGNATURES.items() if name not in _UNJUDGED}


def confpy_render(case: Case) -> Result:
    """confpy's engine on the case as confpy.engines.go runs it: confd's functions and the fork's the
    judge has (JUDGED_FORK), the case's store."""
    funcs = go_functions(KeyStore(dict(case.store)))
    try:
        out = parse(case.text, case.name, _SIGNATURES).execute(funcs, _go_data(case.data))
    except TemplateError as err:
        return Result(ok=False, err=str(err))
    except RecursionError:
        return Result(ok=False, err="RecursionError", crash=True)
    except Exception:
        return Result(ok=False, err=traceback.format_exc(limit=-3), crash=True)
    return Result(ok=True, out=out.encode("utf-8", "surrogateescape"))


def compare(judge: GoJudge, cases: list[Case]) -> list[Comparison]:
    return [
        Comparison(case, go, confpy_render(case))
        for case, go in zip(cases, judge.render_many(cases), strict=True)
    ]


def shrink(judge: GoJudge, comparison: Comparison, budget: int = 400) -> Comparison:
    """A smaller template that differs the same way (same `label`; Zeller's ddmin on characters)."""
    kind = label(comparison)
    best = comparison
    text = best.case.text

    def differs(candidate: str) -> Comparison | None:
        nonlocal budget
        if budget <= 0:
            return None
        budget -= 1
        case = Case(candidate, best.case.data, best.case.store, best.case.name)
        found = compare(judge, [case])[0]
        return found if label(found) == kind else None

    granularity = 2
    while len(text) >= 2 and budget > 0:
        size = max(1, len(text) // granularity)
        reduced = False
        for start in range(0, len(text), size):
            candidate = text[:start] + text[start + size :]
            found = differs(candidate)
            if found is not None:
                text, best = candidate, found
                granularity = max(granularity - 1, 2)
                reduced = True
                break
        if not reduced:
            if size == 1:
                break
            granularity = min(len(text), granularity * 2)
    return best


def summarize(comparisons: list[Comparison]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in comparisons:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    return counts


def figures(comparisons: list[Comparison]) -> str:
    """The figures the issue asks for: identical output where Go succeeds, identical errors."""
    compared = [c for c in comparisons if not c.excluded]
    go_ok = [c for c in compared if c.go.ok]
    go_err = [c for c in compared if not c.go.ok]
    same_out = sum(c.kind == "same" for c in go_ok)
    py_fails = sum(not c.confpy.ok for c in go_err)
    same_err = sum(c.kind == "same" for c in go_err)
    same = sum(c.kind == "same" for c in compared)
    return (
        f"{len(comparisons)} cases ({len(comparisons) - len(compared)} newer Go, deliberate or Go hanging, "
        "excluded): "
        f"{same}/{len(compared)} identical ({100 * same / max(1, len(compared)):.2f} %); "
        f"Go succeeds on {len(go_ok)}, output identical {same_out} "
        f"({100 * same_out / max(1, len(go_ok)):.2f} %); "
        f"Go fails on {len(go_err)}, confpy fails {py_fails}, error text identical {same_err} "
        f"({100 * same_err / max(1, len(go_err)):.2f} %); "
        f"tracebacks {sum(c.kind == 'traceback' for c in comparisons)}"
    )


def label(c: Comparison) -> str:
    """A difference's class: its kind and Go's error with positions and quoted values blurred."""
    reason = c.go.err if not c.go.ok else c.confpy.err
    reason = re.sub(r"^template: [^:]*:[\d:]+: (executing \"[^\"]*\" at <.*?>: )?", "", reason)
    reason = re.sub(r'"[^"]*"|\d+', "_", reason)[:80]
    return f"{c.kind} | {reason}"


def classes(comparisons: Iterable[Comparison]) -> dict[str, list[Comparison]]:
    """Differences grouped by `label`."""
    groups: dict[str, list[Comparison]] = {}
    for c in comparisons:
        if c.kind != "same":
            groups.setdefault(label(c), []).append(c)
    return groups


def report(judge: GoJudge, comparisons: list[Comparison], shrink_each: int = 1) -> str:
    """Figures, then every class of difference with its count and a shrunk reproducer."""
    lines = [figures(comparisons)]
    for label, members in sorted(classes(comparisons).items(), key=lambda kv: -len(kv[1])):
        lines.append(f"[{len(members)}] {label}")
        for c in members[:shrink_each]:
            shrunk = c if c.go.hung else shrink(judge, c)  # each try of a hanging case costs CASE_TIMEOUT
            lines.append("  " + shrunk.describe().replace("\n", "\n  "))
    return "\n".join(lines)


def random_cases(seed: int, count: int) -> list[Case]:
    """gogen's templates over its data, every third with nil data (what confd passes)."""
    from tests.support.gogen import DATA, STORE, generate

    store = tuple(sorted(STORE.items()))
    return [Case(t, None if i % 3 == 2 else DATA, store) for i, t in enumerate(generate(seed, count))]


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seed", type=int, default=int(os.environ.get("FUZZ_SEED") or time.time_ns() % 10**9)
    )
    parser.add_argument("--count", type=int, default=int(os.environ.get("FUZZ_COUNT") or 50000))
    args = parser.parse_args(argv)
    cases = random_cases(args.seed, args.count)
    started = time.monotonic()
    with go_judge() as judge:
        print(f"seed {args.seed}, {args.count} templates, {judge.version}", flush=True)
        comparisons = compare(judge, cases)
        print(report(judge, comparisons))
    print(f"{time.monotonic() - started:.1f} s")
    return 0 if all(c.kind == "same" or c.excluded for c in comparisons) else 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
