"""Go's text/template lexer (text/template/parse/lex.go), state function for state function.

`lex()` scans the whole text at once and returns the items; an error item, if any, is last.
Positions are character offsets; `line` is the line the item starts on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeAlias

from confpy._go.strconv import quote
from confpy.engines.gotemplate.fmt import sprintf

__all__ = ["Item", "ItemType", "format_rune", "lex"]

LEFT_DELIM = "{{"
RIGHT_DELIM = "}}"
LEFT_COMMENT = "/*"
RIGHT_COMMENT = "*/"
SPACE_CHARS = " \t\r\n"


class ItemType:
    """The kinds of item (lex.go's itemType constants). Plain ints: an IntEnum of 35 members costs
    ~0.5 ms to build at every start, and the parser only compares them."""

    ERROR = 0
    BOOL = 1
    CHAR = 2
    CHAR_CONSTANT = 3
    COMMENT = 4
    COMPLEX = 5
    ASSIGN = 6
    DECLARE = 7
    EOF = 8
    FIELD = 9
    IDENTIFIER = 10
    LEFT_DELIM = 11
    LEFT_PAREN = 12
    NUMBER = 13
    PIPE = 14
    RAW_STRING = 15
    RIGHT_DELIM = 16
    RIGHT_PAREN = 17
    SPACE = 18
    STRING = 19
    TEXT = 20
    VARIABLE = 21
    KEYWORD = 22  # keywords sort after this one
    BLOCK = 23
    BREAK = 24
    CONTINUE = 25
    DOT = 26
    DEFINE = 27
    ELSE = 28
    END = 29
    IF = 30
    NIL = 31
    RANGE = 32
    TEMPLATE = 33
    WITH = 34


KEYWORDS = {
    ".": ItemType.DOT,
    "block": ItemType.BLOCK,
    "break": ItemType.BREAK,
    "continue": ItemType.CONTINUE,
    "define": ItemType.DEFINE,
    "else": ItemType.ELSE,
    "end": ItemType.END,
    "if": ItemType.IF,
    "range": ItemType.RANGE,
    "nil": ItemType.NIL,
    "template": ItemType.TEMPLATE,
    "with": ItemType.WITH,
}


class Item(NamedTuple):
    """A token: its type, start offset, text and line."""

    typ: int  # an ItemType
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        if self.typ == ItemType.EOF:
            return "EOF"
        if self.typ == ItemType.ERROR:
            return self.val
        if self.typ > ItemType.KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return quote(self.val[:10]) + "..."
        return quote(self.val)


def format_rune(c: str) -> str:
    """The lexer's errors name a character as Go's %#U prints it: U+0024 '$'."""
    return sprintf("%#U", ord(c))


def _is_space(c: str) -> bool:
    return c in SPACE_CHARS and c != ""


def _is_alphanumeric(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def _has_left_trim_marker(s: str, i: int) -> bool:
    return len(s) >= i + 2 and s[i] == "-" and _is_space(s[i + 1])


def _left_trim_length(s: str, i: int) -> int:
    """Go's leftTrimLength(s[i:]): how many space characters start it."""
    rest = s[i:]
    return len(rest) - len(rest.lstrip(SPACE_CHARS))


def _has_right_trim_marker(s: str, i: int) -> bool:
    return len(s) >= i + 2 and _is_space(s[i]) and s[i + 1] == "-"


_State: TypeAlias = "Callable[[], _State] | None"


class _Lexer:
    """The scanner's state; each lex_* method is one of Go's state functions."""

    def __init__(self, text: str, break_ok: bool, continue_ok: bool, emit_comment: bool) -> None:
        self.input = text
        self.emit_comment = emit_comment
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.paren_depth = 0
        self.break_ok = break_ok
        self.continue_ok = continue_ok
        self.items: list[Item] = []

    # -- helpers (Go's next/peek/backup use "" for EOF) --

    def next(self) -> str:
        if self.pos >= len(self.input):
            self.pos = len(self.input) + 1  # remember we read EOF; backup undoes it
            return ""
        c = self.input[self.pos]
        self.pos += 1
        if c == "\n":
            self.line += 1
        return c

    def backup(self) -> None:
        if self.pos > len(self.input):
            self.pos = len(self.input)
            return
        if self.pos > 0:
            self.pos -= 1
            if self.input[self.pos] == "\n":
                self.line -= 1

    def peek(self) -> str:
        c = self.next()
        self.backup()
        return c

    def emit(self, typ: int) -> None:
        self.items.append(Item(typ, self.start, self.input[self.start : self.pos], self.start_line))
        self.start = self.pos
        self.start_line = self.line

    def ignore(self) -> None:
        self.line += self.input.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def accept(self, valid: str) -> bool:
        c = self.next()
        if c and c in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            c = self.next()
            if not c or c not in valid:
                break
        self.backup()

    def errorf(self, message: str) -> None:
        self.items.append(Item(ItemType.ERROR, self.start, message, self.start_line))

    def run(self) -> list[Item]:
        state: _State = self.lex_text
        while state is not None:
            state = state()
        return self.items

    # -- state functions: each returns the next one, or None to stop --

    def lex_text(self) -> _State:
        x = self.input.find(LEFT_DELIM, self.pos)
        if x < 0:
            self.pos = len(self.input)
            if self.pos > self.start:
                self.line += self.input.count("\n", self.start, self.pos)
                self.emit(ItemType.TEXT)
            self.emit(ItemType.EOF)
            return None
        self.pos = x
        trim = 0
        if _has_left_trim_marker(self.input, x + len(LEFT_DELIM)):
            before = self.input[self.start : x]
            trim = len(before) - len(before.rstrip(SPACE_CHARS))
        self.pos -= trim
        if self.pos > self.start:
            self.line += self.input.count("\n", self.start, self.pos)
            self.emit(ItemType.TEXT)
        self.pos += trim
        self.ignore()
        return self.lex_left_delim

    def at_right_delim(self) -> tuple[bool, bool]:
        """(at a right delimiter, with a trim marker before it)."""
        if _has_right_trim_marker(self.input, self.pos) and self.input.startswith(RIGHT_DELIM, self.pos + 2):
            return True, True
        if self.input.startswith(RIGHT_DELIM, self.pos):
            return True, False
        return False, False

    def lex_left_delim(self) -> _State:
        self.pos += len(LEFT_DELIM)
        trim_space = _has_left_trim_marker(self.input, self.pos)
        after_marker = 2 if trim_space else 0
        if self.input.startswith(LEFT_COMMENT, self.pos + after_marker):
            self.pos += after_marker
            self.ignore()
            return self.lex_comment
        self.emit(ItemType.LEFT_DELIM)
        self.pos += after_marker
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self) -> _State:
        self.pos += len(LEFT_COMMENT)
        i = self.input.find(RIGHT_COMMENT, self.pos)
        if i < 0:
            self.errorf("unclosed comment")
            return None
        self.pos = i + len(RIGHT_COMMENT)
        delim, trim_space = self.at_right_delim()
        if not delim:
            self.errorf("comment ends before closing delimiter")
            return None
        if self.emit_comment:
            self.emit(ItemType.COMMENT)
        if trim_space:
            self.pos += 2
        self.pos += len(RIGHT_DELIM)
        if trim_space:
            self.pos += _left_trim_length(self.input, self.pos)
        self.ignore()
        return self.lex_text

    def lex_right_delim(self) -> _State:
        trim_space = _has_right_trim_marker(self.input, self.pos)
        if trim_space:
            self.pos += 2
            self.ignore()
        self.pos += len(RIGHT_DELIM)
        self.emit(ItemType.RIGHT_DELIM)
        if trim_space:
            self.pos += _left_trim_length(self.input, self.pos)
            self.ignore()
        return self.lex_text

    def lex_inside_action(self) -> _State:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.errorf("unclosed left paren")
            return None
        c = self.next()
        if c == "":
            self.errorf("unclosed action")
            return None
        if _is_space(c):
            self.backup()  # put the space back in case we have " -}}"
            return self.lex_space
        if c == "=":
            self.emit(ItemType.ASSIGN)
        elif c == ":":
            if self.next() != "=":
                self.errorf("expected :=")
                return None
            self.emit(ItemType.DECLARE)
        elif c == "|":
            self.emit(ItemType.PIPE)
        elif c == '"':
            return self.lex_quote
        elif c == "`":
            return self.lex_raw_quote
        elif c == "$":
            return self.lex_variable
        elif c == "'":
            return self.lex_char
        elif c == "." and self.pos < len(self.input) and not "0" <= self.input[self.pos] <= "9":
            return self.lex_field  # a '.' that ends the text starts a number, as in lex.go
        elif c in ".+-" or "0" <= c <= "9":
            self.backup()
            return self.lex_number
        elif _is_alphanumeric(c):
            self.backup()
            return self.lex_identifier
        elif c == "(":
            self.emit(ItemType.LEFT_PAREN)
            self.paren_depth += 1
        elif c == ")":
            self.emit(ItemType.RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.errorf(f"unexpected right paren {format_rune(c)}")
                return None
        elif c <= "\x7f" and c.isprintable():
            self.emit(ItemType.CHAR)
        else:
            self.errorf(f"unrecognized character in action: {format_rune(c)}")
            return None
        return self.lex_inside_action

    def lex_space(self) -> _State:
        num_spaces = 0
        while _is_space(self.peek()):
            self.next()
            num_spaces += 1
        # A trim-marked right delimiter starts with a space: leave it for lex_right_delim.
        if _has_right_trim_marker(self.input, self.pos - 1) and self.input.startswith(
            RIGHT_DELIM, self.pos + 1
        ):
            self.backup()
            if num_spaces == 1:
                return self.lex_right_delim
        self.emit(ItemType.SPACE)
        return self.lex_inside_action

    def lex_identifier(self) -> _State:
        while True:
            c = self.next()
            if not _is_alphanumeric(c):
                break
        self.backup()
        word = self.input[self.start : self.pos]
        if not self.at_terminator():
            self.errorf(f"bad character {format_rune(c)}")
            return None
        keyword = KEYWORDS.get(word)
        if keyword is not None:
            if (keyword == ItemType.BREAK and not self.break_ok) or (
                keyword == ItemType.CONTINUE and not self.continue_ok
            ):
                self.emit(ItemType.IDENTIFIER)
            else:
                self.emit(keyword)
        elif word[0] == ".":
            self.emit(ItemType.FIELD)
        elif word in ("true", "false"):
            self.emit(ItemType.BOOL)
        else:
            self.emit(ItemType.IDENTIFIER)
        return self.lex_inside_action

    def lex_field(self) -> _State:
        return self.lex_field_or_variable(ItemType.FIELD)

    def lex_variable(self) -> _State:
        if self.at_terminator():  # just "$"
            self.emit(ItemType.VARIABLE)
            return self.lex_inside_action
        return self.lex_field_or_variable(ItemType.VARIABLE)

    def lex_field_or_variable(self, typ: int) -> _State:
        if self.at_terminator():  # just "." or "$"
            self.emit(ItemType.VARIABLE if typ == ItemType.VARIABLE else ItemType.DOT)
            return self.lex_inside_action
        while True:
            c = self.next()
            if not _is_alphanumeric(c):
                self.backup()
                break
        if not self.at_terminator():
            self.errorf(f"bad character {format_rune(c)}")
            return None
        self.emit(typ)
        return self.lex_inside_action

    def at_terminator(self) -> bool:
        """Whether the next character may follow an identifier (breaks .X.Y into two pieces)."""
        c = self.peek()
        if c == "" or _is_space(c) or c in ".,|:)(":
            return True
        return self.input.startswith(RIGHT_DELIM, self.pos)

    def lex_char(self) -> _State:
        return self.lex_escaped("'", "unterminated character constant", ItemType.CHAR_CONSTANT)

    def lex_escaped(self, close: str, unterminated: str, item: int) -> _State:
        """A character constant or an interpreted string: backslash escapes, no newline."""
        while True:
            c = self.next()
            if c == "\\":
                c = self.next()
                if c not in ("", "\n"):
                    continue
            if c in ("", "\n"):
                self.errorf(unterminated)
                return None
            if c == close:
                break
        self.emit(item)
        return self.lex_inside_action

    def lex_number(self) -> _State:
        if not self.scan_number():
            self.errorf(f"bad number syntax: {quote(self.input[self.start : self.pos])}")
            return None
        if self.peek() in ("+", "-"):
            # Complex: 1+2i. No spaces, must end in 'i'.
            if not self.scan_number() or self.input[self.pos - 1] != "i":
                self.errorf(f"bad number syntax: {quote(self.input[self.start : self.pos])}")
                return None
            self.emit(ItemType.COMPLEX)
        else:
            self.emit(ItemType.NUMBER)
        return self.lex_inside_action

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if _is_alphanumeric(self.peek()):
            self.next()
            return False
        return True

    def lex_quote(self) -> _State:
        return self.lex_escaped('"', "unterminated quoted string", ItemType.STRING)

    def lex_raw_quote(self) -> _State:
        while True:
            c = self.next()
            if c == "":
                self.errorf("unterminated raw quoted string")
                return None
            if c == "`":
                break
        self.emit(ItemType.RAW_STRING)
        return self.lex_inside_action


def lex(text: str, break_ok: bool = True, continue_ok: bool = True, emit_comment: bool = False) -> list[Item]:
    """All items of `text`, ending with EOF or an ERROR item; comments too with emit_comment."""
    return _Lexer(text, break_ok, continue_ok, emit_comment).run()
