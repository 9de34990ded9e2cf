"""The parts of Go's strconv that confd's users see: quoting, unquoting, number parsing and
formatting. The Go template engine, confd's template functions and the file backend's YAML
rules (gopkg.in/yaml.v2 calls strconv) all use these, so each Go rule is written once here.

Go strings are bytes; ours are `str`. A `\\xHH` escape for a byte >= 0x80 decodes with
`surrogateescape`, so invalid UTF-8 survives a round trip through `quote`.
Parse errors are `NumError`s (ValueErrors whose str() is Go's message); each caller turns them
into its own ConfpyError.
"""

from __future__ import annotations

import math
import re
import struct

__all__ = [
    "ERR_RANGE",
    "ERR_SYNTAX",
    "INT64_MAX",
    "INT64_MIN",
    "UINT64_MAX",
    "NumError",
    "SyntaxErr",
    "atoi",
    "byte_len",
    "can_backquote",
    "format_float",
    "go_bytes",
    "go_concat",
    "go_string",
    "is_raw_byte",
    "parse_bool",
    "parse_float",
    "parse_int",
    "parse_uint",
    "quote",
    "quote_rune",
    "underscore_ok",
    "unquote",
    "unquote_char",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
"""Go's int64 range: an int, a time.Duration."""
UINT64_MAX = (1 << 64) - 1
"""Go's uint64 range is 0 to this; also the mask that wraps a value around as Go's 64 bits do."""

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


def go_bytes(s: str) -> bytes:
    """The bytes of Go string `s`: its UTF-8, a raw byte (a surrogate escape) as itself."""
    return s.encode("utf-8", "surrogateescape")


def go_string(data: bytes | bytearray) -> str:
    """Bytes as a Go string holds them: UTF-8 decoded, each byte that is not UTF-8 kept raw."""
    return data.decode("utf-8", "surrogateescape")


def go_concat(s: str) -> str:
    """`s`, Go strings put together, as one Go string holds it: raw bytes that now meet as UTF-8
    (the two halves of a sliced "é") are that character, as they are in Go's bytes, so that `eq`,
    `%q` and messages see what Go sees."""
    if s.isascii():
        return s
    try:
        return go_string(go_bytes(s))
    except UnicodeEncodeError:  # a lone surrogate that is no raw byte: no Go string holds it
        return s


def is_raw_byte(c: str) -> bool:
    """Go strings are bytes: one that is not UTF-8 is a surrogate escape in confpy's str (PEP 383)."""
    return "\udc80" <= c <= "\udcff"


def byte_len(s: str) -> int:
    """Go's len(s): its UTF-8 bytes, a raw byte one. A lone surrogate that is no raw byte (a Jinja
    literal's "\\ud800"), which a Go string cannot hold, counts as the U+FFFD it would be."""
    if s.isascii():
        return len(s)
    try:
        return len(go_bytes(s))
    except UnicodeEncodeError:
        return len(s.encode("utf-8", "surrogatepass")) - 2 * sum(map(is_raw_byte, s))


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
    return go_string(out)


def _digits(v: float, significant: int) -> tuple[str, int]:
    """Decimal digits of |v| (trailing zeros trimmed) and the decimal point position.

    `significant` < 0 asks for the shortest digits that round-trip (Python's repr, like Go's Ryu).
    """
    if v == 0:
        return "", 0
    if significant < 0:
        mantissa, _, exp = repr(abs(v)).partition("e")  # "123.5", "1.5e-07", "1e+16"
        whole, _, fraction = mantissa.partition(".")
        digits = (whole + fraction).lstrip("0")
        dp = len(whole) + int(exp or 0) - (len(whole) + len(fraction) - len(digits))
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


ERR_SYNTAX = "invalid syntax"
ERR_RANGE = "value out of range"


class NumError(ValueError):
    """strconv.NumError: which function failed on which input, and why (ERR_SYNTAX or ERR_RANGE).

    str() is Go's message: `strconv.ParseInt: parsing "x": invalid syntax`.
    """

    def __init__(self, func: str, num: str, err: str) -> None:
        super().__init__(f"strconv.{func}: parsing {quote(num)}: {err}")
        self.func = func
        self.num = num
        self.err = err


def underscore_ok(s: str) -> bool:
    """strconv's underscoreOK: underscores only between digits, or between a base prefix and a digit."""
    if s[:1] in ("+", "-"):
        s = s[1:]
    saw = "^"  # ^ the start, 0 a digit or base prefix, _ an underscore, ! anything else
    i = 0
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1] in "bBoOxX":
        i, saw, hexa = 2, "0", s[1] in "xX"
    for c in s[i:]:
        if "0" <= c <= "9" or (hexa and c in "abcdefABCDEF"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
    return saw != "_"


_DIGIT_VALUES = {c: i for i, c in enumerate("0123456789abcdefghijklmnopqrstuvwxyz")}


def parse_uint(s: str, base: int = 0, bit_size: int = 64, func: str = "ParseUint") -> int:
    """strconv.ParseUint: no sign; base 0 reads the prefixes 0b 0o 0x and a leading 0 (octal) and
    allows underscores. As in Go, an overflow is reported where it happens, before a later bad digit."""
    if s == "":
        raise NumError(func, s, ERR_SYNTAX)
    base0 = base == 0
    body = s
    if base0:
        base = 10
        if s[0] == "0":
            if len(s) >= 3 and s[1] in "bBoOxX":
                base = {"b": 2, "o": 8, "x": 16}[s[1].lower()]
                body = s[2:]
            else:
                base, body = 8, s[1:]
    limit = 1 << bit_size
    n = 0
    underscores = False
    for c in body:
        if c == "_" and base0:
            underscores = True
            continue
        d = _DIGIT_VALUES.get(c.lower(), 99) if c.isascii() else 99
        if d >= base:
            raise NumError(func, s, ERR_SYNTAX)
        n = n * base + d
        if n >= limit:
            raise NumError(func, s, ERR_RANGE)
    if underscores and not underscore_ok(s):
        raise NumError(func, s, ERR_SYNTAX)
    return n


def parse_int(s: str, base: int = 0, bit_size: int = 64, func: str = "ParseInt") -> int:
    """strconv.ParseInt: an optional sign, then ParseUint's digits, within a signed `bit_size`."""
    if s == "":
        raise NumError(func, s, ERR_SYNTAX)
    negative = s[0] == "-"
    body = s[1:] if s[0] in "+-" else s
    try:
        magnitude = parse_uint(body, base, bit_size, func)
    except NumError as exc:
        if exc.err != ERR_RANGE:
            raise NumError(func, s, exc.err) from None
        magnitude = 1 << bit_size
    cutoff = 1 << (bit_size - 1)
    if magnitude > cutoff or (magnitude == cutoff and not negative):
        raise NumError(func, s, ERR_RANGE)
    return -magnitude if negative else magnitude


def atoi(s: str) -> int:
    """strconv.Atoi: ParseInt(s, 10, 64) (no prefixes, no underscores), its errors named Atoi."""
    return parse_int(s, 10, 64, func="Atoi")


_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def parse_bool(s: str) -> bool:
    """strconv.ParseBool: exactly 1 t T TRUE true True and 0 f F FALSE false False."""
    try:
        return _BOOLS[s]
    except KeyError:
        raise NumError("ParseBool", s, ERR_SYNTAX) from None


# Compiled on first use (re's cache; ~1.4 ms): only a float to parse needs them, and few runs have one.
_SPECIAL = r"(?i)[+-]?(?:inf|infinity)|nan"
_DECIMAL = r"(?a)[+-]?(?=\.?[0-9_]*[0-9])[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9][0-9_]*)?"
_HEXADECIMAL = (
    r"(?a)[+-]?0[xX](?=\.?[0-9a-fA-F_]*[0-9a-fA-F])[0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?[pP][+-]?[0-9][0-9_]*"
)


def parse_float(s: str) -> float:
    """strconv.ParseFloat(s, 64): Go's decimal and hexadecimal float syntax (a hexadecimal mantissa
    needs a `p` exponent), inf/infinity/nan in any case, underscores as underscore_ok allows; too
    large a value is ERR_RANGE, not infinity (too small a one is 0, as in Go)."""
    if re.fullmatch(_SPECIAL, s):
        return float(s)
    hexadecimal = re.fullmatch(_HEXADECIMAL, s) is not None
    if not (hexadecimal or re.fullmatch(_DECIMAL, s)) or ("_" in s and not underscore_ok(s)):
        raise NumError("ParseFloat", s, ERR_SYNTAX)
    body = s.replace("_", "")
    try:
        value = float.fromhex(body) if hexadecimal else float(body)
    except OverflowError:
        raise NumError("ParseFloat", s, ERR_RANGE) from None
    if math.isinf(value):
        raise NumError("ParseFloat", s, ERR_RANGE)
    return value
