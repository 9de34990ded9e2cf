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
from pathlib import Path

from confpy.engines.analysis import Conversion
from confpy.engines.convert_expr import (
    ANY,
    BOOL,
    CONFD_FUNCTIONS,
    DICT,
    INT,
    KV,
    NONE,
    STR,
    Expressions,
    Var,
)
from confpy.engines.gotemplate import nodes as n
from confpy.engines.gotemplate.lexer import ItemType, lex
from confpy.engines.gotemplate.parser import parse_trees
from confpy.errors import TemplateError

__all__ = ["convert", "convert_file"]

#: Names a Go variable must not take in Jinja: keywords, tag names, globals, and the macro parameter.
_RESERVED_WORDS = """and or not in is if else elif endif for endfor true false none True False None loop
self range dict lipsum cycler joiner namespace caller varargs kwargs dot with set macro call filter
block extends include import from as raw recursive scoped required ignore missing context"""
_JINJA_RESERVED = frozenset(_RESERVED_WORDS.split())


@dataclass
class _Action:
    """One `{{...}}` of the source: where it is and its trim markers."""

    start: int
    end: int
    ltrim: bool
    rtrim: bool


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
        self.scopes: list[dict[str, Var]] = []
        self.loop_depth = 0
        self.expr = Expressions(self.lookup)
        self.macros: dict[str, str] = {}
        self.defined_at: dict[str, int] = {}

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
        self.scopes[-1][go_name] = Var(jinja, typ, self.loop_depth)
        return jinja

    def lookup(self, go_name: str) -> Var | None:
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
        self.scopes.append({"$": Var("none", NONE, 0)})
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
        saved = (self.scopes, self.expr.dot, self.loop_depth)
        self.scopes, self.expr.dot, self.loop_depth = [{"$": Var("dot", ANY, 0)}], ("dot", ANY), 0
        self.walk_list(self.trees[name])
        self.scopes, self.expr.dot, self.loop_depth = saved

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
        code, typ = self.expr.pipeline(node.pipe, problems)
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
        code, typ = self.expr.pipeline(node.pipe, problems)
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
        code, typ = self.expr.pipeline(node.pipe, problems)
        if node.pipe.decl:
            setter = self.assign(node.pipe, code, typ, problems)
            name = self.lookup_decl(node)
        else:
            name = self.fresh_name("value")
            setter = f"{{% set {name} = {code} %}}"
        prefix = ["{% else %}"] if closers > 1 else []
        self.emit([*prefix, setter, f"{{% if {name} %}}"], problems)
        saved = self.expr.dot
        self.expr.dot = (name, typ)
        self.walk_list(node.list)
        self.expr.dot = saved
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
        code, typ = self.expr.pipeline(node.pipe, problems)
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
        saved = self.expr.dot
        self.expr.dot = (elem, elem_type)
        self.walk_list(node.list)
        self.expr.dot = saved
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
            arg, _ = self.expr.pipeline(node.pipe, problems)
        if node.name not in self.trees:
            problems.append(f'no template "{node.name}" is defined')
        elif not node.block and self.defined_at.get(node.name, len(self.actions)) > self.next_action:
            problems.append(f'template "{node.name}" is used before its {{{{define}}}}: move the define up')
        call = f"{{{{ {self.macro_name(node.name)}({arg}) }}}}"
        self.emit(["{% endmacro %}", call] if node.block else [call], problems)


def convert(text: str, name: str) -> Conversion:
    """The Jinja2 twin of a Go template; raises TemplateError if the Go template does not parse."""
    return _Converter(text, name).run()


def convert_file(path: Path) -> Conversion:
    """`confpy convert`: the Jinja2 twin of the Go template in file `path`. A file that cannot be
    read, is not UTF-8 or does not parse is a TemplateError whose message starts with the path."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path}: {exc.strerror}", path=path) from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise TemplateError(f"{path}: not UTF-8 text (byte {exc.start} is 0x{byte:02x})", path=path) from None
    try:
        return convert(text, path.name)
    except TemplateError as exc:
        raise TemplateError(f"{path}: {exc}", path=path, line=exc.line) from None
