"""Go's fmt printing (fmt/print.go, fmt/format.go) for Python values seen as Go values.

Python value -> Go value: None is nil, bool, int, float (float64), complex (complex128), str,
list/tuple a slice, dict a map (printed in sorted key order), a NamedTuple or dataclass a struct
(KVPair prints as `{/k v}`), datetime a time.Time. An object with a `String()` method is a
fmt.Stringer.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from typing import Any

from confpy._go.strconv import (
    UINT64_MAX,
    can_backquote,
    format_float,
    go_bytes,
    go_concat,
    go_string,
    quote,
    quote_rune,
)
from confpy.engines.gotemplate.gotypes import ByteSlice, GoSlice, NilMap, type_of

__all__ = [
    "eval_args",
    "is_struct",
    "sort_keys",
    "sprint",
    "sprintf",
    "sprintln",
    "struct_fields",
    "type_name",
]


def is_struct(v: Any) -> bool:
    """A NamedTuple or a dataclass instance: printed and accessed as a Go struct."""
    return (isinstance(v, tuple) and hasattr(v, "_fields")) or (
        hasattr(type(v), "__dataclass_fields__")  # dataclasses.is_dataclass, without importing it
    )


def struct_fields(v: Any) -> list[tuple[str, Any]]:
    """A struct's (name, value) pairs in declaration order."""
    if isinstance(v, tuple):
        return list(zip(v._fields, v, strict=True))  # type: ignore[attr-defined]
    import dataclasses  # imported already: `v` is a dataclass instance

    return [(f.name, getattr(v, f.name)) for f in dataclasses.fields(v)]


def type_name(v: Any) -> str:
    """The Go type name of a value, as %T and Go's error messages print it."""
    typ = type_of(v)
    return "<nil>" if typ is None else typ.name


def sort_keys(d: dict[Any, Any]) -> list[Any]:
    """Map keys in Go's fmtsort order (numbers numerically, strings bytewise)."""
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=lambda k: (type(k).__name__, str(k)))


def _stringer(v: Any) -> Callable[[], Any] | None:
    """The String() method of a fmt.Stringer, if v is one."""
    if isinstance(v, datetime.datetime):  # from confd's datetime, which imported gotime
        from confpy.engines.gotemplate import gotime

        return lambda: gotime.time_string(v)
    method = getattr(type(v), "String", None)
    if method is not None and callable(method):
        bound: Callable[[], Any] = getattr(v, "String")  # noqa: B009
        return bound
    return None


class _Printer:
    """Go's pp + fmt: one formatting operation's flags and output buffer."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.clear_flags()

    def clear_flags(self) -> None:
        self.plus = self.minus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.wid: int | None = None
        self.prec: int | None = None

    # -- padding --

    def write_padding(self, n: int) -> None:
        if n > 0:
            self.buf.append(("0" if self.zero else " ") * n)

    def pad(self, s: str) -> None:
        if not self.wid:
            self.buf.append(s)
            return
        width = self.wid - len(s)
        if self.minus:
            self.buf.append(s)
            self.write_padding(width)
        else:
            self.write_padding(width)
            self.buf.append(s)

    # -- basic kinds (fmt/format.go) --

    def fmt_integer(self, v: int, base: int, verb: str, upper: bool = False) -> None:
        negative = v < 0
        u = -v if negative else v
        prec = 0
        if self.prec is not None:
            prec = self.prec
            if prec == 0 and u == 0:
                old_zero, self.zero = self.zero, False
                self.write_padding(self.wid or 0)
                self.zero = old_zero
                return
        elif self.zero and self.wid is not None:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1  # leave room for the sign
        digits = {10: "%d", 16: "%X" if upper else "%x", 8: "%o"}.get(base)
        s = digits % u if digits else format(u, "b")
        s = s.rjust(prec, "0")
        if self.sharp:
            if base == 2:
                s = "0b" + s
            elif base == 8 and s[0] != "0":
                s = "0" + s
            elif base == 16:
                s = ("0X" if upper else "0x") + s
        if verb == "O":
            s = "0o" + s
        if negative:
            s = "-" + s
        elif self.plus:
            s = "+" + s
        elif self.space:
            s = " " + s
        old_zero, self.zero = self.zero, False
        self.pad(s)
        self.zero = old_zero

    def fmt_unicode(self, u: int) -> None:
        prec = 4
        if self.prec is not None and self.prec > 4:
            prec = self.prec
        u &= UINT64_MAX
        s = "U+" + format(u, "X").rjust(prec, "0")
        if self.sharp and u <= 0x10FFFF and chr(u).isprintable():
            s += " '" + chr(u) + "'"
        old_zero, self.zero = self.zero, False
        self.pad(s)
        self.zero = old_zero

    def fmt_float(self, v: float, verb: str, default_prec: int) -> None:
        prec = self.prec if self.prec is not None else default_prec
        num = format_float(v, verb, prec)
        if num[0] not in "+-":
            num = "+" + num
        if self.space and num[0] == "+" and not self.plus:
            num = " " + num[1:]
        if num[1] in "IN":  # Inf, NaN: no zero padding
            old_zero, self.zero = self.zero, False
            if num[1] == "N" and not self.space and not self.plus:
                num = num[1:]
            self.pad(num)
            self.zero = old_zero
            return
        if self.sharp and verb != "b":
            num = self._sharp_float(num, verb, prec)
        if self.plus or num[0] != "+":
            if self.zero and self.wid is not None and self.wid > len(num):
                self.buf.append(num[0])
                self.write_padding(self.wid - len(num))
                self.buf.append(num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    @staticmethod
    def _sharp_float(num: str, verb: str, prec: int) -> str:
        """%#g and friends: keep the decimal point and trailing zeros."""
        digits = 0
        if verb in "vgGx":
            digits = 6 if prec == -1 else prec
        tail = ""
        body = num
        for i, c in enumerate(num[1:], 1):
            if c in "pP" or (c in "eE" and verb not in "xX"):
                body, tail = num[:i], num[i:]
                break
        has_point = "." in body
        saw_nonzero = False
        for c in body[1:]:
            if c == ".":
                continue
            if c != "0":
                saw_nonzero = True
            if saw_nonzero:
                digits -= 1
        if not has_point:
            if len(body) == 2 and body[1] == "0":
                digits -= 1
            body += "."
        return body + "0" * max(digits, 0) + tail

    def fmt_s(self, s: str) -> None:
        if self.prec is not None:
            s = s[: self.prec]
        self.pad(s)

    def fmt_sx(self, s: str, upper: bool) -> None:
        data = go_bytes(s)
        if self.prec is not None:
            data = data[: self.prec]
        if not data:
            if self.wid is not None:
                self.write_padding(self.wid)
            return
        prefix = "0X" if upper else "0x"
        hexes = [f"{b:02X}" if upper else f"{b:02x}" for b in data]
        if self.space:
            out = " ".join((prefix + h) if self.sharp else h for h in hexes)
        else:
            out = (prefix if self.sharp else "") + "".join(hexes)
        old_zero, self.zero = self.zero, False
        self.pad(out)
        self.zero = old_zero

    def fmt_q(self, s: str) -> None:
        if self.prec is not None:
            s = s[: self.prec]
        if self.sharp and can_backquote(s):
            self.pad("`" + s + "`")
        else:
            self.pad(quote(s, ascii_only=self.plus))

    # -- dispatch by kind (fmt/print.go) --

    def bad_verb(self, verb: str, arg: Any) -> None:
        self.buf.append("%!" + verb + "(")
        if arg is None:
            self.buf.append("<nil>")
        else:
            self.buf.append(type_name(arg) + "=")
            saved = (self.plus, self.minus, self.sharp, self.space, self.zero, self.wid, self.prec)
            self.print_arg(arg, "v", erroring=True)
            self.plus, self.minus, self.sharp, self.space, self.zero, self.wid, self.prec = saved
        self.buf.append(")")

    def fmt_int_verb(self, v: int, verb: str) -> None:
        if verb == "v" and self.sharp_v and type(v) is not int and type_name(v).startswith("uint"):
            old_sharp, self.sharp = self.sharp, True  # %#v of an unsigned integer: fmt0x64
            self.fmt_integer(v, 16, "x")
            self.sharp = old_sharp
        elif verb in "vd":
            self.fmt_integer(v, 10, verb)
        elif verb == "b":
            self.fmt_integer(v, 2, verb)
        elif verb in "oO":
            self.fmt_integer(v, 8, verb)
        elif verb in "xX":
            self.fmt_integer(v, 16, verb, verb == "X")
        elif verb == "c":
            self.pad(chr(v) if 0 <= v <= 0x10FFFF and not 0xD800 <= v <= 0xDFFF else "\ufffd")
        elif verb == "q":
            self.pad(quote_rune(v, ascii_only=self.plus))
        elif verb == "U":
            self.fmt_unicode(v)
        else:
            self.bad_verb(verb, v)

    def fmt_float_verb(self, v: float, verb: str) -> None:
        if verb == "v":
            self.fmt_float(v, "g", -1)
        elif verb in "bgGxX":
            self.fmt_float(v, verb, -1)
        elif verb in "feE":
            self.fmt_float(v, verb, 6)
        elif verb == "F":
            self.fmt_float(v, "f", 6)
        else:
            self.bad_verb(verb, v)

    def fmt_string_verb(self, s: str, verb: str) -> None:
        if verb == "v":
            if self.sharp_v:
                self.fmt_q(s)
            else:
                self.fmt_s(s)
        elif verb == "s":
            self.fmt_s(s)
        elif verb in "xX":
            self.fmt_sx(s, verb == "X")
        elif verb == "q":
            self.fmt_q(s)
        else:
            self.bad_verb(verb, s)

    def fmt_bytes(self, v: list[int], verb: str) -> None:
        """fmtBytes: a []byte prints as text for %s %q %x %X, and as []byte{0x..} for %#v."""
        if verb in "vd":
            self.buf.append("[]byte{" + ", ".join(f"0x{c:x}" for c in v) + "}")
        else:
            self.fmt_string_verb(go_string(bytes(v)), verb)

    def print_arg(self, arg: Any, verb: str, erroring: bool = False) -> None:
        if arg is None:
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, None)
            return
        if verb == "T":
            self.fmt_s(type_name(arg))
            return
        self.print_value(arg, verb, 0, erroring)

    def handle_methods(self, arg: Any, verb: str) -> bool:
        if self.sharp_v:  # a fmt.GoStringer: of confd's values, time.Time
            if isinstance(arg, datetime.datetime):
                from confpy.engines.gotemplate import gotime

                self.fmt_s(gotime.go_string(arg))
                return True
            return False
        if verb not in "vsxXq":
            return False
        method = _stringer(arg)
        if method is None:
            return False
        self.fmt_string_verb(str(method()), verb)
        return True

    def print_value(self, v: Any, verb: str, depth: int, erroring: bool = False) -> None:
        cls = type(v)
        if cls is str:
            self.fmt_string_verb(v, verb)
        elif cls is int:
            self.fmt_int_verb(v, verb)
        elif cls is bool:
            if verb in "tv":
                self.pad("true" if v else "false")
            else:
                self.bad_verb(verb, v)
        elif cls is float:
            self.fmt_float_verb(v, verb)
        elif cls is complex:
            self.fmt_complex(v, verb)
        elif v is None:
            self.buf.append("interface {}(nil)" if self.sharp_v else "<nil>")
        elif not erroring and self.handle_methods(v, verb):
            return
        elif self.sharp_v and type(v) is NilMap:
            self.buf.append(type_name(v) + "(nil)")
        elif isinstance(v, dict):
            self.buf.append(type_name(v) + "{" if self.sharp_v else "map[")
            for i, key in enumerate(sort_keys(v)):
                if i:
                    self.buf.append(", " if self.sharp_v else " ")
                self.print_value(key, verb, depth + 1)
                self.buf.append(":")
                self.print_value(v[key], verb, depth + 1)
            self.buf.append("}" if self.sharp_v else "]")
        elif is_struct(v):
            if self.sharp_v:
                self.buf.append(type_name(v))
            self.buf.append("{")
            for i, (name, value) in enumerate(struct_fields(v)):
                if i:
                    self.buf.append(", " if self.sharp_v else " ")
                if self.plus_v or self.sharp_v:
                    self.buf.append(name + ":")
                self.print_value(value, verb, depth + 1)
            self.buf.append("}")
        elif type(v) is ByteSlice and (self.sharp_v or verb in "sqxX"):
            self.fmt_bytes(v, verb)
        elif self.sharp_v and isinstance(v, GoSlice) and v.nil:
            self.buf.append(type_name(v) + "(nil)")
        elif isinstance(v, (list, tuple)):
            self.buf.append(type_name(v) + "{" if self.sharp_v else "[")
            for i, item in enumerate(v):
                if i:
                    self.buf.append(", " if self.sharp_v else " ")
                self.print_value(item, verb, depth + 1)
            self.buf.append("}" if self.sharp_v else "]")
        elif isinstance(v, int):  # an int subclass without String() (uint8, int64): its type in errors
            self.fmt_int_verb(v, verb)
        elif isinstance(v, str):
            self.fmt_string_verb(str(v), verb)
        else:
            self.fmt_s(str(v))

    def fmt_complex(self, v: complex, verb: str) -> None:
        if verb not in "vbgGxXfFeE":
            self.bad_verb(verb, v)
            return
        old_plus = self.plus
        self.buf.append("(")
        self.fmt_float_verb(v.real, verb)
        self.plus = True  # the imaginary part always has a sign
        self.fmt_float_verb(v.imag, verb)
        self.buf.append("i)")
        self.plus = old_plus

    # -- Printf's format parsing --

    def do_printf(self, fmt: str, args: Sequence[Any]) -> None:
        end = len(fmt)
        arg_num = 0
        after_index = False
        reordered = False
        i = 0
        while i < end:
            good_arg_num = True
            pct = fmt.find("%", i)
            if pct < 0:
                self.buf.append(fmt[i:])
                break
            if pct > i:
                self.buf.append(fmt[i:pct])
            i = pct + 1
            self.clear_flags()
            while i < end:
                c = fmt[i]
                if c == "#":
                    self.sharp = True
                elif c == "0":
                    self.zero = not self.minus
                elif c == "+":
                    self.plus = True
                elif c == "-":
                    self.minus = True
                    self.zero = False
                elif c == " ":
                    self.space = True
                else:
                    break
                i += 1
            # An explicit argument index?
            arg_num, i, after_index, ok, used = _arg_number(arg_num, fmt, i, len(args))
            reordered |= used
            good_arg_num &= ok
            if i < end and fmt[i] == "*":
                i += 1
                self.wid, arg_num = _int_from_arg(args, arg_num)
                if self.wid is None:
                    self.buf.append("%!(BADWIDTH)")
                elif self.wid < 0:
                    self.wid = -self.wid
                    self.minus = True
                    self.zero = False
                after_index = False
            else:
                self.wid, i = _parse_num(fmt, i, end)
                if after_index and self.wid is not None:
                    good_arg_num = False
            if i + 1 < end and fmt[i] == ".":
                i += 1
                if after_index:
                    good_arg_num = False
                arg_num, i, after_index, ok, used = _arg_number(arg_num, fmt, i, len(args))
                reordered |= used
                good_arg_num &= ok
                if i < end and fmt[i] == "*":
                    i += 1
                    self.prec, arg_num = _int_from_arg(args, arg_num)
                    if self.prec is not None and self.prec < 0:
                        self.prec = None
                        self.buf.append("%!(BADPREC)")
                    elif self.prec is None:
                        self.buf.append("%!(BADPREC)")
                    after_index = False
                else:
                    self.prec, i = _parse_num(fmt, i, end)
                    if self.prec is None:
                        self.prec = 0
            if not after_index:
                arg_num, i, after_index, ok, used = _arg_number(arg_num, fmt, i, len(args))
                reordered |= used
                good_arg_num &= ok
            if i >= end:
                self.buf.append("%!(NOVERB)")
                break
            verb = fmt[i]
            i += 1
            if verb == "%":
                self.buf.append("%")
            elif not good_arg_num:
                self.buf.append("%!" + verb + "(BADINDEX)")
            elif arg_num >= len(args):
                self.buf.append("%!" + verb + "(MISSING)")
            else:
                if verb == "v":
                    self.sharp_v, self.sharp = self.sharp, False
                    self.plus_v, self.plus = self.plus, False
                self.print_arg(args[arg_num], verb)
                arg_num += 1
        if not reordered and arg_num < len(args):
            self.clear_flags()
            self.buf.append("%!(EXTRA ")
            for k, arg in enumerate(args[arg_num:]):
                if k:
                    self.buf.append(", ")
                if arg is None:
                    self.buf.append("<nil>")
                else:
                    self.buf.append(type_name(arg) + "=")
                    self.print_arg(arg, "v")
            self.buf.append(")")


def _parse_num(s: str, i: int, end: int) -> tuple[int | None, int]:
    """Digits at s[i:] as a number (None if there are none) and the index after them."""
    j = i
    while j < end and "0" <= s[j] <= "9":
        j += 1
        if j - i > 7:  # Go's tooLarge: a crazy long number
            return None, end
    return (int(s[i:j]) if j > i else None), j


def _arg_number(arg_num: int, fmt: str, i: int, num_args: int) -> tuple[int, int, bool, bool, bool]:
    """An explicit [n] index: (arg number, new i, found, ok, index seen)."""
    if i >= len(fmt) or fmt[i] != "[":
        return arg_num, i, False, True, False
    close = fmt.find("]", i + 1)
    if close < 0:
        return arg_num, i + 1, False, False, True
    digits = fmt[i + 1 : close]
    if not digits.isdigit():
        return arg_num, close + 1, False, False, True
    index = int(digits) - 1
    if 0 <= index < num_args:
        return index, close + 1, True, True, True
    return arg_num, close + 1, True, False, True


def _int_from_arg(args: Sequence[Any], arg_num: int) -> tuple[int | None, int]:
    if arg_num >= len(args):
        return None, arg_num
    value = args[arg_num]
    # fmt's intFromArg: a value of any integer kind (a byte, a time.Month), not a bool
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 1_000_000:
        return None, arg_num + 1
    return value, arg_num + 1


@functools.lru_cache(maxsize=512)
def _plain_format(fmt: str) -> tuple[str, str] | None:
    """For a format whose verbs are all bare %s, %d or %v: the same format for Python's `%`, and the verbs."""
    out: list[str] = []
    verbs: list[str] = []
    i = 0
    while (j := fmt.find("%", i)) >= 0:
        verb = fmt[j + 1 : j + 2]
        if verb not in ("%", "s", "d", "v"):
            return None
        out.append(fmt[i:j].replace("%", "%%") + ("%%" if verb == "%" else "%s"))
        if verb != "%":
            verbs.append(verb)
        i = j + 2
    out.append(fmt[i:].replace("%", "%%"))
    return "".join(out), "".join(verbs)


def _plain_arg(verb: str, arg: Any) -> bool:
    """Whether Python's %s prints `arg` as Go prints it with `verb`."""
    cls = type(arg)
    return cls is str if verb == "s" else (cls is int if verb == "d" else cls is str or cls is int)


def sprintf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf."""
    plain = _plain_format(fmt)
    if plain is not None and len(plain[1]) == len(args) and all(map(_plain_arg, plain[1], args)):
        return go_concat(plain[0] % args)
    p = _Printer()
    p.do_printf(fmt, args)
    return go_concat("".join(p.buf))


def sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    p = _Printer()
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not prev_string:
            p.buf.append(" ")
        p.print_arg(arg, "v")
        prev_string = is_string
    return go_concat("".join(p.buf))


def sprintln(*args: Any) -> str:
    """fmt.Sprintln: operands always separated by spaces, and a newline."""
    p = _Printer()
    for i, arg in enumerate(args):
        if i:
            p.buf.append(" ")
        p.print_arg(arg, "v")
    p.buf.append("\n")
    return go_concat("".join(p.buf))


def eval_args(args: Sequence[Any]) -> str:
    """text/template's evalArgs: Sprint of the arguments, a missing value as `<no value>`."""
    if len(args) == 1 and type(args[0]) is str:
        return str(args[0])
    return sprint(*("<no value>" if a is None else a for a in args))
