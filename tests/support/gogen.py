"""A grammar-based random generator of Go templates for the differential test (tests/support/godiff.py).

Each template is drawn from Go's text/template grammar (text/template/parse) with the data and
store of `DATA` and `STORE`: actions and pipelines, variables declared and assigned, if/else
if/with/range with else, break/continue, define/template/block, comparisons across kinds,
and/or/not, printf verbs with flags, widths and argument indexes, index/slice/len, html/js/
urlquery, trim markers, every Go number syntax, nil, comments, field chains, confd's functions,
and, for a share of the cases, a mutation of a valid template that may no longer parse.

Nothing here knows what Go prints: the real Go decides (tests/support/gojudge). The generator only avoids
what cannot be compared: time.Now's value, pointers (%p), the network, and unbounded recursion.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

__all__ = ["DATA", "STORE", "Generator", "generate"]

#: The dot every generated template runs with; JSON, so numbers are float64 on both sides.
DATA: dict[str, object] = {
    "s": "héllo",
    "empty": "",
    "n": 3,
    "neg": -2,
    "f": 1.5,
    "z": 0,
    "b": True,
    "no": False,
    "nil": None,
    "list": [1, "two", 3.5, None, True],
    "strs": ["b", "a", "ccc"],
    "nums": [3, 1, 2],
    "none": [],
    "m": {"a": 1, "b": "x", "c": {"d": [1, 2]}, "e": None},
    "deep": {"x": {"y": {"z": "deep"}}},
    "nomap": {},
    "html": "<a href='x'>&\"</a>",
    "url": "a b&c=d/é?",
    "uni": "日本\u00e9\t\n",
}

#: The keys confd's store functions read.
STORE: dict[str, str] = {
    "/app/name": "myapp",
    "/app/port": "8080",
    "/app/debug": "true",
    "/app/hosts/a": "10.0.0.1",
    "/app/hosts/b": "10.0.0.2",
    "/app/hosts/c/x": "deep",
    "/app/json": '{"k": "v", "n": 2, "l": [1, "a"], "o": {"p": null}}',
    "/app/array": '["x", 2, 3.5, null, {"k": "v"}]',
    "/app/b64": "aGVsbG8=",
    "/db/user": "root",
    "/db/pass": "s3cr3t é",
    "/": "root-key",
}

_NUMBERS = [
    "0",
    "1",
    "42",
    "-7",
    "+3",
    "007",
    "0x1F",
    "0X1f",
    "0x_1F",
    "-0x10",
    "0o17",
    "0O17",
    "017",
    "0b101",
    "0B11",
    "1_000",
    "0b_1_0",
    "1.5",
    ".5",
    "-.25",
    "1.",
    "1e3",
    "1E-2",
    "1e+2",
    "0x1p4",
    "0x1.8p1",
    "1_0.5_0",
    "2i",
    "1.5i",
    "0x10i",
    "1e2i",
    "'a'",
    "'\\n'",
    "'\\''",
    "'\\x41'",
    "'\\u00e9'",
    "'\\U0001F600'",
    "'é'",
    "'\\101'",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551616",
    "1e100",
    "1e309",
    "0.1",
    "-0",
    "2.0",
    "1e0",
    "0x7fffffffffffffff",
    "123456789",
    "3.0",
    "1_2i",
    "0i",
]
_BAD_NUMBERS = ["0x", "1__2", "0b2", "09", "1e", "0x1.8", "1_", "0_x1", "'ab'", "''", "0o8", "1.2.3", "3k"]
_STRINGS = [
    '""',
    '"a"',
    '"abc"',
    '"héllo"',
    '"a b"',
    '"<&>"',
    '"\\t\\n"',
    '"\\x41\\u00e9"',
    '"\\""',
    '"/app"',
    '"/app/hosts"',
    '"/app/*"',
    '"/app/hosts/*"',
    '"/db/*"',
    '"/app/name"',
    '"/app/port"',
    '"/missing"',
    '"1"',
    '"42"',
    '"-3"',
    '"true"',
    '"x,y,z"',
    '","',
    '"%d"',
    '"%v"',
    "`raw`",
    "`a\\nb`",
    "`{{`",
    '"/app/json"',
    '"/app/array"',
    '"/app/b64"',
    '"日本"',
    '"é"',
    '"/"',
    '"[bad"',
    '"a\\\\b"',
    '"\\a"',
]
_FIELDS = [
    ".s",
    ".empty",
    ".n",
    ".neg",
    ".f",
    ".z",
    ".b",
    ".no",
    ".nil",
    ".list",
    ".strs",
    ".nums",
    ".none",
    ".m",
    ".m.a",
    ".m.b",
    ".m.c",
    ".m.c.d",
    ".m.e",
    ".m.missing",
    ".deep.x.y.z",
    ".deep.x",
    ".nomap",
    ".html",
    ".url",
    ".uni",
    ".missing",
    ".missing.deeper",
    ".s.x",
    ".list.x",
    ".n.x",
    ".m.e.x",
    ".Key",
    ".Value",
    ".Key.x",
]
#: Strings that are not UTF-8 (Go strings are bytes) and a byte.
_BYTES = ['(slice "é" 1)', '(slice "日本" 1 4)', '(slice "é" 0 1)', '(index "é" 1)']
_VERBS = [
    "%v",
    "%+v",
    "%#v",
    "%T",
    "%d",
    "%5d",
    "%-5d",
    "%05d",
    "%+d",
    "% d",
    "%x",
    "%X",
    "%#x",
    "%o",
    "%O",
    "%#o",
    "%b",
    "%c",
    "%q",
    "%#q",
    "%U",
    "%#U",
    "%e",
    "%E",
    "%f",
    "%.2f",
    "%8.3f",
    "%-8.2f",
    "%g",
    "%G",
    "%.3g",
    "%s",
    "%10s",
    "%-10s",
    "%.3s",
    "%t",
    "%%",
    "%z",
    "%!",
    "%[2]v",
    "%[1]d",
    "%*d",
    "%.*f",
    "%[3]*.[2]*[1]f",
    "%x ",
    "% x",
    "%08.3f",
    "%+.1e",
    "%#g",
    "%6.2v",
    "%[5]d",
    "%-+ #0v",
    "%",
    "%h",
]
_TEXTS = ["a", " ", "\n", "x y", "é", "<>&", "  \n  ", "\t", "}", "{", "日本", "{ {", "-", "}}"]
_JSON_OBJECTS = ['(getv "/app/json")', '"{}"', '"[1]"', '"{bad"', '"null"']
_JSON_ARRAYS = ['(getv "/app/array")', '"[]"', '"{}"', '"[1, [2]]"']
#: Store and confd results to range over (dot becomes a memkv.KVPair, a string, an int).
_STORE_LISTS = [
    'gets "/app/*"',
    'getvs "/app/hosts/*"',
    'ls "/app"',
    'lsdir "/app"',
    "seq 1 3",
    'split "a,b" ","',
]
_COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]
_STRING_FUNCS = [
    "toUpper",
    "toLower",
    "base",
    "dir",
    "base64Encode",
    "base64Decode",
    "html",
    "js",
    "urlquery",
]
_MAX_DEPTH = 3


class Generator:
    """Draws one template from `rng`; `variables` are the names declared so far (Go's scope)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.variables: list[str] = ["$"]
        self.in_range = 0
        self.defined: list[str] = []
        self.counter = 0

    # -- helpers --

    def pick(self, items: list[str]) -> str:
        return self.rng.choice(items)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def weighted(self, options: list[tuple[float, Callable[[], str]]]) -> str:
        total = sum(w for w, _ in options)
        x = self.rng.random() * total
        for w, fn in options:
            x -= w
            if x <= 0:
                return fn()
        return options[-1][1]()

    def new_var(self) -> str:
        self.counter += 1
        return self.pick(["$x", "$y", "$i", "$v", "$k", f"$v{self.counter}", "$_", "$éa"])

    # -- expressions --

    def literal(self) -> str:
        return self.weighted(
            [
                (4, lambda: self.pick(_NUMBERS)),
                (4, lambda: self.pick(_STRINGS)),
                (1, lambda: self.pick(["true", "false"])),
                (0.5, lambda: "nil"),
            ]
        )

    def variable(self) -> str:
        name = self.pick(self.variables) if not self.chance(0.05) else self.pick(["$nope", "$x", "$i"])
        if self.chance(0.2):
            name += self.pick([".s", ".m.a", ".a", ".list", ".Key", ".Value", ".x"])
        return name

    def operand(self, depth: int) -> str:
        options: list[tuple[float, Callable[[], str]]] = [
            (4, self.literal),
            (4, lambda: self.pick(_FIELDS)),
            (1, lambda: "."),
            (2, self.variable),
            (0.5, lambda: "$" + self.pick(_FIELDS)),
            (0.4, lambda: self.pick(_BYTES)),
        ]
        if depth < _MAX_DEPTH:
            options += [
                (3, lambda: "(" + self.pipeline(depth + 1) + ")"),
                (0.5, lambda: "(" + self.pipeline(depth + 1) + ")" + self.pick([".a", ".s", ".Key", ".x"])),
                (2, lambda: "(" + self.call(depth + 1) + ")"),
            ]
        return self.weighted(options)

    def args(self, depth: int, count: int) -> str:
        return " ".join(self.operand(depth) for _ in range(count))

    def call(self, depth: int, piped: bool = False) -> str:
        """A function call; with `piped` its last argument comes from the pipe."""
        extra = -1 if piped else 0
        if self.chance(0.06):
            extra += self.rng.choice([-1, 1])  # a wrong argument count
        rng = self.rng

        def n(count: int) -> int:
            return max(0, count + extra)

        def a(count: int) -> str:
            return self.args(depth, n(count))

        def printf() -> str:
            fmt = "".join(
                self.pick(_VERBS) + self.pick(["", " ", "-", "x"]) for _ in range(rng.randint(1, 3))
            )
            return f'printf "{fmt}" {self.args(depth, rng.randint(0, 3))}'.rstrip()

        def compare() -> str:
            op = self.pick(_COMPARE)
            count = rng.randint(2, 3) if op == "eq" else 2
            return f"{op} {a(count)}"

        def store() -> str:
            fn = self.pick(["getv", "gets", "getvs", "exists", "ls", "lsdir", "get"])
            key = self.pick(_STRINGS) if self.chance(0.8) else self.operand(depth)
            if piped:
                return fn
            if fn == "getv" and self.chance(0.3):
                return f"getv {key} {self.pick(_STRINGS)}"
            return f"{fn} {key}"

        def confd() -> str:
            return self.weighted(
                [
                    (2, lambda: f"{self.pick(_STRING_FUNCS)} {a(1)}"),
                    (1, lambda: f"split {a(2)}"),
                    (1, lambda: f"join {a(2)}"),
                    (1, lambda: f"replace {a(4)}"),
                    (1, lambda: f"contains {a(2)}"),
                    (1, lambda: f"trimSuffix {a(2)}"),
                    (2, lambda: f"{self.pick(['add', 'sub', 'mul', 'div', 'mod'])} {a(2)}"),
                    (
                        1,
                        lambda: f"seq {self.pick(['1', '0', '3', '-1', '1e1'])} {self.pick(['3', '0', '5'])}",
                    ),
                    (1, lambda: f"atoi {a(1)}"),
                    (1, lambda: f"parseBool {a(1)}"),
                    (1, lambda: f"map {a(rng.choice([0, 2, 4, 3]))}"),
                    (1, lambda: "json " + self.pick(_JSON_OBJECTS)),
                    (1, lambda: "jsonArray " + self.pick(_JSON_ARRAYS)),
                    (1, lambda: f"{self.pick(['reverse', 'sortByLength', 'sortKVByLength'])} {a(1)}"),
                    (0.3, lambda: "getenv " + self.pick(['"CONFPY_GODIFF_UNSET"', '""'])),
                    (0.3, lambda: "fileExists " + self.pick(['"/"', '"/nonexistent/x"'])),
                    (0.2, lambda: 'printf "%T" datetime'),
                ]
            )

        options: list[tuple[float, Callable[[], str]]] = [
            (3, printf),
            (1, lambda: f"print {a(rng.randint(0, 3))}".rstrip()),
            (1, lambda: f"println {a(rng.randint(0, 2))}".rstrip()),
            (3, compare),
            (1, lambda: f"{self.pick(['and', 'or'])} {a(rng.randint(1, 3))}"),
            (1, lambda: f"not {a(1)}"),
            (2, lambda: f"len {a(1)}"),
            (2, lambda: f"index {a(rng.randint(1, 3))}"),
            (2, lambda: f"slice {a(rng.randint(1, 4))}"),
            (1, lambda: f"{self.pick(['html', 'js', 'urlquery'])} {a(rng.randint(0, 2))}".rstrip()),
            (0.3, lambda: f"call {a(rng.randint(1, 2))}"),
            (2, store),
            (4, confd),
        ]
        return self.weighted(options)

    def command(self, depth: int) -> str:
        return self.weighted([(3, lambda: self.operand(depth)), (4, lambda: self.call(depth))])

    def piped_command(self, depth: int) -> str:
        """A command after `|`: a function that takes the piped value as its last argument."""
        return self.weighted(
            [
                (
                    3,
                    lambda: self.pick(
                        ["len", "html", "js", "urlquery", "print", "println", "not", "toUpper"]
                    ),
                ),
                (3, lambda: f'printf "{self.pick(_VERBS)}"'),
                (1, lambda: "printf " + self.pick(['"%v-%v" ', '"%d" ']) + self.operand(depth)),
                (2, lambda: self.call(depth, piped=True)),
                (0.5, lambda: self.operand(depth)),  # not a function: Go's error
            ]
        )

    def pipeline(self, depth: int = 0) -> str:
        text = self.command(depth)
        while self.chance(0.25):
            text += " | " + self.piped_command(depth)
        return text

    def declaring_pipeline(self, depth: int = 0) -> str:
        """A pipeline that may start with a declaration or an assignment."""
        roll = self.rng.random()
        if roll < 0.15:
            var = self.new_var()
            text = f"{var} := {self.pipeline(depth)}"
            self.variables.append(var)
            return text
        if roll < 0.22:
            var = self.pick(self.variables) if not self.chance(0.2) else "$undeclared"
            return f"{var} = {self.pipeline(depth)}"
        return self.pipeline(depth)

    # -- statements --

    def delim(self, body: str) -> str:
        left = "{{- " if self.chance(0.15) else "{{"
        right = " -}}" if self.chance(0.15) else "}}"
        if self.chance(0.1) and left == "{{":
            body = " " + body
        return left + body + right

    def text(self) -> str:
        return self.pick(_TEXTS)

    def scoped(self, body: Callable[[], str]) -> str:
        """Variables declared inside a control's list end with the list, as in Go."""
        mark = len(self.variables)
        try:
            return body()
        finally:
            del self.variables[mark:]

    def items(self, depth: int, count: int | None = None) -> str:
        if count is None:
            count = self.rng.randint(0, 4 if depth == 0 else 2)
        return "".join(self.item(depth) for _ in range(count))

    def control(self, depth: int, keyword: str) -> str:
        def build() -> str:
            if keyword == "range" and self.chance(0.4):
                names = self.pick(["$v", "$i, $v", "$k, $e", "$e"])
                self.variables.extend(x.strip() for x in names.split(","))
                head = f"range {names} := {self.pipeline(depth)}"
            elif keyword == "range":
                source = self.pick([*_FIELDS, *_STORE_LISTS]) if self.chance(0.6) else self.pipeline(depth)
                head = f"range {source}"
            else:
                head = f"{keyword} {self.declaring_pipeline(depth)}"
            self.in_range += keyword == "range"
            try:
                body = self.scoped(lambda: self.items(depth + 1))
            finally:
                self.in_range -= keyword == "range"
            return self.delim(head) + body

        text = self.scoped(build)
        while self.chance(0.3) and keyword != "range":
            text += self.scoped(
                lambda: (
                    self.delim(f"else {self.pick(['if', 'if'])} {self.declaring_pipeline(depth)}")
                    + self.items(depth + 1)
                )
            )
        if self.chance(0.35):
            text += self.scoped(lambda: self.delim("else") + self.items(depth + 1))
        return text + self.delim("end")

    def template_call(self, depth: int) -> str:
        names = [*self.defined, "missing", "T"]
        name = self.pick(names)
        arg = f" {self.pipeline(depth)}" if self.chance(0.6) else ""
        quoted = f'"{name}"' if self.chance(0.8) else f"`{name}`"
        return self.delim(f"template {quoted}{arg}")

    def item(self, depth: int) -> str:
        options: list[tuple[float, Callable[[], str]]] = [
            (3, self.text),
            (6, lambda: self.delim(self.declaring_pipeline())),
            (0.7, lambda: self.delim(self.pick(["/* c */", "/*\nmulti\n*/", "/**/"]))),
            (0.5, lambda: self.template_call(depth)),
        ]
        if depth < _MAX_DEPTH:
            options += [
                (1.5, lambda: self.control(depth, "if")),
                (1, lambda: self.control(depth, "with")),
                (1.2, lambda: self.control(depth, "range")),
            ]
        if self.in_range:
            options.append((0.6, lambda: self.delim(self.pick(["break", "continue"]))))
        return self.weighted(options)

    def definition(self) -> str:
        name = self.pick(["T", "a", "b", "x y", "é"])
        # a definition sees only its own $, and calls only templates defined before it (no recursion)
        outer, self.variables = self.variables, ["$"]
        try:
            body = self.items(1)
        finally:
            self.variables = outer
        self.defined.append(name)
        if self.chance(0.3):
            return self.delim(f'block "{name}" {self.pipeline()}') + body + self.delim("end")
        return self.delim(f'define "{name}"') + body + self.delim("end")

    def template(self) -> str:
        parts = []
        for _ in range(self.rng.choice([0, 0, 0, 1, 2])):
            parts.append(self.definition())
        parts.append(self.items(0, self.rng.randint(1, 5)))
        self.rng.shuffle(parts)
        return "".join(parts)


def _mutate(rng: random.Random, text: str) -> str:
    """A likely-broken variant of a valid template: Go's parse errors."""
    tokens = [
        "}}",
        "{{",
        "{{end}}",
        "{{else}}",
        "|",
        "(",
        ")",
        ":=",
        "=",
        "$",
        '"',
        "'",
        "`",
        ".",
        "-}}",
        "{{-",
        "{{/*",
        "*/}}",
        "{{range}}",
        "{{if}}",
        "{{define}}",
        "{{break}}",
        ",",
        "{{template}}",
        *_BAD_NUMBERS,
        "\x00",
        "..",
        ".1x",
        "$1",
    ]
    for _ in range(rng.randint(1, 2)):
        roll = rng.random()
        at = rng.randint(0, len(text))
        if roll < 0.4 or not text:
            text = text[:at] + rng.choice(tokens) + text[at:]
        elif roll < 0.8:
            end = min(len(text), at + rng.randint(1, 4))
            text = text[:at] + text[end:]
        else:
            text = text[:at]
    return text


#: Integers too large to range over: confpy ranges over an int as Go 1.22 does, Go 1.19 refuses.
_BIG_INTS = re.compile(r"\b(9223372036854775807|0x7fffffffffffffff|123456789)\b")


def generate(seed: int, count: int) -> list[str]:
    """`count` templates from `seed`: the same seed always gives the same templates."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = Generator(rng).template()
        if rng.random() < 0.15:
            text = _mutate(rng, text)
        elif rng.random() < 0.03:
            text = "{{" + rng.choice(_BAD_NUMBERS) + "}}" + text
        if "range" in text:
            text = _BIG_INTS.sub("7", text)
        out.append(text)
    return out
