"""The lexer against Go's lex_test.go cases: token streams, trim markers, errors, lines."""

from __future__ import annotations

import pytest

from confpy.engines.gotemplate.lexer import ItemType, format_rune, lex

T = ItemType


def kinds(text: str) -> list[tuple[int, str]]:
    return [(i.typ, i.val) for i in lex(text)]


def test_text_only() -> None:
    assert kinds("now is the time") == [(T.TEXT, "now is the time"), (T.EOF, "")]


def test_action_tokens() -> None:
    assert kinds('{{$x := printf "%d" 3 | .A.b}}') == [
        (T.LEFT_DELIM, "{{"),
        (T.VARIABLE, "$x"),
        (T.SPACE, " "),
        (T.DECLARE, ":="),
        (T.SPACE, " "),
        (T.IDENTIFIER, "printf"),
        (T.SPACE, " "),
        (T.STRING, '"%d"'),
        (T.SPACE, " "),
        (T.NUMBER, "3"),
        (T.SPACE, " "),
        (T.PIPE, "|"),
        (T.SPACE, " "),
        (T.FIELD, ".A"),
        (T.FIELD, ".b"),
        (T.RIGHT_DELIM, "}}"),
        (T.EOF, ""),
    ]


def test_keywords_and_literals() -> None:
    text = "{{range if else end with define template block break continue nil true . $ 'a' `r` 1+2i (x)}}"
    types = [t for t, _ in kinds(text) if t != T.SPACE]
    assert types == [
        T.LEFT_DELIM,
        T.RANGE,
        T.IF,
        T.ELSE,
        T.END,
        T.WITH,
        T.DEFINE,
        T.TEMPLATE,
        T.BLOCK,
        T.BREAK,
        T.CONTINUE,
        T.NIL,
        T.BOOL,
        T.DOT,
        T.VARIABLE,
        T.CHAR_CONSTANT,
        T.RAW_STRING,
        T.COMPLEX,
        T.LEFT_PAREN,
        T.IDENTIFIER,
        T.RIGHT_PAREN,
        T.RIGHT_DELIM,
        T.EOF,
    ]


def test_break_is_an_identifier_when_a_function_has_the_name() -> None:
    assert lex("{{break}}", break_ok=False)[1].typ == T.IDENTIFIER


@pytest.mark.parametrize(
    "text",
    [
        "{{3}}",
        "{{-3}}",
        "{{+3}}",
        "{{0x1F}}",
        "{{0o17}}",
        "{{0b101}}",
        "{{1_000}}",
        "{{1e3}}",
        "{{.5}}",
        "{{0x1p-2}}",
    ],
)
def test_numbers(text: str) -> None:
    assert kinds(text)[1] == (T.NUMBER, text[2:-2])


def test_trim_markers_need_a_space() -> None:
    assert kinds("x \n {{- 3 -}} \n y") == [
        (T.TEXT, "x"),
        (T.LEFT_DELIM, "{{"),
        (T.NUMBER, "3"),
        (T.RIGHT_DELIM, "}}"),
        (T.TEXT, "y"),
        (T.EOF, ""),
    ]
    assert kinds("x {{-3}}")[:3] == [(T.TEXT, "x "), (T.LEFT_DELIM, "{{"), (T.NUMBER, "-3")]


def test_comments_vanish_with_their_trim_markers() -> None:
    assert kinds("a {{- /* comment */ -}} b") == [(T.TEXT, "a"), (T.TEXT, "b"), (T.EOF, "")]
    assert kinds("a{{/* c */}}b") == [(T.TEXT, "a"), (T.TEXT, "b"), (T.EOF, "")]


def test_spaces_before_a_trimmed_right_delimiter() -> None:
    assert kinds("{{3   -}}") == [
        (T.LEFT_DELIM, "{{"),
        (T.NUMBER, "3"),
        (T.SPACE, "  "),
        (T.RIGHT_DELIM, "}}"),
        (T.EOF, ""),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{", "unclosed action"),
        ("{{/*", "unclosed comment"),
        ("{{/* x */ y}}", "comment ends before closing delimiter"),
        ("{{ x ) }}", "unexpected right paren U+0029 ')'"),
        ("{{ (x }}", "unclosed left paren"),
        ('{{"abc}}', "unterminated quoted string"),
        ("{{`abc}}", "unterminated raw quoted string"),
        ("{{'a}}", "unterminated character constant"),
        ("{{3k}}", 'bad number syntax: "3k"'),
        ("{{a#}}", "bad character U+0023 '#'"),
        ("{{ : }}", "expected :="),
        ("{{\x01}}", "unrecognized character in action: U+0001"),
    ],
)
def test_errors_end_the_stream(text: str, message: str) -> None:
    items = lex(text)
    assert items[-1].typ == T.ERROR
    assert items[-1].val == message


def test_lines_count_newlines_in_text_and_actions() -> None:
    items = lex("a\nb{{\n.x\n}}\nc")
    assert [(i.typ, i.line) for i in items] == [
        (T.TEXT, 1),
        (T.LEFT_DELIM, 2),
        (T.SPACE, 2),
        (T.FIELD, 3),
        (T.SPACE, 3),
        (T.RIGHT_DELIM, 4),
        (T.TEXT, 4),
        (T.EOF, 5),
    ]


def test_item_str_is_gos() -> None:
    items = lex('{{if "a long string value"}}')
    assert str(items[1]) == "<if>"
    assert str(items[3]) == '"\\"a long st"...'
    assert str(lex("")[0]) == "EOF"
    assert format_rune("$") == "U+0024 '$'"
