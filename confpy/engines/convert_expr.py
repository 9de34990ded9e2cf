"""Go expressions translated to Jinja2 for convert.py: pipelines, arguments, fields and function
calls, each with the Go type of its value, and the table of confd's functions and their types.

The statement translator (convert.py) owns the scopes; an expression sees them through `lookup`
and the value of `.` through `dot`. A pipeline with no Jinja equivalent becomes a problem of its
action, its Go text quoted in its place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from confpy.engines.gotemplate import nodes as n

__all__ = [
    "ANY",
    "BOOL",
    "CONFD_FUNCTIONS",
    "DICT",
    "FLOAT",
    "INT",
    "KV",
    "NONE",
    "STR",
    "TIME",
    "Expressions",
    "Var",
]

STR, INT, FLOAT, BOOL, NONE, ANY, KV, DICT, TIME = (
    "str",
    "int",
    "float",
    "bool",
    "none",
    "any",
    "kv",
    "dict",
    "time",
)

#: confd's functions and the fork's, and the Go type each returns ("list:T" is a slice of T;
#: None: as its argument).
CONFD_FUNCTIONS: dict[str, str | None] = {
    "get": KV,
    "gets": "list:kv",
    "getv": STR,
    "getvs": "list:str",
    "exists": BOOL,
    "ls": "list:str",
    "lsdir": "list:str",
    "base": STR,
    "dir": STR,
    "split": "list:str",
    "join": STR,
    "json": DICT,
    "jsonArray": "list:any",
    "map": DICT,
    "datetime": TIME,
    "toUpper": STR,
    "toLower": STR,
    "contains": BOOL,
    "replace": STR,
    "trimSuffix": STR,
    "lookupIP": "list:str",
    "lookupIPV4": "list:str",
    "lookupIPV6": "list:str",
    "lookupSRV": "list:any",
    "fileExists": BOOL,
    "base64Encode": STR,
    "base64Decode": STR,
    "parseBool": BOOL,
    "reverse": None,
    "sortByLength": "list:str",
    "sortKVByLength": "list:kv",
    "add": INT,
    "sub": INT,
    "mul": INT,
    "div": INT,
    "mod": INT,
    "seq": "list:int",
    "atoi": INT,
    "getenv": STR,
    # the maintained fork's (abtreece/confd pkg/template/utility_funcs.go, template_funcs.go,
    # include.go); confpy's Jinja engine has them under the same names and argument order
    "default": ANY,
    "ternary": ANY,
    "coalesce": ANY,
    "empty": BOOL,
    "toJson": STR,
    "fromJson": ANY,
    "toPrettyJson": STR,
    "indent": STR,
    "nindent": STR,
    "quote": STR,
    "squote": STR,
    "regexMatch": BOOL,
    "regexFind": STR,
    "regexReplaceAll": STR,
    "trimPrefix": STR,
    "repeat": STR,
    "nospace": STR,
    "snakecase": STR,
    "camelcase": STR,
    "kebabcase": STR,
    "dict": DICT,
    "list": "list:any",
    "hasKey": BOOL,
    "keys": "list:str",
    "values": "list:any",
    "append": "list:any",
    "pluck": "list:any",
    "sha256sum": STR,
    "include": STR,
    "hostname": STR,
    "lookupIfaceIPV4": STR,
    "lookupIfaceIPV6": STR,
}

_COMPARISONS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_PRINTF_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?(.)")
_PRINTF_TYPES = {"s": (STR, INT), "v": (STR, INT), "d": (INT,), "x": (INT,), "X": (INT,), "o": (INT,)}
_PRINTF_TYPES.update({v: (FLOAT,) for v in "feE"})


class _Unsupported(Exception):
    """An expression with no Jinja equivalent; the message says why."""


@dataclass
class Var:
    """A Go variable: its Jinja name, its Go type, and the range depth it was declared at."""

    jinja: str
    typ: str
    loop_depth: int


def _quote(s: str) -> str:
    """A Jinja string literal of `s`: Jinja's (Python's) escapes, not Go's %q.

    Jinja reads a literal with Python's unicode-escape, which reads every escape json.dumps writes;
    strconv.quote would write a byte that is not UTF-8 as `\\xff`, which Jinja reads as U+00FF
    rather than the surrogate escape the Go string holds.
    """
    return json.dumps(s, ensure_ascii=False)


class Expressions:
    """Go pipelines as (Jinja code, Go type), in the scope the statement translator keeps."""

    def __init__(self, lookup: Callable[[str], Var | None]) -> None:
        self.lookup = lookup
        self.dot: tuple[str, str] = ("none", NONE)

    def pipeline(self, pipe: n.PipeNode, problems: list[str]) -> tuple[str, str]:
        try:
            code, typ = self.command(pipe.cmds[0], None)
            for cmd in pipe.cmds[1:]:
                code, typ = self.command(cmd, (code, typ))
        except _Unsupported as err:
            problems.append(str(err))
            return _quote(str(pipe)), ANY
        return code, typ

    def command(self, cmd: n.CommandNode, final: tuple[str, str] | None) -> tuple[str, str]:
        first = cmd.args[0]
        args = [self.arg(a) for a in cmd.args[1:]]
        if final is not None:
            args.append(final)
        if isinstance(first, n.IdentifierNode):
            return self.call(first.ident, args)
        if isinstance(first, n.NilNode):
            raise _Unsupported("nil is not a command")
        if args:
            if isinstance(first, (n.FieldNode, n.ChainNode, n.VariableNode)):
                raise _Unsupported(f"calls a method: {cmd}")
            raise _Unsupported(f"gives arguments to a non-function: {cmd}")
        return self.arg(first)

    def arg(self, node: n.Node) -> tuple[str, str]:
        if isinstance(node, n.StringNode):
            return _quote(node.text), STR
        if isinstance(node, n.BoolNode):
            return ("true" if node.value else "false"), BOOL
        if isinstance(node, n.NumberNode):
            if node.is_complex:
                raise _Unsupported(f"uses a complex number: {node}")
            is_float = not node.is_int or (
                any(c in node.text for c in ".eEpP") and node.text[:2] not in ("0x", "0X")
            )
            return (repr(node.as_float), FLOAT) if is_float else (str(node.as_int), INT)
        if isinstance(node, n.NilNode):
            return "none", NONE
        if isinstance(node, n.DotNode):
            return self.dot
        if isinstance(node, n.FieldNode):
            return self.fields(self.dot, node.ident)
        if isinstance(node, n.VariableNode):
            var = self.lookup(node.ident[0])
            if var is None:
                raise _Unsupported(f"uses {node.ident[0]}, which Jinja cannot see here")
            return self.fields((var.jinja, var.typ), node.ident[1:])
        if isinstance(node, n.ChainNode):
            head, typ = self.arg(node.node)
            return self.fields((f"({head})", typ), node.field)
        if isinstance(node, n.IdentifierNode):
            return self.call(node.ident, [])
        if isinstance(node, n.PipeNode):
            code, typ = self.command(node.cmds[0], None)
            for cmd in node.cmds[1:]:
                code, typ = self.command(cmd, (code, typ))
            if node.decl:
                raise _Unsupported(f"declares a variable inside an expression: {node}")
            return code, typ
        raise _Unsupported(f"cannot translate {node}")

    def fields(self, receiver: tuple[str, str], names: list[str]) -> tuple[str, str]:
        code, typ = receiver
        for name in names:
            if typ == NONE:
                return "none", NONE
            if typ == TIME:
                raise _Unsupported(f"calls the time method .{name}")
            if typ in (STR, INT, FLOAT, BOOL) or typ.startswith("list:"):
                raise _Unsupported(f"can't evaluate field {name} in type {typ}")
            code, typ = f"{code}.{name}", (STR if typ == KV and name in ("Key", "Value") else ANY)
        return code, typ

    def call(self, name: str, args: list[tuple[str, str]]) -> tuple[str, str]:
        codes = [c for c, _ in args]
        types = [t for _, t in args]
        if name in _COMPARISONS:
            op = _COMPARISONS[name]
            if len(args) < 2 or (name != "eq" and len(args) != 2):
                raise _Unsupported(f"{name} with {len(args)} arguments")
            basic = {STR, INT, FLOAT, BOOL}
            if any(t != types[0] and {t, types[0]} <= basic for t in types[1:]):
                raise _Unsupported(f"{name} compares a {types[0]} with another type: an error in Go")
            return "(" + " or ".join(f"{codes[0]} {op} {c}" for c in codes[1:]) + ")", BOOL
        if name in ("and", "or"):
            if not args:
                raise _Unsupported(f"{name} without arguments")
            typ = types[0] if len(set(types)) == 1 else ANY
            return "(" + f" {name} ".join(codes) + ")", typ
        if name == "not" and len(args) == 1:
            return f"(not {codes[0]})", BOOL
        if name == "len" and len(args) == 1:
            if types[0] == STR:
                raise _Unsupported("len of a string counts bytes in Go, characters in Jinja")
            return f"({codes[0]} | length)", INT
        if name == "index" and args:
            if types[0] == STR:
                raise _Unsupported("index of a string gives a byte in Go")
            code, typ = codes[0], types[0]
            for key in codes[1:]:
                code, typ = f"{code}[{key}]", (typ[5:] if typ.startswith("list:") else ANY)
            return code, typ
        if name == "slice" and args and types[0].startswith("list:") and len(args) <= 3:
            bounds = ":".join(codes[1:3]) if len(args) > 2 else (codes[1] + ":" if len(args) == 2 else ":")
            return f"{codes[0]}[{bounds}]", types[0]
        if name in ("print", "println") and all(t in (STR, INT) for t in types):
            pieces: list[str] = []
            for i, (code, typ) in enumerate(args):
                if i and (name == "println" or (typ != STR and types[i - 1] != STR)):
                    pieces.append('" "')
                pieces.append(code)
            if name == "println":
                pieces.append('"\\n"')
            return ("(" + " ~ ".join(pieces) + ")" if pieces else '""'), STR
        if name == "printf":
            return self.printf(args), STR
        if name == "html" and types == [STR]:
            return f"({codes[0]} | e)", STR
        if name == "include":  # the included file is a Go template too
            raise _Unsupported(
                "include renders a Go template: convert that file as well and include its Jinja twin"
            )
        if name in CONFD_FUNCTIONS:
            typ = CONFD_FUNCTIONS[name] or (types[0] if types else ANY)
            return f"{name}({', '.join(codes)})", typ
        raise _Unsupported(f"{name} has no Jinja equivalent here")

    def printf(self, args: list[tuple[str, str]]) -> str:
        if not args or not args[0][0].startswith('"'):
            raise _Unsupported("printf needs a literal format")
        fmt = json.loads(args[0][0])
        rest = args[1:]
        verbs = [m for m in _PRINTF_VERB.finditer(fmt) if m.group(4) != "%"]
        if len(verbs) != len(rest):
            raise _Unsupported("printf's arguments do not match its verbs")
        for match, (_, typ) in zip(verbs, rest, strict=True):
            flags, verb = match.group(1), match.group(4)
            if verb not in _PRINTF_TYPES or "#" in flags or typ not in _PRINTF_TYPES[verb]:
                raise _Unsupported(f"printf verb %{verb} with a {typ} argument")
        python = _PRINTF_VERB.sub(lambda m: m.group(0)[:-1] + ("s" if m.group(4) == "v" else m.group(4)), fmt)
        if not rest:
            return _quote(python.replace("%%", "%"))
        values = ", ".join(c for c, _ in rest)
        return f"({_quote(python)} % ({values}{',' if len(rest) == 1 else ''}))"
