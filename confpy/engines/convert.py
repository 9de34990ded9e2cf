"""Translate a confd Go template into the equivalent Jinja2 template.

The Jinja2 environment this targets is confpy's: `keep_trailing_newline=True`, confd's functions
as globals under their own names, KVPair with `.Key`/`.Value`. Every Go action becomes one Jinja
tag group at the same place, with the same trim markers, and the text between actions is kept
as written, so both engines trim and print the same text.

Go and Jinja print values differently (`true`/`True`, `[a b]`/`['a', 'b']`, `1e+06`/`1000000.0`,
`<no value>`/`None`), so the converter follows the type of each expression: what it cannot prove
equivalent becomes a problem, reported with its line and marked in the output with a
`{# convert: ... #}` comment, next to the best translation it has.

Scoping: Go variables live until the `end` of their block; Jinja's `{% set %}` inside a `for`
stays inside the loop. A Go assignment (`$x = ...`) inside a range to a variable declared outside
it is therefore reported; a shadowing declaration gets a fresh Jinja name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from confpy.engines.base import Conversion
from confpy.engines.gotemplate import nodes as n
from confpy.engines.gotemplate.lexer import ItemType, lex
from confpy.engines.gotemplate.parser import parse_trees

__all__ = ["CONFD_FUNCTIONS", "convert"]

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

#: confd's functions and the Go type each returns ("list:T" is a slice of T; None: as its argument).
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
}

#: Names a Go variable must not take in Jinja: keywords, tag names, globals, and the macro parameter.
_RESERVED_WORDS = """and or not in is if else elif endif for endfor true false none True False None loop
self range dict lipsum cycler joiner namespace caller varargs kwargs dot with set macro call filter
block extends include import from as raw recursive scoped required ignore missing context"""
_JINJA_RESERVED = frozenset(_RESERVED_WORDS.split())
_COMPARISONS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_PRINTF_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?(.)")
_PRINTF_TYPES = {"s": (STR, INT), "v": (STR, INT), "d": (INT,), "x": (INT,), "X": (INT,), "o": (INT,)}
_PRINTF_TYPES.update({v: (FLOAT,) for v in "feE"})


class _Unsupported(Exception):
    """An expression with no Jinja equivalent; the message says why."""


@dataclass
class _Action:
    """One `{{...}}` of the source: where it is and its trim markers."""

    start: int
    end: int
    ltrim: bool
    rtrim: bool


@dataclass
class _Var:
    jinja: str
    typ: str
    loop_depth: int


def _actions(text: str) -> list[_Action]:
    """Every action and comment of `text`, in order, with its trim markers."""
    actions: list[_Action] = []
    start = 0
    for item in lex(text, emit_comment=True):
        if item.typ == ItemType.LEFT_DELIM:
            start = item.pos
        elif item.typ == ItemType.RIGHT_DELIM:
            ltrim = text[start + 2 : start + 3] == "-" and text[start + 3 : start + 4] in (
                " ",
                "\t",
                "\r",
                "\n",
            )
            rtrim = text[item.pos - 1] == "-" and text[item.pos - 2] in " \t\r\n"
            actions.append(_Action(start, item.pos + 2, ltrim, rtrim))
        elif item.typ == ItemType.COMMENT:
            ltrim = text[item.pos - 2] == "-" and text[item.pos - 4 : item.pos - 2] == "{{"
            begin = item.pos - (4 if ltrim else 2)
            end = item.pos + len(item.val)
            rtrim = text[end + 1 : end + 2] == "-" and text.startswith("}}", end + 2)
            actions.append(_Action(begin, end + (4 if rtrim else 2), ltrim, rtrim))
    return actions


def _identifier(name: str, taken: set[str]) -> str:
    """A Jinja name for a Go variable or template name, clear of functions and keywords."""
    base = re.sub(r"\W", "_", name.lstrip("$")) or "data"
    if base[0].isdigit():
        base = "_" + base
    candidate = base
    i = 2
    while candidate in taken or candidate in _JINJA_RESERVED or candidate in CONFD_FUNCTIONS:
        candidate = f"{base}_{i}"
        i += 1
    return candidate


def _quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


class _Converter:
    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.trees = parse_trees(text, name, CONFD_FUNCTIONS, parse_comments=True)
        self.name = name
        self.actions = _actions(text)
        self.next_action = 0
        self.out: list[str] = []
        self.problems: list[tuple[int, str]] = []
        self.taken: set[str] = set()
        self.reserved: set[str] = set()
        self.scopes: list[dict[str, _Var]] = []
        self.loop_depth = 0
        self.dot = ("none", NONE)
        self.macros: dict[str, str] = {}
        self.defined_at: dict[str, int] = {}
        self.fresh = 0

    # -- output --

    def emit(self, parts: list[str], problems: list[str] | None = None) -> None:
        """Emit the tag group for the next action: source text before it, trims on its ends."""
        action = self.actions[self.next_action]
        self.next_action += 1
        prev_end = self.actions[self.next_action - 2].end if self.next_action > 1 else 0
        self.out.append(self.escape_text(self.text[prev_end : action.start]))
        line = self.text.count("\n", 0, action.start) + 1
        parts = [f"{{# convert: {p.replace('#}', '# }')} #}}" for p in problems or []] + parts
        for message in problems or []:
            self.problems.append((line, message))
        if action.ltrim:
            parts[0] = parts[0][:2] + "-" + parts[0][2:]
        if action.rtrim:
            parts[-1] = parts[-1][:-2] + "-" + parts[-1][-2:]
        self.out.extend(parts)

    @staticmethod
    def escape_text(text: str) -> str:
        """Text Jinja would read as syntax: `{%`, `{#`, and a `{` just before a tag."""
        text = text.replace("{%", '{{ "{%" }}').replace("{#", '{{ "{#" }}')
        if text.endswith("{"):
            text = text[:-1] + '{{ "{" }}'
        return text

    def action_source(self) -> str:
        action = self.actions[self.next_action]
        return self.text[action.start : action.end]

    # -- variables --

    def declare(self, go_name: str, typ: str) -> str:
        """A Jinja name for a new Go variable; one that shadows a visible variable gets a fresh name."""
        visible = {v.jinja for scope in self.scopes for v in scope.values()}
        shadows = any(go_name in scope for scope in self.scopes)
        jinja = _identifier(go_name, visible | self.reserved | (self.taken if shadows else set()))
        self.taken.add(jinja)
        self.scopes[-1][go_name] = _Var(jinja, typ, self.loop_depth)
        return jinja

    def lookup(self, go_name: str) -> _Var | None:
        for scope in reversed(self.scopes):
            if go_name in scope:
                return scope[go_name]
        return None

    def fresh_name(self, base: str) -> str:
        """A name no Go variable will get: for with values, loop items and macros."""
        name = _identifier(base, self.taken | self.reserved)
        self.reserved.add(name)
        return name

    # -- statements --

    def run(self) -> Conversion:
        self.scopes.append({"$": _Var("none", NONE, 0)})
        self.walk_top(self.trees[self.name])
        last = self.actions[-1].end if self.actions else 0
        self.out.append(self.escape_text(self.text[last:]))
        return Conversion("".join(self.out), self.problems)

    def walk_top(self, root: n.ListNode) -> None:
        for node in root.nodes:
            self.flush_defines()
            self.walk(node)
        self.flush_defines()

    def flush_defines(self) -> None:
        """Emit the {{define}}s that come next in the source as Jinja macros."""
        while self.next_action < len(self.actions):
            match = re.match(r"\{\{-?\s*define\s+(\"(?:[^\"\\]|\\.)*\"|`[^`]*`)", self.action_source())
            if not match:
                return
            name = json.loads(match.group(1)) if match.group(1)[0] == '"' else match.group(1)[1:-1]
            self.emit_macro(name)
            self.emit(["{% endmacro %}"])

    def emit_macro(self, name: str) -> None:
        """`{% macro %}` and the body of the template `name`; the caller emits what its {{end}} becomes."""
        macro = self.macro_name(name)
        self.defined_at[name] = self.next_action
        self.emit([f"{{% macro {macro}(dot=none) %}}"])
        saved = (self.scopes, self.dot, self.loop_depth)
        self.scopes, self.dot, self.loop_depth = [{"$": _Var("dot", ANY, 0)}], ("dot", ANY), 0
        self.walk_list(self.trees[name])
        self.scopes, self.dot, self.loop_depth = saved

    def macro_name(self, name: str) -> str:
        if name not in self.macros:
            self.macros[name] = self.fresh_name(name)
        return self.macros[name]

    def walk_list(self, lst: n.ListNode) -> None:
        for node in lst.nodes:
            self.walk(node)

    def walk(self, node: n.Node) -> None:
        if isinstance(node, n.TextNode):
            return
        if isinstance(node, n.CommentNode):
            body = node.text[2:-2].replace("#}", "# }")
            self.emit([f"{{#{body}#}}"])
        elif isinstance(node, n.ActionNode):
            self.walk_action(node)
        elif isinstance(node, n.IfNode):
            self.walk_if(node, "if")
        elif isinstance(node, n.WithNode):
            self.walk_with(node)
        elif isinstance(node, n.RangeNode):
            self.walk_range(node)
        elif isinstance(node, n.TemplateNode):
            self.walk_template(node)
        elif isinstance(node, (n.BreakNode, n.ContinueNode)):
            word = "break" if isinstance(node, n.BreakNode) else "continue"
            self.emit([f"{{% {word} %}}"], [f"{{{{{word}}}}} needs Jinja's loopcontrols extension"])

    def walk_action(self, node: n.ActionNode) -> None:
        problems: list[str] = []
        code, typ = self.pipeline(node.pipe, problems)
        if node.pipe.decl:
            self.emit([self.assign(node.pipe, code, typ, problems)], problems)
            return
        self.emit([self.print(code, typ, problems)], problems)

    def assign(self, pipe: n.PipeNode, code: str, typ: str, problems: list[str]) -> str:
        go_name = pipe.decl[0].ident[0]
        if pipe.is_assign:
            var = self.lookup(go_name)
            if var is None:
                problems.append(f"assigns the undeclared variable {go_name}")
                return f"{{% set {_identifier(go_name, set())} = {code} %}}"
            if var.loop_depth < self.loop_depth:
                problems.append(
                    f"assigns {go_name} inside a range: Jinja keeps a {{% set %}} inside a for loop "
                    "to that loop (use a namespace() to carry it out)"
                )
            var.typ = typ if typ == var.typ else ANY
            return f"{{% set {var.jinja} = {code} %}}"
        return f"{{% set {self.declare(go_name, typ)} = {code} %}}"

    def print(self, code: str, typ: str, problems: list[str]) -> str:
        """A Jinja print of a value of Go type `typ` that prints what Go's fmt prints."""
        if typ in (STR, INT):
            return f"{{{{ {code} }}}}"
        if typ == BOOL:
            return f'{{{{ "true" if {code} else "false" }}}}'
        if typ == NONE:
            return '{{ "<no value>" }}'
        if typ == KV:
            return f'{{{{ "{{" ~ {code}.Key ~ " " ~ {code}.Value ~ "}}" }}}}'
        if typ in ("list:str", "list:int"):
            return f'{{{{ "[" ~ ({code} | join(" ")) ~ "]" }}}}'
        if not problems:
            problems.append(f"prints a value of type {typ}: Go and Jinja print it differently")
        return f"{{{{ {code} }}}}"

    def open_block(self) -> None:
        self.scopes.append({})

    def close_block(self) -> None:
        self.scopes.pop()

    def walk_if(self, node: n.IfNode, opener: str) -> None:
        problems: list[str] = []
        self.open_block()
        code, typ = self.pipeline(node.pipe, problems)
        condition = code
        if node.pipe.decl:
            if opener == "elif":
                problems.append("declares a variable in {{else if}}: Jinja has no place to set it")
            setter = self.assign(node.pipe, code, typ, problems)
            self.emit([setter, f"{{% {opener} {self.lookup_decl(node)} %}}"], problems)
        else:
            self.emit([f"{{% {opener} {condition} %}}"], problems)
        self.walk_list(node.list)
        if node.else_list is not None:
            inner = node.else_list.nodes
            if len(inner) == 1 and isinstance(inner[0], n.IfNode) and self.is_else_keyword("if"):
                self.walk_if(inner[0], "elif")
                self.close_block()
                return
            self.emit(["{% else %}"])
            self.walk_list(node.else_list)
        self.emit(["{% endif %}"])
        self.close_block()

    def lookup_decl(self, node: n.BranchNode) -> str:
        var = self.lookup(node.pipe.decl[-1].ident[0])
        assert var is not None
        return var.jinja

    def is_else_keyword(self, keyword: str) -> bool:
        return re.match(r"\{\{-?\s*else\s+" + keyword + r"\b", self.action_source()) is not None

    def walk_with(self, node: n.WithNode, closers: int = 1) -> None:
        problems: list[str] = []
        self.open_block()
        code, typ = self.pipeline(node.pipe, problems)
        if node.pipe.decl:
            setter = self.assign(node.pipe, code, typ, problems)
            name = self.lookup_decl(node)
        else:
            name = self.fresh_name("value")
            setter = f"{{% set {name} = {code} %}}"
        prefix = ["{% else %}"] if closers > 1 else []
        self.emit([*prefix, setter, f"{{% if {name} %}}"], problems)
        saved = self.dot
        self.dot = (name, typ)
        self.walk_list(node.list)
        self.dot = saved
        if node.else_list is not None:
            inner = node.else_list.nodes
            if len(inner) == 1 and isinstance(inner[0], n.WithNode) and self.is_else_keyword("with"):
                self.walk_with(inner[0], closers + 1)
                self.close_block()
                return
            self.emit(["{% else %}"])
            self.walk_list(node.else_list)
        self.emit(["{% endif %}"] * closers)
        self.close_block()

    def walk_range(self, node: n.RangeNode) -> None:
        problems: list[str] = []
        self.open_block()
        code, typ = self.pipeline(node.pipe, problems)
        decl = [v.ident[0] for v in node.pipe.decl]
        self.loop_depth += 1
        if typ == DICT:
            key_type, elem_type = STR, ANY
            source = f"({code} | dictsort(true))"
        elif typ == INT:
            key_type, elem_type = INT, INT
            source = f"range({code})"
            if len(decl) > 1:
                problems.append("range over an integer with two variables is an error in Go")
        else:
            if not typ.startswith("list:"):
                problems.append(f"range over a value of type {typ}: Go ranges maps in key order")
            key_type, elem_type = INT, typ[5:] if typ.startswith("list:") else ANY
            source = code
        elem = self.declare(decl[-1], elem_type) if decl else self.fresh_name("item")
        parts = []
        if typ == DICT:
            key = self.declare(decl[0], key_type) if len(decl) > 1 else self.fresh_name("key")
            parts.append(f"{{% for {key}, {elem} in {source} %}}")
        else:
            parts.append(f"{{% for {elem} in {source} %}}")
            if len(decl) > 1:
                parts.append(f"{{% set {self.declare(decl[0], key_type)} = loop.index0 %}}")
        self.emit(parts, problems)
        saved = self.dot
        self.dot = (elem, elem_type)
        self.walk_list(node.list)
        self.dot = saved
        self.loop_depth -= 1
        if node.else_list is not None:
            self.emit(["{% else %}"])
            self.walk_list(node.else_list)
        self.emit(["{% endfor %}"])
        self.close_block()

    def walk_template(self, node: n.TemplateNode) -> None:
        problems: list[str] = []
        if node.block:
            self.emit_macro(node.name)
        arg = ""
        if node.pipe is not None:
            arg, _ = self.pipeline(node.pipe, problems)
        if node.name not in self.trees:
            problems.append(f'no template "{node.name}" is defined')
        elif not node.block and self.defined_at.get(node.name, len(self.actions)) > self.next_action:
            problems.append(f'template "{node.name}" is used before its {{{{define}}}}: move the define up')
        call = f"{{{{ {self.macro_name(node.name)}({arg}) }}}}"
        self.emit(["{% endmacro %}", call] if node.block else [call], problems)

    # -- expressions: (Jinja code, Go type) --

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


def convert(text: str, name: str) -> Conversion:
    """The Jinja2 twin of a Go template; raises TemplateError if the Go template does not parse."""
    return _Converter(text, name).run()
