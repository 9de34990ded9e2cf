"""The parts of Go's strconv that templates show: quoting, unquoting, float formatting.

Go strings are bytes; ours are `str`. A `\\xHH` escape for a byte >= 0x80 decodes with
`surrogateescape`, so invalid UTF-8 survives a round trip through `quote`.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal

__all__ = [
    "SyntaxErr",
    "can_backquote",
    "format_float",
    "is_raw_byte",
    "quote",
    "quote_rune",
    "unquote",
    "unquote_char",
]

_SIMPLE_ESCAPES = {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v"}
_UNESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, "'": 39, '"': 34}


class SyntaxErr(ValueError):
    """strconv.ErrSyntax; its message is Go's."""

    def __init__(self) -> None:
        super().__init__("invalid syntax")


def _escape_rune(c: str, quote_char: str, ascii_only: bool) -> str:
    if c == quote_char or c == "\\":
        return "\\" + c
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # a raw byte kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if (code < 0x80 or not ascii_only) and c.isprintable():
        return c
    if c in _SIMPLE_ESCAPES:
        return "\\" + _SIMPLE_ESCAPES[c]
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xD800 <= code <= 0xDFFF:
        code = 0xFFFD
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def quote(s: str, ascii_only: bool = False) -> str:
    """strconv.Quote (QuoteToASCII with ascii_only): a double-quoted Go string literal."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    return '"' + "".join(_escape_rune(c, '"', ascii_only) for c in s) + '"'


def quote_rune(code: int, ascii_only: bool = False) -> str:
    """strconv.QuoteRune: a single-quoted Go character literal."""
    if not 0 <= code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        code = 0xFFFD
    return "'" + _escape_rune(chr(code), "'", ascii_only) + "'"


def is_raw_byte(c: str) -> bool:
    """Go strings are bytes: one that is not UTF-8 is a surrogate escape in confpy's str (PEP 383)."""
    return "\udc80" <= c <= "\udcff"


def can_backquote(s: str) -> bool:
    """strconv.CanBackquote: s can be a raw string literal without change."""
    return all(((c >= " " and c not in "`\x7f\ufeff") or c == "\t") and not is_raw_byte(c) for c in s)


def unquote_char(s: str, i: int, quote_char: str) -> tuple[int, bool, int]:
    """strconv.UnquoteChar at s[i]: (value, is_byte, next index); is_byte for \\x and octal escapes."""
    c = s[i]
    if c == quote_char and quote_char in "'\"":
        raise SyntaxErr()
    if c != "\\":
        return ord(c), False, i + 1
    if i + 1 >= len(s):
        raise SyntaxErr()
    c = s[i + 1]
    i += 2
    if c in _UNESCAPES:
        if (c == "'" or c == '"') and c != quote_char:
            raise SyntaxErr()
        return _UNESCAPES[c], False, i
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        digits = s[i : i + n]
        if len(digits) < n or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise SyntaxErr()
        value = int(digits, 16)
        if c == "x":
            return value, True, i + n
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise SyntaxErr()
        return value, False, i + n
    if c in "01234567":
        digits = s[i - 1 : i + 2]
        if len(digits) < 3 or any(d not in "01234567" for d in digits):
            raise SyntaxErr()
        value = int(digits, 8)
        if value > 255:
            raise SyntaxErr()
        return value, True, i + 2
    raise SyntaxErr()


def unquote(s: str) -> str:
    """strconv.Unquote for "...", `...` and '...' literals."""
    if len(s) < 2 or s[0] != s[-1] or s[0] not in "\"'`":
        raise SyntaxErr()
    quote_char, body = s[0], s[1:-1]
    if quote_char == "`":
        if "`" in body:
            raise SyntaxErr()
        return body.replace("\r", "")
    if "\n" in body:
        raise SyntaxErr()
    out = bytearray()
    i = 0
    runes = 0
    while i < len(body):
        value, is_byte, i = unquote_char(body, i, quote_char)
        runes += 1
        if is_byte:
            out.append(value)
        else:
            out.extend(chr(value).encode("utf-8", "surrogatepass"))
    if quote_char == "'" and runes != 1:
        raise SyntaxErr()
    return out.decode("utf-8", "surrogateescape")


def _digits(v: float, significant: int) -> tuple[str, int]:
    """Decimal digits of |v| (trailing zeros trimmed) and the decimal point position.

    `significant` < 0 asks for the shortest digits that round-trip (Python's repr, like Go's Ryu).
    """
    if v == 0:
        return "", 0
    if significant < 0:
        _, digit_tuple, exponent = Decimal(repr(abs(v))).as_tuple()
        digits = "".join(map(str, digit_tuple))
        assert isinstance(exponent, int)
        dp = len(digits) + exponent
    else:
        mantissa, _, exp = f"{abs(v):.{significant - 1}e}".partition("e")
        digits = mantissa.replace(".", "")
        dp = int(exp) + 1
    stripped = digits.rstrip("0")
    return stripped, dp


def _fmt_e(neg: bool, digits: str, dp: int, prec: int, letter: str) -> str:
    out = "-" if neg else ""
    out += digits[0] if digits else "0"
    if prec > 0:
        out += "." + digits[1 : prec + 1].ljust(prec, "0")
    exp = 0 if not digits else dp - 1
    sign = "-" if exp < 0 else "+"
    return f"{out}{letter}{sign}{abs(exp):02d}"


def _fmt_f(neg: bool, digits: str, dp: int, prec: int) -> str:
    out = "-" if neg else ""
    out += digits[:dp].ljust(dp, "0") if dp > 0 else "0"
    if prec > 0:
        frac = "".join(digits[dp + i] if 0 <= dp + i < len(digits) else "0" for i in range(prec))
        out += "." + frac
    return out


def _fmt_x(v: float, upper: bool) -> str:
    """Go's %x for floats with shortest precision: -0x1.8p+01."""
    if v == 0:
        out = "0x0p+00"
    else:
        fraction, exp = math.frexp(abs(v))  # normalises subnormals too: 1.x * 2**(exp-1)
        mantissa = float.hex(fraction * 2).partition("p")[0].rstrip("0").rstrip(".")
        out = f"{mantissa}p{exp - 1:+03d}"
    out = ("-" if math.copysign(1, v) < 0 else "") + out
    return out.upper() if upper else out


def _fmt_b(v: float) -> str:
    """strconv's fmtB: the binary form -ddddp±ddd, the exact mantissa and exponent of the float64."""
    bits = struct.unpack("<Q", struct.pack("<d", v))[0]
    mant, exp = bits & ((1 << 52) - 1), (bits >> 52) & 0x7FF
    if exp == 0:
        exp = 1  # denormal
    else:
        mant |= 1 << 52
    return f"{'-' if bits >> 63 else ''}{mant}p{exp - 1075:+d}"


def format_float(v: float, verb: str, prec: int) -> str:
    """strconv.FormatFloat(v, verb, prec, 64) for verbs b e E f g G x X; prec < 0 means shortest."""
    if verb == "b":  # before Inf and NaN: the bits are printed as they are
        return _fmt_b(v)
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    if verb in "xX":
        return _fmt_x(v, verb == "X")
    neg = math.copysign(1, v) < 0
    shortest = prec < 0
    if verb in "eE":
        if not shortest:
            return f"{v:.{prec}e}".replace("e", verb)
        digits, dp = _digits(v, -1)
        return _fmt_e(neg, digits, dp, max(len(digits) - 1, 0), verb)
    if verb == "f":
        if not shortest:
            return f"{v:.{prec}f}"
        digits, dp = _digits(v, -1)
        return _fmt_f(neg, digits, dp, max(len(digits) - dp, 0))
    # 'g' / 'G'
    if shortest:
        digits, dp = _digits(v, -1)
        prec = len(digits)
        eprec = 6
    else:
        prec = max(prec, 1)
        digits, dp = _digits(v, prec)
        eprec = prec
        if eprec > len(digits) >= dp:
            eprec = len(digits)
    exp = dp - 1
    if exp < -4 or exp >= eprec:
        prec = min(prec, len(digits))
        return _fmt_e(neg, digits, dp, prec - 1, "e" if verb == "g" else "E")
    if prec > dp:
        prec = len(digits)
    return _fmt_f(neg, digits, dp, max(prec - dp, 0))
