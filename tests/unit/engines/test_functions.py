"""confd's template functions: each against Go's and confd's documented behaviour."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import jinja2
import pytest

from confpy.engines.functions import FILTER_NAMES, SEQ_LIMIT, make_functions
from confpy.errors import FunctionError, KeyNotFoundError, TemplateError
from confpy.store import KeyStore, KVPair

INT_MAX = (1 << 63) - 1
INT_MIN = -(1 << 63)

STORE_NAMES = {"get", "gets", "getv", "getvs", "exists", "ls", "lsdir"}
PURE_NAMES = {
    "base", "dir", "split", "join", "json", "jsonArray", "map", "datetime", "toUpper", "toLower",
    "contains", "replace", "trimSuffix", "lookupIP", "lookupIPV4", "lookupIPV6", "lookupSRV",
    "fileExists", "base64Encode", "base64Decode", "parseBool", "reverse", "sortByLength",
    "sortKVByLength", "add", "sub", "mul", "div", "mod", "seq", "atoi", "getenv",
}  # fmt: skip

F = make_functions(KeyStore())


def call(name: str, *args: Any) -> Any:
    return F[name](*args)


# --- the function map ----------------------------------------------------------------------------


def test_make_functions_has_exactly_confds_names() -> None:
    assert set(F) == STORE_NAMES | PURE_NAMES


def test_filter_names() -> None:
    assert {
        "base", "dir", "split", "join", "json", "jsonArray", "toUpper", "toLower", "contains",
        "replace", "trimSuffix", "base64Encode", "base64Decode", "parseBool", "reverse",
        "sortByLength", "sortKVByLength", "atoi",
    } == FILTER_NAMES  # fmt: skip
    assert isinstance(FILTER_NAMES, frozenset)
    assert set(F) >= FILTER_NAMES


def test_store_functions_read_the_store_they_were_made_with() -> None:
    one = make_functions(KeyStore({"/app/a": "1", "/app/b/c": "2"}))
    two = make_functions(KeyStore({"/app/a": "other"}))
    assert one["get"]("/app/a") == KVPair("/app/a", "1")
    assert two["getv"]("/app/a") == "other"
    assert one["getv"]("/missing", "dflt") == "dflt"
    assert one["gets"]("/app/*") == [KVPair("/app/a", "1")]
    assert one["getvs"]("/app/*") == ["1"]
    assert one["exists"]("/app/a") and not two["exists"]("/app/b/c")
    assert one["ls"]("/app") == ["a", "b"]
    assert one["lsdir"]("/app") == ["b"]
    with pytest.raises(KeyNotFoundError, match="key does not exist: /app/b"):
        one["get"]("/app/b")


def test_store_functions_see_later_changes_to_the_store() -> None:
    store = KeyStore()
    functions = make_functions(store)
    store.set("/k", "v")
    assert functions["getv"]("/k") == "v"


def test_pure_functions_are_shared_between_calls() -> None:
    again = make_functions(KeyStore())
    assert all(again[name] is F[name] for name in PURE_NAMES)
    assert again is not F


def test_functions_work_as_jinja_globals_and_filters() -> None:
    env = jinja2.Environment()
    functions = make_functions(KeyStore({"/hosts/a": "10.0.0.1", "/hosts/b": "10.0.0.2"}))
    env.globals.update(functions)
    env.filters.update({name: functions[name] for name in FILTER_NAMES})
    template = env.from_string(
        '{{ getvs("/hosts/*") | join(",") }} {{ "a/b/c" | base }} {{ "x.y" | split(".") | reverse | join }}'
        ' {{ "aGk=" | base64Decode | toUpper }} {{ "aXa" | replace("X", "-") }}'
        ' {{ gets("/hosts/*") | map(attribute="Key") | map("base") | join("+") }}'
        ' {{ add(atoi("2"), 3) }} {{ (\'{"p": 8080}\' | json).p }}'
    )
    assert template.render() == "10.0.0.1,10.0.0.2 c yx HI a-a a+b 5 8080.0"


# --- paths and strings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "want"),
    [("", "."), ("/", "/"), ("//", "/"), ("/a/b", "b"), ("/a/b/", "b"), ("a", "a"), ("/a/b.conf", "b.conf")],
)
def test_base(path: str, want: str) -> None:
    assert call("base", path) == want


@pytest.mark.parametrize(
    ("path", "want"),
    [("", "."), ("/", "/"), ("/a", "/"), ("/a/b", "/a"), ("/a/b/", "/a/b"), ("a", "."), ("a//b", "a")],
)
def test_dir(path: str, want: str) -> None:
    assert call("dir", path) == want


@pytest.mark.parametrize(
    ("s", "sep", "want"),
    [
        ("a,b,c", ",", ["a", "b", "c"]),
        ("a,b,", ",", ["a", "b", ""]),
        (",", ",", ["", ""]),
        ("", ",", [""]),
        ("abc", "x", ["abc"]),
        ("a--b--c", "--", ["a", "b", "c"]),
        ("abc", "abc", ["", ""]),
        ("abc", "", ["a", "b", "c"]),
        ("a☺b", "", ["a", "☺", "b"]),
        ("", "", []),
        ("10.0.0.1:80", ":", ["10.0.0.1", "80"]),
    ],
)
def test_split_is_go_strings_split(s: str, sep: str, want: list[str]) -> None:
    assert call("split", s, sep) == want


def _gen() -> Iterator[str]:
    yield from ("x", "y")


@pytest.mark.parametrize(
    ("elems", "sep", "want"),
    [
        (["a", "b", "c"], ",", "a,b,c"),
        (["a"], ",", "a"),
        ([], ",", ""),
        (["", ""], ",", ","),
        (("a", "b"), ", ", "a, b"),
        (_gen(), "-", "x-y"),
    ],
)
def test_join_is_go_strings_join(elems: Any, sep: str, want: str) -> None:
    assert call("join", elems, sep) == want


def test_join_separator_defaults_to_empty_as_jinjas_join_does() -> None:
    assert call("join", ["a", "b"]) == "ab"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((["a", 1], ","), "join: expected a list of strings, but it holds int 1"),
        (("abc", ","), "join: expected a list of strings, got str"),
        ((None, ","), "join: expected a list of strings, got NoneType"),
        (({"a": "b"}, ","), "join: expected a list of strings, got dict"),
        ((["a"], 1), "join: argument 2 must be a string, got int 1"),
    ],
)
def test_join_rejects_what_go_would_refuse(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        call("join", *args)


@pytest.mark.parametrize(
    ("s", "upper", "lower"),
    [
        ("", "", ""),
        ("Hello, World 1!", "HELLO, WORLD 1!", "hello, world 1!"),
        ("straße", "STRAßE", "straße"),  # Go keeps ß; Python's full mapping gives "SS"
        ("ﬁ", "ﬁ", "ﬁ"),  # Python: "FI"
        ("ŉ", "ŉ", "ŉ"),  # Python: "ʼN"
        ("ᾳ", "ᾼ", "ᾳ"),  # Go's simple mapping; Python: "ΑΙ"
        ("ǅ", "Ǆ", "ǆ"),
        ("ÿé", "ŸÉ", "ÿé"),
        ("ΟΔΟΣ", "ΟΔΟΣ", "οδοσ"),  # no final-sigma rule in Go; Python lowers to "οδος"
        ("İ", "İ", "i"),  # Go: i; Python: "i̇" (two characters)
        ("Ǆ", "Ǆ", "ǆ"),
    ],
)
def test_case_mapping_is_gos_simple_mapping(s: str, upper: str, lower: str) -> None:
    assert call("toUpper", s) == upper
    assert call("toLower", s) == lower


@pytest.mark.parametrize(
    ("s", "substr", "want"),
    [
        ("abc", "b", True),
        ("abc", "abc", True),
        ("abc", "", True),
        ("", "", True),
        ("", "a", False),
        ("abc", "B", False),
    ],
)
def test_contains(s: str, substr: str, want: bool) -> None:
    assert call("contains", s, substr) is want


# Go's strings_test.go ReplaceTests.
@pytest.mark.parametrize(
    ("s", "old", "new", "n", "want"),
    [
        ("hello", "l", "L", 0, "hello"),
        ("hello", "l", "L", -1, "heLLo"),
        ("hello", "x", "X", -1, "hello"),
        ("", "x", "X", -1, ""),
        ("radar", "r", "<r>", -1, "<r>ada<r>"),
        ("", "", "<>", -1, "<>"),
        ("banana", "a", "<>", -1, "b<>n<>n<>"),
        ("banana", "a", "<>", 1, "b<>nana"),
        ("banana", "a", "<>", 1000, "b<>n<>n<>"),
        ("banana", "an", "<>", -1, "b<><>a"),
        ("banana", "ana", "<>", -1, "b<>na"),
        ("banana", "", "<>", -1, "<>b<>a<>n<>a<>n<>a<>"),
        ("banana", "", "<>", 10, "<>b<>a<>n<>a<>n<>a<>"),
        ("banana", "", "<>", 6, "<>b<>a<>n<>a<>n<>a"),
        ("banana", "", "<>", 5, "<>b<>a<>n<>a<>na"),
        ("banana", "", "<>", 1, "<>banana"),
        ("banana", "a", "a", -1, "banana"),
        ("banana", "a", "a", 1, "banana"),
        ("☺☻☹", "", "<>", -1, "<>☺<>☻<>☹<>"),
        ("banana", "a", "", -5, "bnn"),
    ],
)
def test_replace_is_go_strings_replace(s: str, old: str, new: str, n: int, want: str) -> None:
    assert call("replace", s, old, new, n) == want


def test_replace_count_defaults_to_all_as_jinjas_replace_does() -> None:
    assert call("replace", "a.b.c", ".", "/") == "a/b/c"


def test_replace_count_must_be_an_int() -> None:
    with pytest.raises(TemplateError, match="replace: argument 4 must be an integer, got str '1'"):
        call("replace", "aa", "a", "b", "1")


@pytest.mark.parametrize(
    ("s", "suffix", "want"),
    [
        ("nginx.conf", ".conf", "nginx"),
        ("a.conf.conf", ".conf", "a.conf"),
        ("abc", "", "abc"),
        ("abc", "abc", ""),
        ("abc", "x", "abc"),
        ("", "x", ""),
        ("abc", "zabc", "abc"),
    ],
)
def test_trim_suffix(s: str, suffix: str, want: str) -> None:
    assert call("trimSuffix", s, suffix) == want


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("toUpper", (5,), "toUpper: argument 1 must be a string, got int 5"),
        ("toLower", (None,), "toLower: argument 1 must be a string, got NoneType None"),
        ("base", (["a"],), "base: argument 1 must be a string, got list"),
        ("dir", (1.5,), "dir: argument 1 must be a string, got float 1.5"),
        ("split", ("a", 1), "split: argument 2 must be a string"),
        ("contains", (1, "a"), "contains: argument 1 must be a string"),
        ("trimSuffix", ("a", None), "trimSuffix: argument 2 must be a string"),
        ("replace", ("a", "a", 1, -1), "replace: argument 3 must be a string"),
        ("base64Encode", (b"x",), "base64Encode: argument 1 must be a string, got bytes"),
        ("json", ({},), "json: argument 1 must be a string, got dict"),
        ("getenv", (1,), "getenv: argument 1 must be a string"),
        ("fileExists", (None,), "fileExists: argument 1 must be a string"),
        ("lookupIP", (127,), "lookupIP: argument 1 must be a string"),
        ("atoi", (1,), "atoi: argument 1 must be a string, got int 1"),
        ("parseBool", (True,), "parseBool: argument 1 must be a string, got bool True"),
    ],
)
def test_string_arguments_are_type_checked(name: str, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace("[", r"\[")):
        call(name, *args)


# --- JSON and maps --------------------------------------------------------------------------------


def test_json_decodes_numbers_as_floats() -> None:
    got = call("json", '{"a": 1, "b": [1, 2.5, "x", false], "c": {"d": null}, "e": true, "f": -0}')
    assert got == {"a": 1.0, "b": [1.0, 2.5, "x", False], "c": {"d": None}, "e": True, "f": 0.0}
    assert type(got["a"]) is float
    assert type(got["b"][0]) is float
    assert type(got["c"]) is dict


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("{}", {}),
        ("null", {}),  # Go: a nil map, which reads as empty
        (' \n{"a" : "b"}\t', {"a": "b"}),
        ('{"a": 1, "a": 2}', {"a": 2.0}),
        ('{"big": 12345678901234567890}', {"big": 1.2345678901234567e19}),
        ('{"e": 1e3, "n": -1.5E-2}', {"e": 1000.0, "n": -0.015}),
        ('{"s": "\\u00e9\\n\\ud83d\\ude00"}', {"s": "é\n😀"}),
        ('{"s": "\\ud800x"}', {"s": "\ufffdx"}),  # Go: a lone surrogate becomes U+FFFD
        ('{"\\udc00": ["\\ud800"]}', {"\ufffd": ["\ufffd"]}),
    ],
)
def test_json_objects(text: str, want: dict[str, Any]) -> None:
    assert call("json", text) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "json: invalid JSON '': Expecting value"),
        ("{", "json: invalid JSON '{'"),
        ("{'a': 1}", "json: invalid JSON"),
        ('{"a": 1} x', "Extra data"),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": Infinity}', "Infinity is not valid JSON"),
        ('{"a": 1e400}', "number 1e400 is out of range"),
        ('{"a": 01}', "json: invalid JSON"),
        ('{"a": "\x01"}', "Invalid control character"),
        ("\ufeff{}", "json: invalid JSON"),
        ("[1, 2]", "json: expected an object, got an array in '\\[1, 2\\]' \\(use jsonArray\\)"),
        ('"text"', "json: expected an object, got a string"),
        ("1", "json: expected an object, got a number"),
        ("true", "json: expected an object, got a boolean"),
    ],
)
def test_json_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        call("json", text)


def test_json_error_shortens_long_input() -> None:
    with pytest.raises(TemplateError) as info:
        call("json", "[" + "1," * 100)
    assert "..." in str(info.value)
    assert len(str(info.value)) < 200


def test_json_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(TemplateError, match="json: invalid JSON"):
        call("json", "[" * 100_000)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('[1, "a", null, {"b": 2}, [true]]', [1.0, "a", None, {"b": 2.0}, [True]]),
        ("[]", []),
        ("null", []),
        ('["10.0.0.1", "10.0.0.2"]', ["10.0.0.1", "10.0.0.2"]),
    ],
)
def test_json_array(text: str, want: list[Any]) -> None:
    assert call("jsonArray", text) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", "jsonArray: expected an array, got an object in '{}' \\(use json\\)"),
        ('"a"', "jsonArray: expected an array, got a string"),
        ("", "jsonArray: invalid JSON"),
        ("[1,]", "jsonArray: invalid JSON"),
    ],
)
def test_json_array_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        call("jsonArray", text)


def test_map_builds_a_dict_from_pairs() -> None:
    assert call("map") == {}
    assert call("map", "a", 1, "b", ["x"], "c", None) == {"a": 1, "b": ["x"], "c": None}
    assert call("map", "a", 1, "a", 2) == {"a": 2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("a",), "map: invalid map call: 1 arguments"),
        (("a", 1, "b"), "map: invalid map call: 3 arguments"),
        ((1, "a"), "map: map keys must be strings, argument 1 is int 1"),
        (("a", 1, None, 2), "map: map keys must be strings, argument 3 is NoneType None"),
    ],
)
def test_map_errors_as_confds_create_map(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        call("map", *args)


# --- time and environment -------------------------------------------------------------------------


def test_datetime_is_now_in_the_local_zone() -> None:
    before = datetime.datetime.now(datetime.UTC)
    got = call("datetime")
    after = datetime.datetime.now(datetime.UTC)
    assert isinstance(got, datetime.datetime)
    assert got.tzinfo is not None
    assert got.utcoffset() == datetime.datetime.now().astimezone().utcoffset()
    assert before <= got <= after


def test_getenv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFPY_TEST_SET", "value")
    monkeypatch.setenv("CONFPY_TEST_EMPTY", "")
    monkeypatch.delenv("CONFPY_TEST_UNSET", raising=False)
    assert call("getenv", "CONFPY_TEST_SET") == "value"
    assert call("getenv", "CONFPY_TEST_SET", "default") == "value"
    assert call("getenv", "CONFPY_TEST_UNSET") == ""
    assert call("getenv", "CONFPY_TEST_UNSET", "default") == "default"
    assert call("getenv", "CONFPY_TEST_UNSET", "first", "second") == "first"
    assert call("getenv", "CONFPY_TEST_EMPTY") == ""
    assert call("getenv", "CONFPY_TEST_EMPTY", "default") == "default"


def test_getenv_reads_the_environment_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFPY_TEST_LATE", "one")
    assert call("getenv", "CONFPY_TEST_LATE") == "one"
    monkeypatch.setenv("CONFPY_TEST_LATE", "two")
    assert call("getenv", "CONFPY_TEST_LATE") == "two"


# --- base64 -----------------------------------------------------------------------------------------


# RFC 4648 test vectors, plus UTF-8 text and the + and / characters of the standard alphabet.
BASE64 = [
    ("", ""),
    ("f", "Zg=="),
    ("fo", "Zm8="),
    ("foo", "Zm9v"),
    ("foob", "Zm9vYg=="),
    ("fooba", "Zm9vYmE="),
    ("foobar", "Zm9vYmFy"),
    ("é", "w6k="),
    ("\x00", "AA=="),
    ("?>>", "Pz4+"),
    ("???", "Pz8/"),
    ("user:pa ss\n", "dXNlcjpwYSBzcwo="),
]


@pytest.mark.parametrize(("text", "encoded"), BASE64)
def test_base64_round_trip(text: str, encoded: str) -> None:
    assert call("base64Encode", text) == encoded
    assert call("base64Decode", encoded) == text


@pytest.mark.parametrize(
    ("encoded", "text"),
    [
        ("Zm9v\nYmFy", "foobar"),
        ("Zm9v\r\nYmFy\n", "foobar"),
        ("Z\nm\r8\n=", "fo"),
        ("QR==", "A"),  # Go's StdEncoding is not strict about the unused bits
    ],
)
def test_base64_decode_accepts_what_go_accepts(encoded: str, text: str) -> None:
    assert call("base64Decode", encoded) == text


@pytest.mark.parametrize(
    "encoded",
    [
        "Zm9",
        "Zg",
        "Zg=",
        "Zm9v=",
        "=",
        "Zm9v YmFy",
        "Zm9v\tYmFy",
        " Zm9v",
        "Zm-_",
        "Zg==Zg==",
        "Zm9vYmFy==",
        "Zm=v",
        "é",
    ],
)
def test_base64_decode_rejects_what_go_rejects(encoded: str) -> None:
    with pytest.raises(TemplateError, match="base64Decode: illegal base64 data"):
        call("base64Decode", encoded)


def test_base64_decode_keeps_bytes_that_are_not_utf8() -> None:
    """confd writes a decoded binary value as it is (a keystore, a DER certificate)."""
    assert call("base64Decode", "/w==").encode("utf-8", "surrogateescape") == b"\xff"


# --- conversions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "want"),
    [
        ("1", True), ("t", True), ("T", True), ("TRUE", True), ("true", True), ("True", True),
        ("0", False), ("f", False), ("F", False), ("FALSE", False), ("false", False), ("False", False),
    ],
)  # fmt: skip
def test_parse_bool_accepts_gos_strings(s: str, want: bool) -> None:
    assert call("parseBool", s) is want


@pytest.mark.parametrize(
    "s", ["", "yes", "no", "on", "tRUE", "TrUe", " true", "true ", "2", "y", "falsey", "01"]
)
def test_parse_bool_rejects_everything_else(s: str) -> None:
    with pytest.raises(TemplateError, match=f'strconv.ParseBool: parsing "{s}": invalid syntax'):
        call("parseBool", s)


@pytest.mark.parametrize(
    ("s", "want"),
    [
        ("0", 0),
        ("1", 1),
        ("-1", -1),
        ("+1", 1),
        ("-0", 0),
        ("+0", 0),
        ("007", 7),
        ("12345", 12345),
        ("9223372036854775807", INT_MAX),
        ("-9223372036854775808", INT_MIN),
        ("00000000000000000000000000042", 42),
    ],
)
def test_atoi(s: str, want: int) -> None:
    got = call("atoi", s)
    assert got == want
    assert type(got) is int


@pytest.mark.parametrize(
    "s", ["", " 1", "1 ", "1.0", "1e3", "0x10", "1_000", "+", "-", "--1", "+-1", "abc", "١٢", "１", "\n1"]
)
def test_atoi_rejects_what_strconv_rejects(s: str) -> None:
    with pytest.raises(TemplateError, match=r"strconv.Atoi: parsing .*: invalid syntax"):
        call("atoi", s)


@pytest.mark.parametrize("s", ["9223372036854775808", "-9223372036854775809", "1" * 40])
def test_atoi_out_of_range(s: str) -> None:
    with pytest.raises(TemplateError, match=f'strconv.Atoi: parsing "{s}": value out of range'):
        call("atoi", s)


def test_atoi_error_quotes_the_input_as_go_does() -> None:
    with pytest.raises(TemplateError) as info:
        call("atoi", 'a"b')
    assert str(info.value) == 'strconv.Atoi: parsing "a\\"b": invalid syntax'


# --- lists ---------------------------------------------------------------------------------------------


def test_reverse_returns_a_new_list() -> None:
    values = ["a", "b", "c"]
    assert call("reverse", values) == ["c", "b", "a"]
    assert values == ["a", "b", "c"]
    pairs = [KVPair("/a", "1"), KVPair("/b", "2")]
    assert call("reverse", pairs) == [KVPair("/b", "2"), KVPair("/a", "1")]
    assert pairs[0] == KVPair("/a", "1")


@pytest.mark.parametrize(
    ("values", "want"),
    [
        ([], []),
        (["x"], ["x"]),
        (("a", "b"), ["b", "a"]),
        (iter(["a", "b"]), ["b", "a"]),
        ([1.0, "a", None], [None, "a", 1.0]),  # jsonArray results; confd would return them unchanged
        ("abc", "cba"),  # as Jinja's own reverse filter
    ],
)
def test_reverse(values: Any, want: Any) -> None:
    assert call("reverse", values) == want


@pytest.mark.parametrize("value", [5, None, {"a": 1}])
def test_reverse_rejects_non_lists(value: Any) -> None:
    with pytest.raises(TemplateError, match="reverse: expected a list"):
        call("reverse", value)


@pytest.mark.parametrize(
    ("values", "want"),
    [
        (["ccc", "a", "bb", "dd", "e"], ["a", "e", "bb", "dd", "ccc"]),
        ([], []),
        (["b", "a"], ["b", "a"]),  # equal lengths keep their order
        (["éé", "abc"], ["abc", "éé"]),  # Go's len counts UTF-8 bytes: 4 > 3
        (["ab", "é", "c"], ["c", "ab", "é"]),
        (("zz", "y"), ["y", "zz"]),
        (["abc", "\udcff\udcff"], ["\udcff\udcff", "abc"]),  # two bytes that are not UTF-8: 2 < 3
    ],
)
def test_sort_by_length(values: Any, want: list[str]) -> None:
    original = list(values)
    assert call("sortByLength", values) == want
    assert list(values) == original


def test_sort_by_length_rejects_non_strings() -> None:
    with pytest.raises(TemplateError, match="sortByLength: expected a list of strings, but it holds int 1"):
        call("sortByLength", ["a", 1])


def test_sort_kv_by_length_sorts_by_key_length_stably() -> None:
    pairs = [
        KVPair("/app/upstream", "3"),
        KVPair("/b", "z"),
        KVPair("/a", "a"),
        KVPair("/app", "0"),
        KVPair("/é", "2 bytes"),
        KVPair("/ab", "x"),
    ]
    assert call("sortKVByLength", pairs) == [
        KVPair("/b", "z"),
        KVPair("/a", "a"),
        KVPair("/é", "2 bytes"),
        KVPair("/ab", "x"),
        KVPair("/app", "0"),
        KVPair("/app/upstream", "3"),
    ]
    assert pairs[0] == KVPair("/app/upstream", "3")
    assert call("sortKVByLength", []) == []


@pytest.mark.parametrize("values", [["/a"], "abc", None])
def test_sort_kv_by_length_rejects_non_pairs(values: Any) -> None:
    with pytest.raises(TemplateError, match="sortKVByLength: expected a list of KVPairs"):
        call("sortKVByLength", values)


# --- arithmetic -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "a", "b", "want"),
    [
        ("add", 2, 3, 5),
        ("add", -2, 3, 1),
        ("add", INT_MAX, 1, INT_MIN),  # int64 wraps around as in Go
        ("sub", 2, 3, -1),
        ("sub", INT_MIN, 1, INT_MAX),
        ("mul", 6, -7, -42),
        ("mul", 1 << 62, 4, 0),
        ("mul", INT_MAX, 2, -2),
        ("div", 7, 2, 3),
        ("div", -7, 2, -3),  # truncates toward zero (Python's // floors to -4)
        ("div", 7, -2, -3),
        ("div", -7, -2, 3),
        ("div", 0, 5, 0),
        ("div", INT_MIN, -1, INT_MIN),
        ("div", INT_MAX, 1, INT_MAX),
        ("mod", 7, 3, 1),
        ("mod", -7, 3, -1),  # the dividend's sign (Python's % gives 2)
        ("mod", 7, -3, 1),
        ("mod", -7, -3, -1),
        ("mod", 6, 3, 0),
        ("mod", -6, 3, 0),
        ("mod", INT_MIN, -1, 0),
        ("mod", INT_MIN, INT_MAX, -1),
    ],
)
def test_arithmetic_is_go_int64(name: str, a: int, b: int, want: int) -> None:
    got = call(name, a, b)
    assert got == want
    assert type(got) is int


@pytest.mark.parametrize("name", ["div", "mod"])
@pytest.mark.parametrize("dividend", [0, 1, -1])
def test_divide_by_zero(name: str, dividend: int) -> None:
    with pytest.raises(TemplateError, match=f"{name}: integer divide by zero"):
        call(name, dividend, 0)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "mod", "seq"])
@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ("1", 2, "argument 1 must be an integer, got str '1' \\(convert it with atoi\\)"),
        (1, "2", "argument 2 must be an integer, got str '2'"),
        (1.0, 2, "argument 1 must be an integer, got float 1.0 \\(JSON numbers are floats"),
        (True, 2, "argument 1 must be an integer, got bool True"),
        (1, None, "argument 2 must be an integer, got NoneType None"),
        (INT_MAX + 1, 1, "argument 1 \\(9223372036854775808\\) overflows a 64-bit int"),
        (1, INT_MIN - 1, "argument 2 \\(-9223372036854775809\\) overflows a 64-bit int"),
    ],
)
def test_arithmetic_refuses_non_ints(name: str, a: Any, b: Any, message: str) -> None:
    with pytest.raises(TemplateError, match=f"{name}: {message}"):
        call(name, a, b)


@pytest.mark.parametrize(
    ("first", "last", "want"),
    [(1, 3, [1, 2, 3]), (3, 3, [3]), (4, 3, []), (-2, 1, [-2, -1, 0, 1]), (0, 0, [0]), (5, -5, [])],
)
def test_seq_is_inclusive(first: int, last: int, want: list[int]) -> None:
    assert call("seq", first, last) == want


def test_seq_refuses_more_numbers_than_it_makes() -> None:
    """confd's Seq appends until Go runs out of memory; confpy stops at SEQ_LIMIT with a reason."""
    seq = make_functions(KeyStore())["seq"]
    assert len(seq(1, SEQ_LIMIT)) == SEQ_LIMIT
    with pytest.raises(FunctionError) as info:
        seq(1, 1_000_000_000_000)
    assert str(info.value) == (
        "seq: seq 1 1000000000000 would make 1000000000000 numbers; confpy makes at most 1000000"
    )
    assert info.value.go_error == str(info.value).removeprefix("seq: ")
