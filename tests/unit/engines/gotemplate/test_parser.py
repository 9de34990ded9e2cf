"""The parser against Go's parse_test.go tables: printed trees, number constants, error messages."""

from __future__ import annotations

import pytest

from confpy._go.strconv import SyntaxErr
from confpy.engines.gotemplate.lexer import ItemType
from confpy.engines.gotemplate.parser import ParseError, new_number, parse_trees
from confpy.errors import TemplateError

FUNCS = ["contains"]

# (name, input, printed tree) from Go's parseTests.
GOOD = [
    ("empty", "", ""),
    ("comment", "{{/*\n\n\n*/}}", ""),
    ("spaces", " \t\n", '" \\t\\n"'),
    ("text", "some text", '"some text"'),
    ("field", "{{.X}}", "{{.X}}"),
    ("simple command", "{{printf}}", "{{printf}}"),
    ("$ invocation", "{{$}}", "{{$}}"),
    ("variable invocation", "{{with $x := 3}}{{$x 23}}{{end}}", "{{with $x := 3}}{{$x 23}}{{end}}"),
    ("variable with fields", "{{$.I}}", "{{$.I}}"),
    ("multi-word command", "{{printf `%d` 23}}", "{{printf `%d` 23}}"),
    ("pipeline", "{{.X|.Y}}", "{{.X | .Y}}"),
    ("pipeline with decl", "{{$x := .X|.Y}}", "{{$x := .X | .Y}}"),
    ("nested pipeline", "{{.X (.Y .Z) (.A | .B .C) (.E)}}", "{{.X (.Y .Z) (.A | .B .C) (.E)}}"),
    ("field applied to parentheses", "{{(.Y .Z).Field}}", "{{(.Y .Z).Field}}"),
    ("simple if", "{{if .X}}hello{{end}}", '{{if .X}}"hello"{{end}}'),
    ("if with else", "{{if .X}}true{{else}}false{{end}}", '{{if .X}}"true"{{else}}"false"{{end}}'),
    (
        "if with else if",
        "{{if .X}}true{{else if .Y}}false{{end}}",
        '{{if .X}}"true"{{else}}{{if .Y}}"false"{{end}}{{end}}',
    ),
    (
        "if else chain",
        "+{{if .X}}X{{else if .Y}}Y{{else if .Z}}Z{{end}}+",
        '"+"{{if .X}}"X"{{else}}{{if .Y}}"Y"{{else}}{{if .Z}}"Z"{{end}}{{end}}{{end}}"+"',
    ),
    (
        "with else with",
        "{{with .X}}X{{else with .Y}}Y{{else}}Z{{end}}",
        '{{with .X}}"X"{{else}}{{with .Y}}"Y"{{else}}"Z"{{end}}{{end}}',
    ),
    ("simple range", "{{range .X}}hello{{end}}", '{{range .X}}"hello"{{end}}'),
    ("chained field range", "{{range .X.Y.Z}}hello{{end}}", '{{range .X.Y.Z}}"hello"{{end}}'),
    (
        "nested range",
        "{{range .X}}hello{{range .Y}}goodbye{{end}}{{end}}",
        '{{range .X}}"hello"{{range .Y}}"goodbye"{{end}}{{end}}',
    ),
    ("range with else", "{{range .X}}true{{else}}false{{end}}", '{{range .X}}"true"{{else}}"false"{{end}}'),
    (
        "range over pipeline",
        "{{range .X|.M}}true{{else}}false{{end}}",
        '{{range .X | .M}}"true"{{else}}"false"{{end}}',
    ),
    ("range 1 var", "{{range $x := .SI}}{{.}}{{end}}", "{{range $x := .SI}}{{.}}{{end}}"),
    ("range 2 vars", "{{range $x, $y := .SI}}{{.}}{{end}}", "{{range $x, $y := .SI}}{{.}}{{end}}"),
    ("range with break", "{{range .SI}}{{.}}{{break}}{{end}}", "{{range .SI}}{{.}}{{break}}{{end}}"),
    ("range with continue", "{{range .SI}}{{.}}{{continue}}{{end}}", "{{range .SI}}{{.}}{{continue}}{{end}}"),
    (
        "constants",
        "{{range .SI 1 -3.2i true false 'a' nil}}{{end}}",
        "{{range .SI 1 -3.2i true false 'a' nil}}{{end}}",
    ),
    ("template", "{{template `x`}}", '{{template "x"}}'),
    ("template with arg", "{{template `x` .Y}}", '{{template "x" .Y}}'),
    ("with", "{{with .X}}hello{{end}}", '{{with .X}}"hello"{{end}}'),
    (
        "with with else",
        "{{with .X}}hello{{else}}goodbye{{end}}",
        '{{with .X}}"hello"{{else}}"goodbye"{{end}}',
    ),
    ("trim left", "x \r\n\t{{- 3}}", '"x"{{3}}'),
    ("trim right", "{{3 -}}\n\n\ty", '{{3}}"y"'),
    ("trim left and right", "x \r\n\t{{- 3 -}}\n\n\ty", '"x"{{3}}"y"'),
    ("trim with extra spaces", "x\n{{-  3   -}}\ny", '"x"{{3}}"y"'),
    ("comment trim left", "x \r\n\t{{- /* hi */}}", '"x"'),
    ("comment trim right", "{{/* hi */ -}}\n\n\ty", '"y"'),
    ("comment trim left and right", "x \r\n\t{{- /* */ -}}\n\n\ty", '"x""y"'),
    ("block definition", '{{block "foo" .}}hello{{end}}', '{{template "foo" .}}'),
    ("newline in assignment", "{{ $x \n := \n 1 \n }}", "{{$x := 1}}"),
    ("newline in pipeline", '{{\n"x"\n|\nprintf\n}}', '{{"x" | printf}}'),
    ("newline in comment", "{{/*\nhello\n*/}}", ""),
    ("newline in trimmed comment", "{{-\n/*\nhello\n*/\n-}}", ""),
    (
        "spaces around continue",
        "{{range .SI}}{{.}}{{ continue }}{{end}}",
        "{{range .SI}}{{.}}{{continue}}{{end}}",
    ),
    ("bug0a", "{{$x := 0}}{{$x}}", "{{$x := 0}}{{$x}}"),
    ("bug1c", "{{$x:=.}}{{$x +2}}", "{{$x := .}}{{$x +2}}"),
]

BAD = [
    "{{}}",
    "{{\n}}",
    "hello{{range",
    "{{end}}",
    "{{else}}",
    "{{if .X}}hello{{end}}{{else}}",
    "{{if .X}}1{{else}}2{{else}}3{{end}}",
    "hello{{range .x}}",
    "hello{{range .x}}{{else}}",
    "hello{{undefined}}",
    "{{$x}}",
    "{{with $x := 4}}{{end}}{{$x}}",
    "{{template $v}}",
    "{{with $x.Y := 4}}{{end}}",
    "{{template .X}}",
    "{{printf 3, 4}}",
    "{{with $v, $u := 3}}{{end}}",
    "{{range $u, $v, $w := 3}}{{end}}",
    "{{printf (printf .).}}",
    "{{printf 3`x`}}",
    "{{printf `x`.}}",
    "{{if .X}}a{{else if .Y}}b{{end}}{{end}}",
    "{{range .}}{{end}} {{break}}",
    "{{range .}}{{end}} {{continue}}",
    "{{range .}}{{else}}{{break}}{{end}}",
    "{{range .}}{{else}}{{continue}}{{end}}",
    "{{$x += 1}}{{$x}}",
    "{{$x ! 2}}{{$x}}",
    "{{$x % 3}}{{$x}}",
    "{{range $x := $y := 3}}{{end}}",
    "{{$x:=.}}{{$x!2}}",
    "{{$x:=.}}{{$x+2}}",
    "{{1.E}}",
    "{{0.1.E}}",
    "{{true.E}}",
    "{{'a'.any}}",
    '{{"hello".guys}}',
    "{{..E}}",
    "{{nil.E}}",
    "{{12|.}}",
    "{{.|12|printf}}",
    '{{.|printf|"error"}}',
    "{{12|printf|'e'}}",
    "{{.|true}}",
    "{{'c'|nil}}",
    '{{printf "%d" ( ) }}',
    '{{block "foo"}}hello{{end}}',
]

# (name, input, the whole message) from Go's errorTests, completed with Go's prefix.
ERRORS = [
    ("unclosed1", "line1\n{{", "template: unclosed1:2: unclosed action"),
    ("unclosed2", "line1\n{{define `x`}}line2\n{{", "template: unclosed2:3: unclosed action"),
    ("unclosed3", 'line1\n{{"x"\n"y"\n', "template: unclosed3:4: unclosed action started at unclosed3:2"),
    ("unclosed4", "{{\n\n\n\n\n", "template: unclosed4:6: unclosed action started at unclosed4:1"),
    ("var1", "line1\n{{\nx\n}}", 'template: var1:3: function "x" not defined'),
    ("comment1", "{{/*}}", "template: comment1:1: unclosed comment"),
    ("comment2", "{{/*\nhello\n}}", "template: comment2:1: unclosed comment"),
    ("lparen", "{{.X (1 2 3}}", "template: lparen:1: unclosed left paren"),
    ("rparen", "{{.X 1 2 3 ) }}", 'template: rparen:1: unexpected ")" in command'),
    ("space", "{{`x`3}}", 'template: space:1: unexpected "3" in operand'),
    ("idchar", "{{a#}}", "template: idchar:1: bad character U+0023 '#'"),
    ("number", "{{0xi}}", 'template: number:1: illegal number syntax: "0xi"'),
    (
        "multidefine",
        "{{define `a`}}a{{end}}{{define `a`}}b{{end}}",
        'template: multidefine:1: template: multiple definition of template "a"',
    ),
    ("eof", "{{range .X}}", "template: eof:1: unexpected EOF"),
    (
        "variable",
        "{{$x := 23}}{{with $x.y := 3}}{{$x 23}}{{end}}",
        'template: variable:1: unexpected ":=" in operand',
    ),
    ("multidecl", "{{$a,$b,$c := 23}}", "template: multidecl:1: too many declarations in command"),
    ("undefvar", "{{$a}}", 'template: undefvar:1: undefined variable "$a"'),
    ("wrongdot", "{{true.any}}", 'template: wrongdot:1: unexpected . after term "true"'),
    (
        "wrongpipeline",
        "{{12|false}}",
        "template: wrongpipeline:1: non executable command in pipeline stage 2",
    ),
    ("emptypipeline", "{{ ( ) }}", "template: emptypipeline:1: missing value for parenthesized pipeline"),
    ("multilinerawstring", "{{ $v := `\n` }} {{", "template: multilinerawstring:2: unclosed action"),
    ("rangemissingvalue1", "{{range $k,}}{{end}}", "template: rangemissingvalue1:1: missing value for range"),
    (
        "rangenotvariable1",
        "{{range $k, .}}{{end}}",
        "template: rangenotvariable1:1: range can only initialize variables",
    ),
    ("badstring", '{{"\\q"}}', "template: badstring:1: invalid syntax"),
    ("charconst", "{{'ab'}}", "template: charconst:1: malformed character constant: 'ab'"),
    (
        "overflow",
        "{{99999999999999999999}}",
        'template: overflow:1: integer overflow: "99999999999999999999"',
    ),
    ("breakout", "{{break}}", "template: breakout:1: {{break}} outside {{range}}"),
    ("badelse", "{{range .}}{{else if .}}{{end}}", "template: badelse:1: unexpected <if> in input"),
]


@pytest.mark.parametrize(("name", "text", "printed"), GOOD, ids=[g[0] for g in GOOD])
def test_tree_prints_back_as_go_does(name: str, text: str, printed: str) -> None:
    trees = parse_trees(text, name, FUNCS)
    assert str(trees[name]) == printed


@pytest.mark.parametrize("text", BAD)
def test_bad_templates_do_not_parse(text: str) -> None:
    with pytest.raises(TemplateError, match=r"^template: bad:\d+: "):
        parse_trees(text, "bad", FUNCS)


@pytest.mark.parametrize(("name", "text", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_error_messages_are_gos(name: str, text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse_trees(text, name, FUNCS)
    assert str(info.value) == message


def test_defines_and_blocks_become_named_trees() -> None:
    trees = parse_trees('{{define "a"}}A{{end}}x{{block "b" .}}B{{template "a"}}{{end}}', "top", [])
    assert {k: str(v) for k, v in trees.items()} == {
        "a": '"A"',
        "b": '"B"{{template "a"}}',
        "top": '"x"{{template "b" .}}',
    }


def test_an_empty_redefinition_is_allowed() -> None:
    trees = parse_trees('{{define "a"}}A{{end}}{{define "a"}} {{end}}', "top", [])
    assert str(trees["a"]) == '"A"'


def test_unknown_functions_are_parse_errors_but_given_names_are_not() -> None:
    assert str(parse_trees("{{getv `/k`}}", "t", ["getv"])["t"]) == "{{getv `/k`}}"
    with pytest.raises(TemplateError, match='function "getv" not defined'):
        parse_trees("{{getv `/k`}}", "t", [])


# (text, is_int, is_uint, is_float, is_complex, int, float, complex) from Go's numberTests.
NUMBERS = [
    ("0", True, True, True, False, 0, 0.0, 0j),
    ("-0", True, True, True, False, 0, 0.0, 0j),
    ("73", True, True, True, False, 73, 73.0, 0j),
    ("7_3", True, True, True, False, 73, 73.0, 0j),
    ("0b10_010_01", True, True, True, False, 73, 73.0, 0j),
    ("073", True, True, True, False, 0o73, 0o73, 0j),
    ("0o73", True, True, True, False, 0o73, 0o73, 0j),
    ("0x7_3", True, True, True, False, 0x73, 0x73, 0j),
    ("-73", True, False, True, False, -73, -73.0, 0j),
    ("1e9", True, True, True, False, 10**9, 1e9, 0j),
    ("-1.2", False, False, True, False, 0, -1.2, 0j),
    ("1e19", False, True, True, False, 0, 1e19, 0j),
    ("1e1_9", False, True, True, False, 0, 1e19, 0j),
    ("0x_1p4", True, True, True, False, 16, 16.0, 0j),
    ("0x_1p-4", False, False, True, False, 0, 1 / 16, 0j),
    ("4i", False, False, False, True, 0, 0.0, 4j),
    ("-1.2+4.2i", False, False, False, True, 0, 0.0, -1.2 + 4.2j),
    ("073i", False, False, False, True, 0, 0.0, 73j),
    ("0i", True, True, True, True, 0, 0.0, 0j),
    ("-12+0i", True, False, True, True, -12, -12.0, -12 + 0j),
    ("0xdeadbeef", True, True, True, False, 0xDEADBEEF, float(0xDEADBEEF), 0j),
    ("'a'", True, True, True, False, 97, 97.0, 0j),
    ("'\\n'", True, True, True, False, 10, 10.0, 0j),
    ("'\\xFF'", True, True, True, False, 255, 255.0, 0j),
    ("'パ'", True, True, True, False, 0x30D1, float(0x30D1), 0j),
    ("'\\U000030d1'", True, True, True, False, 0x30D1, float(0x30D1), 0j),
    ("0xef", True, True, True, False, 0xEF, float(0xEF), 0j),
]


@pytest.mark.parametrize("case", NUMBERS, ids=[c[0] for c in NUMBERS])
def test_number_constants(case: tuple[str, bool, bool, bool, bool, int, float, complex]) -> None:
    text, is_int, is_uint, is_float, is_complex, as_int, as_float, as_complex = case
    typ = ItemType.NUMBER
    if text[0] == "'":
        typ = ItemType.CHAR_CONSTANT
    elif text.endswith("i") and ("+" in text[1:] or "-" in text[1:]):
        typ = ItemType.COMPLEX
    num = new_number(0, text, typ)
    assert (num.is_int, num.is_uint, num.is_float, num.is_complex) == (is_int, is_uint, is_float, is_complex)
    if is_int:
        assert num.as_int == as_int
    if is_float:
        assert num.as_float == as_float
    if is_complex:
        assert num.as_complex == as_complex


@pytest.mark.parametrize(
    "text", ["+-2", "0x123.", "1e.", "1+2.", "'x", "'xx'", "'433937734937734969526500969526500'"]
)
def test_broken_numbers(text: str) -> None:
    typ = ItemType.CHAR_CONSTANT if text[0] == "'" else ItemType.NUMBER
    with pytest.raises((ValueError, SyntaxErr, ParseError)):
        new_number(0, text, typ)
