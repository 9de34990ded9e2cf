"""Go's RE2 syntax on Python's re (confpy/_go/regexp.py): where the two syntaxes differ.

The expected values are what Go's regexp gives (Go 1.19, the judge of
tests/system/engines/test_fork_functions_go.py, and Go 1.22's parse.go for named groups written
`(?<name>...)`, which the fork's Go 1.25 accepts).
"""

from __future__ import annotations

import pytest

from confpy._go.regexp import RegexpError, compile_go, replace_all


def _find(pattern: str, text: str) -> str | None:
    match = compile_go(pattern).pattern.search(text)
    return None if match is None else match.group(0)


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("a$", "a\n", None),  # Go's $ is the end of the text; Python's matches before a final newline
        ("(?m)a$", "a\nb", "a"),
        (r"\d+", "x\u0661" + "23", "23"),  # ASCII digits only, not ARABIC-INDIC ONE
        (r"\bé", "é é", None),  # \b is ASCII: é is no word character
        ("(?i)k", "\u212a", "\u212a"),  # the Kelvin sign folds to k
        ("a{,2}", "a{,2}", "a{,2}"),  # not a repeat in Go: literal text
        (r"\Qa.b\E", "axb a.b", "a.b"),
        (r"\x{e9}", "é", "é"),
        ("[[:alpha:]]+", "ab1", "ab"),
        (r"\pL+", "éa1", "éa"),
        (r"\p{Lu}", "aB", "B"),
        ("(?U)a+", "aaa", "a"),  # ungreedy: + is lazy, +? greedy
        ("(?U)a+?", "aaa", "aaa"),
        ("a(?i)b|c", "aB C", "aB"),  # (?i) applies to the rest of the group, across |
        (r"\s", "a\vb\tc", "\t"),  # Go's \s has no \v
        ("(?s)a.b", "a\nb", "a\nb"),
        (r"\z", "ab", ""),
        (r"\101\x41", "AA", "AA"),
        ("(?<year>[0-9]{4})", "in 2026", "2026"),  # Go 1.22
        ("(?P<1>a)", "a", "a"),  # Go allows any word characters as a name
        ("(?P<n>a)(?P<n>b)", "ab", "ab"),  # and a name twice
        ("[^\\D5]", "567", "6"),
        ("\\A*x", "x", "x"),  # Go repeats an assertion, Python would refuse
        ("a{2}(?i){2}", "aaaa", "aaaa"),  # a repeat of a repeat, across a flag group
    ],
)
def test_go_meaning(pattern: str, text: str, found: str | None) -> None:
    assert _find(pattern, text) == found


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("a**", "invalid nested repetition operator: `**`"),
        ("a+*?", "invalid nested repetition operator: `+*?`"),
        ("(?=a)", "invalid or unsupported Perl syntax: `(?=`"),
        ("(?<=a)", "invalid named capture: `(?<=a)`"),  # Go 1.22: `(?<` starts a name
        (r"\1", r"invalid escape sequence: `\1`"),
        (r"\e", r"invalid escape sequence: `\e`"),
        ("a{1001}", "invalid repeat count: `{1001}`"),
        ("[z-a]", "invalid character class range: `z-a`"),
        ("(", "missing closing ): `(`"),
        ("a)", "unexpected ): `a)`"),
        ("[a", "missing closing ]: `[a`"),
        ("*", "missing argument to repetition operator: `*`"),
        ("\\", "trailing backslash at end of expression: ``"),
        (r"\p{Foo}", r"invalid character class range: `\p{Foo}`"),
        ("a\udcff", "invalid UTF-8: `\udcff`"),  # a byte that is not UTF-8
        (r"\p{Greek}", r"Unicode scripts are not supported by confpy (only general categories): `\p{Greek}`"),
    ],
)
def test_refused_with_go_s_words(pattern: str, error: str) -> None:
    with pytest.raises(RegexpError) as caught:
        compile_go(pattern)
    assert str(caught.value) == f"error parsing regexp: {error}"


@pytest.mark.parametrize(
    ("pattern", "text", "template", "result"),
    [
        ("x*", "abc", "-", "-a-b-c-"),  # an empty match right after a match is not replaced
        (r"(\w)(\w)", "abcd", "$2$1", "badc"),
        (r"(\w+)", "ab", "$1x", ""),  # $1x names the group "1x": none, so empty
        (r"(\w+)", "ab", "${1}x", "abx"),
        (r"(?P<first>\w)", "ab", "${first}$$", "a$b$"),
        ("a", "a", "$", "$"),  # a $ that names nothing stays
        ("a", "a", "$01", ""),  # a leading zero makes it a name
        ("a", "a", r"\0", r"\0"),  # backslashes are plain text
        ("(?P<n>a)|(?P<n>b)", "b", "[$n]", "[b]"),  # the first group of that name that matched
    ],
)
def test_replace_all(pattern: str, text: str, template: str, result: str) -> None:
    assert replace_all(compile_go(pattern), text, template) == result
