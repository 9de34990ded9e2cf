"""Go's regexp (RE2 syntax, regexp/syntax with the Perl flags) on Python's re, for the fork's
regexMatch, regexFind and regexReplaceAll.

A Go pattern is translated, never handed to Python as it is: the two syntaxes agree on most text
but not on its meaning. Go's `$` is the end of the text (Python's also matches before a final
newline), `\\d \\s \\w \\b` are ASCII (Python's are Unicode), `(?i)` in the middle of a pattern
applies to the rest of its group, `{,3}` is literal text, `\\z`, `\\Q...\\E`, `\\x{...}`,
`[[:alpha:]]` and `\\p{L}` exist only in Go, and lookarounds, backreferences and possessive
repeats exist only in Python. The translator emits each atom with the flags in force at that
point, so nothing depends on Python's own flags, and refuses what Go refuses with Go's wording
(`error parsing regexp: missing closing ): ...`). Unicode scripts (`\\p{Greek}`) are refused:
Python's unicodedata knows categories only.

`replace_all` is Go's ReplaceAllString: its `$1`/`${name}` expansion and its rule that an empty
match right after a match is not replaced (Python's re.sub replaces it).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache
from typing import NamedTuple

__all__ = ["RegexpError", "compile_go", "replace_all"]

_MAX_REPEAT = 1000  # regexp/syntax: a repeat count above this is refused
_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_PERL = {
    "d": [(0x30, 0x39)],
    "s": [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)],
    "w": _WORD,
}
_POSIX = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x00, 0x7F)],
    "blank": [(0x09, 0x09), (0x20, 0x20)],
    "cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "digit": [(0x30, 0x39)],
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x09, 0x0D), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": _WORD,
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
_SIMPLE_ESCAPES = {"a": 7, "f": 12, "t": 9, "n": 10, "r": 13, "v": 11}
_WORD_CLASS = "[0-9A-Za-z_]"
_BOUNDARY = f"(?:(?<={_WORD_CLASS})(?!{_WORD_CLASS})|(?<!{_WORD_CLASS})(?={_WORD_CLASS}))"
_NOT_BOUNDARY = f"(?:(?<={_WORD_CLASS})(?={_WORD_CLASS})|(?<!{_WORD_CLASS})(?!{_WORD_CLASS}))"
_MAX_RUNE = 0x10FFFF
#: `^ $ .` by whether m (for ^ and $) or s (for .) is in force
_ANCHORS = {
    ("^", False): r"\A",
    ("^", True): "(?m:^)",
    ("$", False): r"\Z",
    ("$", True): "(?m:$)",
    (".", False): ".",
    (".", True): "(?s:.)",
}


class RegexpError(ValueError):
    """A pattern Go's regexp.Compile refuses (or confpy cannot translate); str() is Go's wording."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


class GoRegexp(NamedTuple):
    """A translated pattern: the compiled Python one, and Go's group names (index: name)."""

    pattern: re.Pattern[str]
    names: tuple[str, ...] = ()


@cache
def _category(name: str) -> tuple[tuple[int, int], ...]:
    """The code point ranges of a Unicode general category (one letter: the whole class)."""
    ranges: list[tuple[int, int]] = []
    start = None
    for code in range(_MAX_RUNE + 2):
        inside = code <= _MAX_RUNE and unicodedata.category(chr(code)).startswith(name)
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append((start, code - 1))
            start = None
    return tuple(ranges)


#: the general categories \\p{...} may name: each major class and its subcategories
_CATEGORIES = frozenset(
    "C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No "  # noqa: SIM905
    "P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs".split()
)

#: Go's unicode.Scripts (Go 1.19's tables.go): `\\p{Greek}` is valid Go that confpy refuses
_SCRIPTS = frozenset(
    "Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali "  # noqa: SIM905
    "Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian "
    "Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cyrillic Deseret Devanagari "
    "Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic "
    "Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran "
    "Hebrew Hiragana Imperial_Aramaic Inherited Inscriptional_Pahlavi Inscriptional_Parthian Javanese "
    "Kaithi Kannada Katakana Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin "
    "Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean "
    "Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive "
    "Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean Nandinagari New_Tai_Lue "
    "Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian "
    "Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Oriya Osage Osmanya Pahawh_Hmong "
    "Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra "
    "Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri "
    "Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangut Telugu Thaana Thai Tibetan "
    "Tifinagh Tirhuta Ugaritic Vai Wancho Warang_Citi Yezidi Yi Zanabazar_Square".split()
)


def _negate(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, nxt = [], 0
    for lo, hi in _merge(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_RUNE:
        out.append((nxt, _MAX_RUNE))
    return out


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _char(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _class(ranges: list[tuple[int, int]]) -> str:
    merged = _merge(ranges)
    if not merged:
        return "(?!)"
    body = "".join(_char(lo) if lo == hi else f"{_char(lo)}-{_char(hi)}" for lo, hi in merged)
    return f"[{body}]"


class _Translator:
    """One pass over a Go pattern, emitting Python; `flags` is the set in force (i, m, s, U)."""

    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.i = 0
        self.out: list[str] = []
        self.names: list[str] = [""]
        self.flags: set[str] = set()
        self.stack: list[tuple[set[str], int]] = []  # per open group: the flags outside it, where it starts
        self.atom_start = 0  # where in `out` the last atom starts (a quantifier wraps it)
        self.can_repeat = False  # the last emitted piece is an atom a quantifier may follow
        self.repeated = False  # the last emitted piece is a quantifier
        self.last_quantifier = 0

    def fail(self, code: str, expr: str) -> RegexpError:
        return RegexpError(code, expr)

    def translate(self) -> GoRegexp:
        src = self.src
        while self.i < len(src):
            c = src[self.i]
            if c == "\\":
                self.escape()
            elif c == "[":
                self.atom(self.char_class())
            elif c == "(":
                self.open_group()
            elif c == ")":
                if not self.stack:
                    raise self.fail("unexpected )", src)
                self.flags, start = self.stack.pop()
                self.out.append(")")
                self.i += 1
                self.after_atom(start)
            elif c == "|":
                self.out.append("|")
                self.i += 1
                self.can_repeat = self.repeated = False
            elif c in "*+?":
                self.quantifier(c, 1)
            elif c == "{" and (repeat := self.repeat_braces()) is not None:
                self.quantifier(repeat[0], repeat[1])
            elif c in "^$.":
                self.i += 1
                self.atom(_ANCHORS[c, ("s" if c == "." else "m") in self.flags])
            else:
                self.literal(ord(self.rune(self.i)))
                self.i += 1
        if self.stack:
            raise self.fail("missing closing )", src)
        try:
            compiled = re.compile("".join(self.out))
        except (re.error, RecursionError, OverflowError) as exc:  # limits Go's parser has too
            raise self.fail("expression too large", f"{src}: {exc}") from None
        return GoRegexp(compiled, tuple(self.names))

    # -- atoms --

    def after_atom(self, start: int) -> None:
        self.can_repeat, self.repeated, self.atom_start = True, False, start

    def atom(self, text: str) -> None:
        """An assertion (`^`, `\\b`) or a matching atom: Go lets a quantifier follow either."""
        self.out.append(text)
        self.after_atom(len(self.out) - 1)

    def literal(self, code: int) -> None:
        text = re.escape(chr(code))
        if "i" in self.flags and chr(code).lower() != chr(code).upper():
            text = f"(?i:{text})"
        self.atom(text)

    def ranges_atom(self, ranges: list[tuple[int, int]]) -> None:
        text = _class(ranges)
        self.atom(f"(?i:{text})" if "i" in self.flags else text)

    def quantifier(self, op: str, width: int) -> None:
        src, start = self.src, self.i
        self.i += width
        lazy = self.i < len(src) and src[self.i] == "?"
        if lazy:
            self.i += 1
        text = src[start : self.i]
        if self.repeated:
            raise self.fail("invalid nested repetition operator", src[self.last_quantifier : self.i])
        if not self.can_repeat:
            raise self.fail("missing argument to repetition operator", text)
        if "U" in self.flags:
            lazy = not lazy
        # Python repeats neither an assertion nor a repeat: the atom goes into a group of its own.
        repeated = "".join(self.out[self.atom_start :])
        del self.out[self.atom_start :]
        self.out.append(f"(?:{repeated}){op}{'?' if lazy else ''}")
        self.repeated, self.last_quantifier = True, start

    def repeat_braces(self) -> tuple[str, int] | None:
        """`{n}`, `{n,}`, `{n,m}` at self.i as (Python text, its width in Go's text); None: literal `{`."""
        match = re.match(r"\{([0-9]+)(,([0-9]*))?\}", self.src[self.i :])
        if match is None:
            return None
        low, comma, high = match.group(1), match.group(2), match.group(3)
        if int(low) > _MAX_REPEAT or (high and int(high) > _MAX_REPEAT) or (high and int(high) < int(low)):
            raise self.fail("invalid repeat count", match.group(0))
        text = "{" + str(int(low)) + ("," + (str(int(high)) if high else "") if comma else "") + "}"
        return text, len(match.group(0))

    # -- groups and flags --

    def open_group(self) -> None:
        src, i = self.src, self.i
        rest = src[i:]
        named = re.match(r"\(\?P?<", rest)
        if named:
            end = rest.find(">")
            name = rest[named.end() : end] if end > 0 else ""
            if end < 0 or not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise self.fail("invalid named capture", rest[: end + 1] if end > 0 else rest)
            self.names.append(name)
            self.push("(")
            self.i = i + end + 1
            return
        if rest.startswith("(?"):
            match = re.match(r"\(\?([a-zA-Z-]*)([:)])", rest)
            saved = set(self.flags)
            if match is None or not self.set_flags(match.group(1)):
                self.flags = saved
                bad = re.match(r"\(\?[imsU]*(-[imsU]*)?", rest)
                assert bad is not None
                raise self.fail("invalid or unsupported Perl syntax", rest[: bad.end() + 1])
            self.i = i + match.end()
            if (
                match.group(2) == ")"
            ):  # (?i): the rest of this group; a repeat after it repeats the atom before
                self.repeated = False
                return
            self.stack.append((saved, len(self.out)))
            self.out.append("(?:")
            self.can_repeat = self.repeated = False
            return
        self.names.append("")
        self.push("(")
        self.i = i + 1

    def push(self, text: str) -> None:
        self.stack.append((set(self.flags), len(self.out)))
        self.out.append(text)
        self.can_repeat = self.repeated = False

    def set_flags(self, spec: str) -> bool:
        """Go's `(?flags)`: i m s U, `-` once and not last; False for anything else."""
        negate, seen = False, False
        for c in spec:
            if c == "-":
                if negate:
                    return False
                negate, seen = True, False
                continue
            if c not in "imsU":
                return False
            (self.flags.discard if negate else self.flags.add)(c)
            seen = True
        return not negate or seen

    # -- escapes and classes --

    def rune(self, at: int) -> str:
        """The character at `at`; a byte that is not UTF-8 (surrogate-escaped) is Go's nextRune error."""
        c = self.src[at]
        if "\udc80" <= c <= "\udcff":
            raise self.fail("invalid UTF-8", self.src[at:])
        return c

    def escape(self) -> None:
        src, i = self.src, self.i
        if i + 1 >= len(src):
            raise self.fail("trailing backslash at end of expression", "")
        c = self.rune(i + 1)
        if c in "AzbB":
            self.i += 2
            text = {"A": r"\A", "z": r"\Z", "b": _BOUNDARY, "B": _NOT_BOUNDARY}[c]
            self.atom(text)
            return
        if c == "Q":
            end = src.find(r"\E", i + 2)
            literal = src[i + 2 :] if end < 0 else src[i + 2 : end]
            self.i = len(src) if end < 0 else end + 2
            for at in range(i + 2, i + 2 + len(literal)):
                self.literal(ord(self.rune(at)))
            return
        ranges = self.class_escape()
        if ranges is not None:
            self.ranges_atom(ranges)
            return
        self.literal(self.char_escape())

    def class_escape(self) -> list[tuple[int, int]] | None:
        """`\\d \\s \\w` (and negations) or `\\pX \\p{X}` at self.i, as ranges; None for anything else."""
        src, i = self.src, self.i
        c = src[i + 1]
        if c.lower() in _PERL:
            self.i += 2
            ranges = list(_PERL[c.lower()])
            return _negate(ranges) if c.isupper() else ranges
        if c not in "pP":
            return None
        if i + 2 >= len(src):
            raise self.fail("invalid character class range", src[i:])
        if src[i + 2] == "{":
            end = src.find("}", i + 2)
            if end < 0:
                raise self.fail("invalid character class range", src[i:])
            name, self.i = src[i + 3 : end], end + 1
        else:
            name, self.i = src[i + 2], i + 3
        negate = c == "P"
        if name.startswith("^"):
            name, negate = name[1:], not negate
        if name == "Any":
            ranges = [(0, _MAX_RUNE)]
        elif name in _CATEGORIES:
            ranges = list(_category(name))
        elif name in _SCRIPTS:
            raise self.fail(
                "Unicode scripts are not supported by confpy (only general categories)", src[i : self.i]
            )
        else:
            raise self.fail("invalid character class range", src[i : self.i])
        return _negate(ranges) if negate else ranges

    def char_escape(self) -> int:
        """One escaped character at self.i (`\\n`, `\\x41`, `\\x{263a}`, `\\101`, `\\.`) as its code."""
        src, i = self.src, self.i
        c = src[i + 1]
        if c in _SIMPLE_ESCAPES:
            self.i += 2
            return _SIMPLE_ESCAPES[c]
        if c == "x":
            brace = re.match(r"\\x\{([0-9A-Fa-f]+)\}", src[i:])
            plain = re.match(r"\\x[0-9A-Fa-f]{2}", src[i:])
            if brace and int(brace.group(1), 16) <= _MAX_RUNE:
                self.i += brace.end()
                return int(brace.group(1), 16)
            if plain:
                self.i += 4
                return int(plain.group(0)[2:], 16)
            raise self.fail("invalid escape sequence", src[i : i + 2])
        octal = re.match(r"\\(0[0-7]{0,2}|[1-7][0-7]{1,2})", src[i:])
        if octal:
            self.i += octal.end()
            return int(octal.group(1), 8)
        if c.isascii() and not c.isalnum():
            self.i += 2
            return ord(c)
        raise self.fail("invalid escape sequence", src[i : i + 2])

    def char_class(self) -> str:
        """`[...]` at self.i as one Python class, its ranges computed as Go computes them."""
        src, start = self.src, self.i
        self.i += 1
        negate = src.startswith("^", self.i)
        if negate:
            self.i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            if self.i >= len(src):
                raise self.fail("missing closing ]", src[start:])
            c = src[self.i]
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            posix = re.match(r"\[:(\^?)([a-z]+):\]", src[self.i :])
            if posix:
                if posix.group(2) not in _POSIX:
                    raise self.fail("invalid character class range", posix.group(0))
                named = list(_POSIX[posix.group(2)])
                ranges += _negate(named) if posix.group(1) else named
                self.i += posix.end()
                continue
            if c == "\\" and self.i + 1 < len(src) and (found := self.class_escape()) is not None:
                ranges += found
                continue
            range_start = self.i
            low = self.class_char()
            high = low
            if src.startswith("-", self.i) and self.i + 1 < len(src) and src[self.i + 1] != "]":
                self.i += 1
                high = self.class_char()
                if high < low:
                    raise self.fail("invalid character class range", src[range_start : self.i])
            ranges.append((low, high))
        if "i" in self.flags:
            ranges = _fold(ranges)
        return _class(_negate(ranges) if negate else ranges)

    def class_char(self) -> int:
        src = self.src
        if src[self.i] == "\\":
            if self.i + 1 >= len(src):
                raise self.fail("missing closing ]", src)
            return self.char_escape()
        self.i += 1
        return ord(self.rune(self.i - 1))


def _fold(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A class under (?i): each letter with its other cases, as Go's simple folding adds them."""
    out = list(ranges)
    for lo, hi in ranges:
        if hi - lo > 0x3000:  # a huge range: its case variants are almost all inside it already
            continue
        for code in range(lo, hi + 1):
            ch = chr(code)
            for other in {ch.lower(), ch.upper(), ch.title()}:
                if len(other) == 1 and other != ch:
                    out.append((ord(other), ord(other)))
    return out


@cache
def compile_go(pattern: str) -> GoRegexp:
    """regexp.Compile: the pattern translated and compiled, or RegexpError with Go's wording."""
    if sys.getrecursionlimit() < 100:  # pragma: no cover - never in a normal interpreter
        raise RegexpError("expression nests too deeply", pattern)
    return _Translator(pattern).translate()


def _extract(template: str) -> tuple[str, int, str] | None:
    """regexp.go extract: `name` or `{name}` after a `$`, its number (-1: a name), the rest."""
    brace = template.startswith("{")
    s = template[1:] if brace else template
    i = 0
    while i < len(s) and (
        unicodedata.category(s[i])[0] == "L" or unicodedata.category(s[i]) == "Nd" or s[i] == "_"
    ):
        i += 1
    if i == 0:
        return None
    name = s[:i]
    if brace:
        if i >= len(s) or s[i] != "}":
            return None
        i += 1
    num = int(name) if name.isascii() and name.isdigit() and len(name) < 9 else -1
    if name[0] == "0" and len(name) > 1:
        num = -1
    return name, num, s[i:]


def _expand(template: str, match: re.Match[str], names: tuple[str, ...]) -> str:
    """Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; an unknown group is empty."""
    out: list[str] = []
    while True:
        before, dollar, template = template.partition("$")
        out.append(before)
        if not dollar:
            return "".join(out)
        if template.startswith("$"):
            out.append("$")
            template = template[1:]
            continue
        found = _extract(template)
        if found is None:
            out.append("$")
            continue
        name, num, template = found
        if num >= 0:
            if num < len(names):
                out.append(match.group(num) or "")
            continue
        # the first group of that name that took part in the match (Go allows a name twice)
        out.append(
            next(
                (match.group(i) for i, n in enumerate(names) if n == name and match.group(i) is not None), ""
            )
        )


def replace_all(regexp: GoRegexp, src: str, template: str) -> str:
    """Regexp.ReplaceAllString: every match replaced by the expanded template; an empty match
    that touches the previous match's end is left alone, and the search always moves on."""
    out: list[str] = []
    last_end = search = 0
    needs_expand = "$" in template
    while search <= len(src):
        match = regexp.pattern.search(src, search)
        if match is None:
            break
        start, end = match.span()
        out.append(src[last_end:start])
        if end > last_end or start == 0:
            out.append(_expand(template, match, regexp.names) if needs_expand else template)
        last_end = end
        search = search + 1 if search + 1 > end else end
    out.append(src[last_end:])
    return "".join(out)
