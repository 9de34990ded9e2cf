"""Go's text/template parser (text/template/parse/parse.go), function for function.

`parse_trees()` turns a template text into its named trees: the top-level one and every
`{{define}}`/`{{block}}`. Errors are Go's, e.g. `template: app.tmpl:2: function "nope" not defined`.
Also parsed, as newer Go does: `{{else with}}` (Go 1.23).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from confpy._go.strconv import (
    INT64_MAX,
    INT64_MIN,
    UINT64_MAX,
    NumError,
    SyntaxErr,
    parse_float,
    parse_int,
    parse_uint,
    quote,
    unquote,
    unquote_char,
)
from confpy.engines.gotemplate import nodes as n
from confpy.engines.gotemplate.lexer import Item, ItemType, lex
from confpy.errors import TemplateError

__all__ = ["BUILTIN_NAMES", "ParseError", "is_empty_tree", "new_number", "parse_trees"]

BUILTIN_NAMES = frozenset(
    [
        "and",
        "call",
        "html",
        "index",
        "slice",
        "js",
        "len",
        "not",
        "or",
        "print",
        "printf",
        "println",
        "urlquery",
        "eq",
        "ge",
        "gt",
        "le",
        "lt",
        "ne",
    ]
)

_N = TypeVar("_N", int, float)


class ParseError(ValueError):
    """A parse failure inside the parser; parse_trees turns it into a TemplateError (with the
    line its message names, once it names one)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _parsed(parse: Callable[[str], _N], text: str) -> _N | None:
    """The number strconv's `parse` reads from `text`, or None where Go's returns an error."""
    try:
        return parse(text)
    except NumError:
        return None


def _set_float(num: n.NumberNode, f: float) -> None:
    """Record a float value and the integers that hold it exactly (simplifyComplex's rules)."""
    num.is_float = True
    num.as_float = f
    if f.is_integer() and INT64_MIN <= f <= INT64_MAX:
        num.is_int = True
        num.as_int = int(f)
    if f.is_integer() and 0 <= f <= UINT64_MAX:
        num.is_uint = True


def new_number(pos: int, text: str, typ: int) -> n.NumberNode:
    """Go's newNumber: a number constant under every type that can represent it."""
    num = n.NumberNode(pos, text)
    if typ == ItemType.CHAR_CONSTANT:
        value, _, end = unquote_char(text, 1, text[0])
        if text[end:] != "'":
            raise ParseError(f"malformed character constant: {text}")
        num.is_int = num.is_uint = num.is_float = True
        num.as_int, num.as_float = value, float(value)
        return num
    if typ == ItemType.COMPLEX or (text.endswith("i") and _parsed(parse_float, text[:-1]) is not None):
        try:
            value_c = complex(text.replace("_", "").replace("i", "j"))
        except ValueError:
            raise ParseError(f"illegal number syntax: {quote(text)}") from None
        num.is_complex, num.as_complex = True, value_c
        if value_c.imag == 0:
            _set_float(num, value_c.real)
        return num
    unsigned = _parsed(parse_uint, text)  # no sign: fails for "-0" and "+1", fixed below
    signed = _parsed(parse_int, text)
    num.is_uint = unsigned is not None or signed == 0
    num.is_int = signed is not None
    integer = signed if signed is not None else unsigned
    if integer is not None:
        num.as_int = integer
        num.is_float, num.as_float = True, float(integer)
    else:
        f = _parsed(parse_float, text)
        if f is not None:
            if not any(c in text for c in ".eEpP"):
                raise ParseError(f"integer overflow: {quote(text)}")
            _set_float(num, f)
    if not (num.is_int or num.is_uint or num.is_float):
        raise ParseError(f"illegal number syntax: {quote(text)}")
    return num


def is_empty_tree(node: n.Node) -> bool:
    """Go's IsEmptyTree: nothing but space and comments."""
    if isinstance(node, n.ListNode):
        return all(is_empty_tree(x) for x in node.nodes)
    if isinstance(node, n.TextNode):
        return node.text.strip() == ""
    return isinstance(node, n.CommentNode)


class _Tree:
    """One template being parsed (Go's parse.Tree during parsing)."""

    def __init__(self, name: str, parser: _Parser) -> None:
        self.name = name
        self.p = parser
        self.vars = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.root = n.ListNode(0)

    # -- token stream: Go's three-token lookahead, shared by every tree of one parse --

    def next(self) -> Item:
        p = self.p
        if p.peek_count > 0:
            p.peek_count -= 1
        else:
            p.token[0] = p.next_item()
        return p.token[p.peek_count]

    def backup(self) -> None:
        self.p.peek_count += 1

    def backup2(self, t1: Item) -> None:
        self.p.token[1] = t1
        self.p.peek_count = 2

    def backup3(self, t2: Item, t1: Item) -> None:
        self.p.token[1] = t1
        self.p.token[2] = t2
        self.p.peek_count = 3

    def peek(self) -> Item:
        p = self.p
        if p.peek_count > 0:
            return p.token[p.peek_count - 1]
        p.peek_count = 1
        p.token[0] = p.next_item()
        return p.token[0]

    def next_non_space(self) -> Item:
        while True:
            token = self.next()
            if token.typ != ItemType.SPACE:
                return token

    def peek_non_space(self) -> Item:
        token = self.next_non_space()
        self.backup()
        return token

    # -- errors --

    def errorf(self, message: str) -> ParseError:
        line = self.p.token[0].line
        return ParseError(f"template: {self.p.parse_name}:{line}: {message}", line)

    def expect(self, expected: int, context: str) -> Item:
        token = self.next_non_space()
        if token.typ != expected:
            raise self.unexpected(token, context)
        return token

    def unexpected(self, token: Item, context: str) -> ParseError:
        if token.typ == ItemType.ERROR:
            extra = ""
            if self.action_line != 0 and self.action_line != token.line:
                extra = f" in action started at {self.p.parse_name}:{self.action_line}"
                if token.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self.errorf(f"{token}{extra}")
        return self.errorf(f"unexpected {token} in {context}")

    def wrap(self, err: Exception) -> ParseError:
        return self.errorf(str(err))

    # -- grammar --

    def parse(self) -> None:
        """The top level: an item list that may also hold {{define}}s, up to EOF."""
        self.root = n.ListNode(self.peek().pos)
        while self.peek().typ != ItemType.EOF:
            if self.peek().typ == ItemType.LEFT_DELIM:
                delim = self.next()
                if self.next_non_space().typ == ItemType.DEFINE:
                    _Tree("definition", self.p).parse_definition()
                    continue
                self.backup2(delim)
            node = self.text_or_action()
            if isinstance(node, (_End, _Else)):
                raise self.errorf(f"unexpected {node}")
            self.root.nodes.append(node)

    def parse_definition(self) -> None:
        context = "define clause"
        token = self.next_non_space()
        if token.typ not in (ItemType.STRING, ItemType.RAW_STRING):
            raise self.unexpected(token, context)
        try:
            self.name = unquote(token.val)
        except SyntaxErr as err:
            raise self.wrap(err) from None
        self.expect(ItemType.RIGHT_DELIM, context)
        self.root, end = self.item_list()
        if not isinstance(end, _End):
            raise self.errorf(f"unexpected {end} in {context}")
        self.p.add(self)

    def item_list(self) -> tuple[n.ListNode, n.Node]:
        """textOrAction* up to {{end}} or {{else}}, which is returned separately."""
        lst = n.ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != ItemType.EOF:
            node = self.text_or_action()
            if isinstance(node, (_End, _Else)):
                return lst, node
            lst.nodes.append(node)
        raise self.errorf("unexpected EOF")

    def text_or_action(self) -> n.Node:
        token = self.next_non_space()
        if token.typ == ItemType.TEXT:
            return n.TextNode(token.pos, token.val)
        if token.typ == ItemType.LEFT_DELIM:
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        if token.typ == ItemType.COMMENT:
            return n.CommentNode(token.pos, token.val)
        raise self.unexpected(token, "input")

    def action(self) -> n.Node:
        token = self.next_non_space()
        typ = token.typ
        if typ == ItemType.BLOCK:
            return self.block_control()
        if typ in (ItemType.BREAK, ItemType.CONTINUE):
            return self.break_or_continue(token)
        if typ == ItemType.ELSE:
            return self.else_control()
        if typ == ItemType.END:
            return _End(self.expect(ItemType.RIGHT_DELIM, "end").pos)
        if typ == ItemType.IF:
            return n.IfNode(*self.parse_control("if"))
        if typ == ItemType.RANGE:
            return n.RangeNode(*self.parse_control("range"))
        if typ == ItemType.TEMPLATE:
            return self.template_control()
        if typ == ItemType.WITH:
            return n.WithNode(*self.parse_control("with"))
        self.backup()
        token = self.peek()
        # Do not pop variables; they persist until "end".
        return n.ActionNode(token.pos, token.line, self.pipeline("command", ItemType.RIGHT_DELIM))

    def break_or_continue(self, keyword: Item) -> n.Node:
        word = keyword.val
        token = self.next_non_space()
        if token.typ != ItemType.RIGHT_DELIM:
            raise self.unexpected(token, "{{" + word + "}}")
        if self.range_depth == 0:
            raise self.errorf("{{" + word + "}} outside {{range}}")
        return n.BreakNode(keyword.pos) if word == "break" else n.ContinueNode(keyword.pos)

    def pipeline(self, context: str, end: int) -> n.PipeNode:
        token = self.peek_non_space()
        pipe = n.PipeNode(token.pos, token.line)
        while True:  # declarations; loops only for a range's second variable
            v = self.peek_non_space()
            if v.typ != ItemType.VARIABLE:
                break
            self.next()
            # "$x foo" needs 3 tokens of look-ahead to tell an argument from a declaration.
            token_after_variable = self.peek()
            following = self.peek_non_space()
            if following.typ in (ItemType.ASSIGN, ItemType.DECLARE):
                pipe.is_assign = following.typ == ItemType.ASSIGN
                self.next_non_space()
                pipe.decl.append(n.VariableNode(v.pos, v.val))
                self.vars.append(v.val)
            elif following.typ == ItemType.CHAR and following.val == ",":
                self.next_non_space()
                pipe.decl.append(n.VariableNode(v.pos, v.val))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (
                        ItemType.VARIABLE,
                        ItemType.RIGHT_DELIM,
                        ItemType.RIGHT_PAREN,
                    ):
                        continue  # the second variable of a range
                    raise self.errorf("range can only initialize variables")
                raise self.errorf(f"too many declarations in {context}")
            elif token_after_variable.typ == ItemType.SPACE:
                self.backup3(v, token_after_variable)
            else:
                self.backup2(v)
            break
        while True:
            token = self.next_non_space()
            if token.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.typ in _OPERAND_START:
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(token, context)

    def check_pipeline(self, pipe: n.PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.errorf(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], (n.BoolNode, n.DotNode, n.NilNode, n.NumberNode, n.StringNode)):
                raise self.errorf(f"non executable command in pipeline stage {i + 2}")

    def parse_control(self, context: str) -> tuple[int, int, n.PipeNode, n.ListNode, n.ListNode | None]:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, ItemType.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, _Else):
                # "{{else if}}" / "{{else with}}" is "{{else}}{{if ...}}...{{end}}" with the
                # inner {{end}} shared: parse the inner if/with here and stop at its {{end}}.
                inner = self.peek().typ
                if (context, inner) in (("if", ItemType.IF), ("with", ItemType.WITH)):
                    self.next()
                    else_list = n.ListNode(nxt.pos)
                    cls = n.IfNode if inner == ItemType.IF else n.WithNode
                    else_list.nodes.append(cls(*self.parse_control(context)))
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, _End):
                        raise self.errorf(f"expected end; found {nxt}")
            return pipe.pos, pipe.line, pipe, lst, else_list
        finally:
            del self.vars[mark:]

    def else_control(self) -> n.Node:
        peek = self.peek_non_space()
        if peek.typ in (ItemType.IF, ItemType.WITH):
            # "{{else if ..." / "{{else with ...": leave the keyword for parse_control.
            return _Else(peek.pos)
        return _Else(self.expect(ItemType.RIGHT_DELIM, "else").pos)

    def block_control(self) -> n.Node:
        context = "block clause"
        token = self.next_non_space()
        name = self.parse_template_name(token, context)
        pipe = self.pipeline(context, ItemType.RIGHT_DELIM)
        header = self.p.token[0].line  # Go's outer tree still holds its last token, the header's }}
        block = _Tree(name, self.p)
        block.root, end = block.item_list()
        if not isinstance(end, _End):
            raise ParseError(f"template: {self.p.parse_name}:{header}: unexpected {end} in {context}", header)
        self.p.add(block)
        node = n.TemplateNode(token.pos, token.line, name, pipe)
        node.block = True
        return node

    def template_control(self) -> n.Node:
        context = "template clause"
        token = self.next_non_space()
        name = self.parse_template_name(token, context)
        pipe = None
        if self.next_non_space().typ != ItemType.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, ItemType.RIGHT_DELIM)
        return n.TemplateNode(token.pos, token.line, name, pipe)

    def parse_template_name(self, token: Item, context: str) -> str:
        if token.typ not in (ItemType.STRING, ItemType.RAW_STRING):
            raise self.unexpected(token, context)
        try:
            return unquote(token.val)
        except SyntaxErr as err:
            raise self.wrap(err) from None

    def command(self) -> n.CommandNode:
        """Space-separated operands up to a pipe (consumed) or a right delimiter (left)."""
        cmd = n.CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()  # skip leading spaces
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.typ == ItemType.SPACE:
                continue
            if token.typ in (ItemType.RIGHT_DELIM, ItemType.RIGHT_PAREN):
                self.backup()
            elif token.typ != ItemType.PIPE:
                raise self.unexpected(token, "operand")
            break
        if not cmd.args:
            raise self.errorf("empty command")
        return cmd

    def operand(self) -> n.Node | None:
        """A term possibly followed by field accesses."""
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == ItemType.FIELD:
            chain = n.ChainNode(self.peek().pos, node)
            while self.peek().typ == ItemType.FIELD:
                chain.add(self.next().val)
            if isinstance(node, n.FieldNode):
                return n.FieldNode(chain.pos, str(chain))
            if isinstance(node, n.VariableNode):
                return n.VariableNode(chain.pos, str(chain))
            if isinstance(node, (n.BoolNode, n.StringNode, n.NumberNode, n.NilNode, n.DotNode)):
                raise self.errorf(f"unexpected . after term {quote(str(node))}")
            return chain
        return node

    def term(self) -> n.Node | None:
        token = self.next_non_space()
        typ = token.typ
        if typ == ItemType.IDENTIFIER:
            if token.val not in self.p.func_names:
                raise self.errorf(f'function "{token.val}" not defined')
            return n.IdentifierNode(token.pos, token.val)
        if typ == ItemType.DOT:
            return n.DotNode(token.pos)
        if typ == ItemType.NIL:
            return n.NilNode(token.pos)
        if typ == ItemType.VARIABLE:
            return self.use_var(token)
        if typ == ItemType.FIELD:
            return n.FieldNode(token.pos, token.val)
        if typ == ItemType.BOOL:
            return n.BoolNode(token.pos, token.val == "true")
        if typ in (ItemType.CHAR_CONSTANT, ItemType.COMPLEX, ItemType.NUMBER):
            try:
                return new_number(token.pos, token.val, typ)
            except ParseError as err:
                raise self.wrap(err) from None
            except SyntaxErr as err:
                raise self.wrap(err) from None
        if typ == ItemType.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", ItemType.RIGHT_PAREN)
        if typ in (ItemType.STRING, ItemType.RAW_STRING):
            try:
                return n.StringNode(token.pos, token.val, unquote(token.val))
            except SyntaxErr as err:
                raise self.wrap(err) from None
        self.backup()
        return None

    def use_var(self, token: Item) -> n.Node:
        v = n.VariableNode(token.pos, token.val)
        if v.ident[0] not in self.vars:
            raise self.errorf(f'undefined variable "{v.ident[0]}"')
        return v


class _End(n.Node):
    """{{end}}: ends a list; never in a finished tree."""

    __slots__ = ()

    def __str__(self) -> str:
        return "{{end}}"


class _Else(n.Node):
    """{{else}}: ends a list; never in a finished tree."""

    __slots__ = ()

    def __str__(self) -> str:
        return "{{else}}"


_OPERAND_START = frozenset(
    {
        ItemType.BOOL,
        ItemType.CHAR_CONSTANT,
        ItemType.COMPLEX,
        ItemType.DOT,
        ItemType.FIELD,
        ItemType.IDENTIFIER,
        ItemType.NUMBER,
        ItemType.NIL,
        ItemType.RAW_STRING,
        ItemType.STRING,
        ItemType.VARIABLE,
        ItemType.LEFT_PAREN,
    }
)


class _Parser:
    """State shared by the trees of one parse: the token stream and the tree set."""

    def __init__(self, text: str, name: str, func_names: Collection[str], parse_comments: bool) -> None:
        self.parse_name = name
        self.func_names = BUILTIN_NAMES | frozenset(func_names)
        self.items = lex(text, "break" not in func_names, "continue" not in func_names, parse_comments)
        self.index = 0
        self.token: list[Item] = [self.items[0]] * 3
        self.peek_count = 0
        self.trees: dict[str, n.ListNode] = {}

    def next_item(self) -> Item:
        item = self.items[self.index]
        if self.index < len(self.items) - 1:
            self.index += 1
        return item

    def add(self, tree: _Tree) -> None:
        """Go's Tree.add: a later non-empty definition of a name is an error."""
        old = self.trees.get(tree.name)
        if old is None or is_empty_tree(old):
            self.trees[tree.name] = tree.root
        elif not is_empty_tree(tree.root):
            raise tree.errorf(f'template: multiple definition of template "{tree.name}"')


def parse_trees(
    text: str, name: str, func_names: Collection[str], parse_comments: bool = False
) -> dict[str, n.ListNode]:
    """Parse `text` into its templates by name (`name` is the top-level one).

    parse_comments keeps comments as CommentNodes (Go's ParseComments mode).
    """
    parser = _Parser(text, name, func_names, parse_comments)
    top = _Tree(name, parser)
    try:
        top.parse()
        parser.add(top)
    except ParseError as err:
        raise TemplateError(str(err), line=err.line) from None
    return parser.trees
