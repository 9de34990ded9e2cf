"""KeyStore and the Go path helpers, checked against Go's own test tables and memkv's."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from confpy._go.path import (
    BadPattern,
    _normalized,
    path_base,
    path_clean,
    path_dir,
    path_join,
    path_match,
    path_rooted,
    path_under,
)
from confpy.errors import KeyNotFoundError, TemplateError
from confpy.store import KeyStore, KVPair

# Go's src/path/path_test.go cleantests.
CLEAN = [
    ("", "."),
    ("abc", "abc"),
    ("abc/def", "abc/def"),
    ("a/b/c", "a/b/c"),
    (".", "."),
    ("..", ".."),
    ("../..", "../.."),
    ("../../abc", "../../abc"),
    ("/abc", "/abc"),
    ("/", "/"),
    ("abc/", "abc"),
    ("abc/def/", "abc/def"),
    ("a/b/c/", "a/b/c"),
    ("./", "."),
    ("../", ".."),
    ("../../", "../.."),
    ("/abc/", "/abc"),
    ("abc//def//ghi", "abc/def/ghi"),
    ("//abc", "/abc"),
    ("///abc", "/abc"),
    ("//abc//", "/abc"),
    ("abc//", "abc"),
    ("//", "/"),
    ("abc/./def", "abc/def"),
    ("/./abc/def", "/abc/def"),
    ("abc/.", "abc"),
    ("abc/def/ghi/../jkl", "abc/def/jkl"),
    ("abc/def/../ghi/../jkl", "abc/jkl"),
    ("abc/def/..", "abc"),
    ("abc/def/../..", "."),
    ("/abc/def/../..", "/"),
    ("abc/def/../../..", ".."),
    ("/abc/def/../../..", "/"),
    ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
    ("abc/./../def", "def"),
    ("abc//./../def", "def"),
    ("abc/../../././../def", "../../def"),
]


@pytest.mark.parametrize(("path", "want"), CLEAN)
def test_path_clean_matches_go(path: str, want: str) -> None:
    assert path_clean(path) == want


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("", "."),
        (".", "."),
        ("/.", "."),
        ("/", "/"),
        ("////", "/"),
        ("x/", "x"),
        ("abc", "abc"),
        ("abc/def", "def"),
        ("a/b/.x", ".x"),
        ("a/b/c.", "c."),
        ("a/b/c.x", "c.x"),
        ("/app/db/user", "user"),
        ("/app/db//", "db"),
    ],
)
def test_path_base_matches_go(path: str, want: str) -> None:
    assert path_base(path) == want


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("", "."),
        (".", "."),
        ("/.", "/"),
        ("/", "/"),
        ("////", "/"),
        ("/foo", "/"),
        ("x/", "x"),
        ("abc", "."),
        ("abc/def", "abc"),
        ("abc////def", "abc"),
        ("a/b/.x", "a/b"),
        ("a/b/c.", "a/b"),
        ("a/b/c.x", "a/b"),
        ("/app/db/user", "/app/db"),
        ("/app/db/", "/app/db"),
        ("//a", "/"),
        ("a/../b/c", "b"),
    ],
)
def test_path_dir_matches_go(path: str, want: str) -> None:
    assert path_dir(path) == want


@pytest.mark.parametrize(
    ("elems", "want"),
    [
        ((), ""),
        (("",), ""),
        (("", ""), ""),
        (("a",), "a"),
        (("a", "b"), "a/b"),
        (("a", ""), "a"),
        (("", "b"), "b"),
        (("/", "a"), "/a"),
        (("/", ""), "/"),
        (("a/", "b"), "a/b"),
        (("a/", ""), "a"),
        (("/app", "/db/user"), "/app/db/user"),
        (("/app/", "../etc"), "/etc"),
    ],
)
def test_path_join_matches_go(elems: tuple[str, ...], want: str) -> None:
    assert path_join(*elems) == want


def test_the_shortcuts_for_clean_paths_keep_go_s_rules() -> None:
    """path_clean returns a path it sees is clean as it is, and path_rooted is Join("/", p)
    without its join: every path of up to 7 characters of "/", "." and "a" (3,280) agrees with
    the rules in full (the Go cases above judge those)."""
    paths = ["".join(p) for n in range(8) for p in itertools.product("/.a", repeat=n)]
    assert [path_clean(p) for p in paths] == [_normalized(p) for p in paths]
    assert [path_rooted(p) for p in paths] == [path_join("/", p) for p in paths]


# Go's src/path/match_test.go matchTests (valid patterns), plus reversed ranges, which Go accepts.
MATCH = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", False),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "α", True),
    ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("*x", "xxx", True),
    # A class, unlike * and ?, may match "/".
    ("a[/]b", "a/b", True),
    ("a[^x]b", "a/b", True),
    # Reversed ranges are legal in Go and match nothing.
    ("[z-a]", "m", False),
    ("[z-a]", "z", False),
    ("[^z-a]", "m", True),
    ("[^z-a]", "/", True),
    ("[z-ab]", "b", True),
    ("[z-ab]", "a", False),
    # Regex metacharacters are literal.
    ("a.b", "axb", False),
    ("a.b", "a.b", True),
    ("(a|b)+", "(a|b)+", True),
    ("a$", "a$", True),
    ("[[]", "[", True),
    ("[.]", "x", False),
    ("x]", "x]", True),
    ("a-b", "a-b", True),
    # The whole name must match.
    ("abc", "abcd", False),
    ("abc", "xabc", False),
    ("", "", True),
    ("", "a", False),
    ("a\nb", "a\nb", True),
    ("a?b", "a\nb", True),
    ("/app/*/host1", "/app/upstream/host1", True),
    ("/app/*/host1", "/app/up/stream/host1", False),
    ("/app/*", "/app/", True),
    ("/app/?", "/app/", False),
]


@pytest.mark.parametrize(("pattern", "name", "want"), MATCH)
def test_path_match_matches_go(pattern: str, name: str, want: bool) -> None:
    assert path_match(pattern, name) is want


BAD_PATTERNS = [
    "[]a]",
    "[-]",
    "[x-]",
    "[-x]",
    "\\",
    "a\\",
    "[a-b-c]",
    "[",
    "[^",
    "[^bc",
    "a[",
    "a/b[",
    "[]",
    "[^]",
    "[a-]]",
    "[\\",
    "[a\\",
    "[a-\\",
    "*[",
    "abc[x",
]


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
def test_path_match_rejects_bad_patterns(pattern: str) -> None:
    """Go's path.ErrBadPattern; the store (below) and the file backend turn it into their own errors."""
    with pytest.raises(BadPattern, match="syntax error in pattern"):
        path_match(pattern, "a")


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
def test_gets_and_getvs_reject_bad_patterns_even_on_an_empty_store(pattern: str) -> None:
    store = KeyStore()
    with pytest.raises(TemplateError, match="syntax error in pattern"):
        store.gets(pattern)
    with pytest.raises(TemplateError, match="syntax error in pattern"):
        store.getvs(pattern)


# memkv's store_test.go data.
APP = {
    "/app/db/pass": "foo",
    "/app/db/user": "admin",
    "/app/port": "443",
    "/app/url": "app.example.com",
    "/app/vhosts/host1": "app.example.com",
    "/app/upstream/host1": "203.0.113.0.1:8080",
    "/app/upstream/host1/domain": "app.example.com",
    "/app/upstream/host2": "203.0.113.0.2:8080",
    "/app/upstream/host2/domain": "app.example.com",
}


def test_get_returns_the_pair() -> None:
    assert KeyStore(APP).get("/app/db/user") == KVPair("/app/db/user", "admin")
    assert KeyStore(APP).get("/app/db/user").Value == "admin"


def test_get_missing_key_names_it() -> None:
    with pytest.raises(KeyNotFoundError) as info:
        KeyStore(APP).get("/app/db/missing")
    assert str(info.value) == "key does not exist: /app/db/missing"
    assert info.value.key == "/app/db/missing"
    assert isinstance(info.value, TemplateError)


def test_get_does_not_treat_a_directory_as_a_key() -> None:
    with pytest.raises(KeyNotFoundError):
        KeyStore(APP).get("/app/db")


def test_getv_value_and_defaults() -> None:
    store = KeyStore({**APP, "/empty": ""})
    assert store.getv("/app/port") == "443"
    assert store.getv("/app/port", "80") == "443"
    assert store.getv("/missing", "80") == "80"
    assert store.getv("/missing", "") == ""
    assert store.getv("/missing", "first", "second") == "first"
    assert store.getv("/empty", "default") == ""
    with pytest.raises(KeyNotFoundError, match="key does not exist: /missing"):
        store.getv("/missing")


@pytest.mark.parametrize(
    ("pattern", "want"),
    [
        ("/app/db/*", [("/app/db/pass", "foo"), ("/app/db/user", "admin")]),
        (
            "/app/*/host1",
            [("/app/upstream/host1", "203.0.113.0.1:8080"), ("/app/vhosts/host1", "app.example.com")],
        ),
        (
            "/app/upstream/*",
            [("/app/upstream/host1", "203.0.113.0.1:8080"), ("/app/upstream/host2", "203.0.113.0.2:8080")],
        ),
        ("/app/upstream/host[2-9]", [("/app/upstream/host2", "203.0.113.0.2:8080")]),
        ("/app/upstream/host[^1]/domain", [("/app/upstream/host2/domain", "app.example.com")]),
        ("/app/po?t", [("/app/port", "443")]),
        ("/app/missing/*", []),
        ("/app", []),
        (
            "/app/*/*/domain",
            [
                ("/app/upstream/host1/domain", "app.example.com"),
                ("/app/upstream/host2/domain", "app.example.com"),
            ],
        ),
    ],
)
def test_gets_matches_and_sorts_by_key(pattern: str, want: list[tuple[str, str]]) -> None:
    got = KeyStore(APP).gets(pattern)
    assert got == [KVPair(k, v) for k, v in want]
    assert all(isinstance(pair, KVPair) for pair in got)


def test_gets_sorts_by_key_not_by_insertion_or_value() -> None:
    store = KeyStore([("/s/c", "1"), ("/s/a", "3"), ("/s/b", "2"), ("/s/B", "9"), ("/s/aa", "0")])
    assert [p.Key for p in store.gets("/s/*")] == ["/s/B", "/s/a", "/s/aa", "/s/b", "/s/c"]


def test_getvs_sorts_by_value_not_by_key() -> None:
    store = KeyStore([("/s/a", "zeta"), ("/s/b", "alpha"), ("/s/c", "Mu"), ("/s/d", "alpha"), ("/t/x", "0")])
    assert store.getvs("/s/*") == ["Mu", "alpha", "alpha", "zeta"]
    assert store.getvs("/nothing/*") == []


def test_gets_escaped_star_matches_a_literal_star() -> None:
    store = KeyStore({"/a/*": "star", "/a/b": "b"})
    assert store.gets("/a/\\*") == [KVPair("/a/*", "star")]
    assert store.getvs("/a/*") == ["b", "star"]


def test_gets_looks_only_at_the_keys_that_start_with_the_literal_part_and_at_all_of_them() -> None:
    """gets takes the run of sorted keys with the pattern's literal prefix by bisection, its end
    found as the prefix with its last character incremented (or walked, when that is U+10FFFF):
    against every key matched one by one, over keys that sort right around the run's ends."""
    import itertools

    alphabet = ["/", "a", "b", "a\U0010ffff", "\U0010ffff", "é", "*"]
    keys = {"/" + "".join(p): "v" for n in range(4) for p in itertools.product(alphabet, repeat=n)}
    store = KeyStore(keys)
    patterns = [
        "/*",
        "/a*",
        "/a/*",
        "/a\U0010ffff*",
        "/\U0010ffff*",
        "/\U0010ffff/*",
        "/é*",
        "/a?",
        "*",
        "/b",
    ]
    for pattern in patterns:
        want = [k for k in sorted(keys) if path_match(pattern, k)]
        assert [p.Key for p in store.gets(pattern)] == want, pattern
        assert all(type(p) is KVPair for p in store.gets(pattern))


def test_exists_is_true_for_keys_only() -> None:
    store = KeyStore({**APP, "/empty": ""})
    assert store.exists("/app/port")
    assert store.exists("/empty")
    assert store.exists("/app/upstream/host1")  # a key that is also a directory
    assert not store.exists("/app/db")
    assert not store.exists("/app")
    assert not store.exists("/app/port/")
    assert not store.exists("/app/po")
    assert not store.exists("/missing")


# memkv's listTestMap.
DEIS = {
    "/deis/database/user": "user",
    "/deis/database/pass": "pass",
    "/deis/services/key": "value",
    "/deis/services/notaservice/foo": "bar",
    "/deis/services/srv1/node1": "10.244.1.1:80",
    "/deis/services/srv1/node2": "10.244.1.2:80",
    "/deis/services/srv1/node3": "10.244.1.3:80",
    "/deis/services/srv2/node1": "10.244.2.1:80",
    "/deis/services/srv2/node2": "10.244.2.2:80",
    "/deis/prefix/node1": "prefix_node1",
    "/deis/prefix/node2/leafnode": "prefix_node2",
    "/deis/prefix/node3/leafnode": "prefix_node3",
    "/deis/prefix_a/node4": "prefix_a_node4",
    "/deis/prefixb/node5/leafnode": "prefixb_node5",
    "/deis/dirprefix/node1": "prefix_node1",
    "/deis/dirprefix/node2/leafnode": "prefix_node2",
    "/deis/dirprefix/node3/leafnode": "prefix_node3",
    "/deis/dirprefix_a/node4": "prefix_a_node4",
    "/deis/dirprefixb/node5/leafnode": "prefixb_node5",
}


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("/deis/services", ["key", "notaservice", "srv1", "srv2"]),
        ("/deis/services/", ["key", "notaservice", "srv1", "srv2"]),
        ("/deis/services//", ["key", "notaservice", "srv1", "srv2"]),
        ("/deis//services", ["key", "notaservice", "srv1", "srv2"]),
        ("/deis/./services", ["key", "notaservice", "srv1", "srv2"]),
        ("/deis/prefix", ["node1", "node2", "node3"]),
        ("/deis/prefix/", ["node1", "node2", "node3"]),
        ("/deis/services/key", ["key"]),
        ("/deis/services/srv1", ["node1", "node2", "node3"]),
        ("/deis/services/srv1/node1", ["node1"]),
        (
            "/deis",
            [
                "database",
                "dirprefix",
                "dirprefix_a",
                "dirprefixb",
                "prefix",
                "prefix_a",
                "prefixb",
                "services",
            ],
        ),
        ("/", ["deis"]),
        ("/deis/missing", []),
        ("/dei", []),
        ("/deis/services/srv", []),
        ("deis/services", []),
        ("", []),
    ],
)
def test_ls(path: str, want: list[str]) -> None:
    assert KeyStore(DEIS).ls(path) == want


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("/deis/services", ["notaservice", "srv1", "srv2"]),
        ("/deis/services/", ["notaservice", "srv1", "srv2"]),
        ("/deis//services/", ["notaservice", "srv1", "srv2"]),
        ("/deis/dirprefix", ["node2", "node3"]),
        ("/deis/dirprefix/", ["node2", "node3"]),
        ("/deis/services/key", []),
        ("/deis/services/srv1", []),
        (
            "/deis",
            [
                "database",
                "dirprefix",
                "dirprefix_a",
                "dirprefixb",
                "prefix",
                "prefix_a",
                "prefixb",
                "services",
            ],
        ),
        ("/", ["deis"]),
        ("/deis/missing", []),
        ("/deis/dirpre", []),
        ("", []),
    ],
)
def test_lsdir(path: str, want: list[str]) -> None:
    assert KeyStore(DEIS).lsdir(path) == want


def test_ls_and_lsdir_never_list_a_longer_name_sharing_the_prefix() -> None:
    store = KeyStore({"/foo/a": "1", "/foobar/b": "2", "/foobar/c/d": "3", "/foo2": "4", "/fo/x/y": "5"})
    assert store.ls("/foo") == ["a"]
    assert store.lsdir("/foo") == []
    assert store.ls("/fo") == ["x"]
    assert store.lsdir("/fo") == ["x"]
    assert store.ls("/foobar") == ["b", "c"]
    assert store.lsdir("/foobar") == ["c"]


def test_ls_at_the_root_lists_keys_and_directories() -> None:
    # confd (memkv) returns only the top-level keys here, and lsdir "/" is always empty (#725).
    store = KeyStore({"/a": "1", "/b/c": "2", "/b/d/e": "3", "/f/g/h": "4"})
    assert store.ls("/") == ["a", "b", "f"]
    assert store.lsdir("/") == ["b", "f"]
    assert store.ls("//") == ["a", "b", "f"]


def test_ls_a_key_that_is_also_a_directory() -> None:
    store = KeyStore({"/a/b": "leaf", "/a/b/c": "child", "/a/b/d/e": "grandchild"})
    assert store.ls("/a") == ["b"]
    assert store.lsdir("/a") == ["b"]
    assert store.ls("/a/b") == ["b", "c", "d"]  # memkv lists a key's own name when asked for it
    assert store.lsdir("/a/b") == ["d"]


def test_ls_is_sorted_and_unique() -> None:
    store = KeyStore(
        {"/s/zeta/1": "", "/s/Alpha": "", "/s/alpha/1": "", "/s/alpha/2": "", "/s/10": "", "/s/9": ""}
    )
    assert store.ls("/s") == ["10", "9", "Alpha", "alpha", "zeta"]
    assert store.lsdir("/s") == ["alpha", "zeta"]


def test_ls_relative_keys() -> None:
    store = KeyStore({"a/b": "1", "a/c/d": "2", "/a/x": "3"})
    assert store.ls("a") == ["b", "c"]
    assert store.lsdir("a") == ["c"]
    assert store.ls("/a") == ["x"]


def test_ls_on_an_empty_store() -> None:
    assert KeyStore().ls("/") == []
    assert KeyStore().lsdir("/") == []


def test_mutation_and_mapping_protocol() -> None:
    store = KeyStore({"/a": "1"})
    store.set("/b", "2")
    store.set("/a", "one")
    assert len(store) == 2
    assert "/a" in store
    assert "/c" not in store
    assert sorted(store) == ["/a", "/b"]
    assert dict(store.items()) == {"/a": "one", "/b": "2"}
    store.delete("/a")
    store.delete("/never-there")
    assert store.ls("/") == ["b"]
    store.replace({"/x/y": "z"})
    assert dict(store.items()) == {"/x/y": "z"}
    assert store.lsdir("/") == ["x"]


def test_store_copies_its_input() -> None:
    source = {"/a": "1"}
    store = KeyStore(source)
    source["/b"] = "2"
    assert "/b" not in store


@pytest.mark.parametrize(
    ("key", "root", "want"),
    [
        ("/a/b", "/a/b", True),
        ("/a/b/c", "/a/b", True),
        ("/a/b/c", "/a/b/", True),
        ("/a/bc", "/a/b", False),
        ("/a/bc/d", "/a/b", False),
        ("/a", "/a/b", False),
        ("/a/b", "/a/b/", False),
        ("/anything", "/", True),
    ],
)
def test_path_under_is_confds_key_selection(key: str, root: str, want: bool) -> None:
    """backends/etcdv3/client.go GetValues: k == key || strings.HasPrefix(k, key+"/")."""
    assert path_under(key, root) is want


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.lsdir({"a": 1}), "lsdir: argument 1 must be a string, got dict {'a': 1}"),
        (lambda s: s.ls(["/a"]), "ls: argument 1 must be a string, got list ['/a']"),
        (lambda s: s.gets({}), "gets: argument 1 must be a string, got dict {}"),
        (lambda s: s.getvs(1), "getvs: argument 1 must be a string, got int 1"),
        (lambda s: s.get(None), "get: argument 1 must be a string, got NoneType None"),
        (lambda s: s.getv("/a", 5), "getv: argument 2 must be a string, got int 5"),
        (lambda s: s.exists(1.5), "exists: argument 1 must be a string, got float 1.5"),
    ],
)
def test_store_functions_refuse_what_is_not_a_string(call: Any, message: str) -> None:
    """memkv's functions take strings (Go checks the type); a map or list is the template's mistake."""
    with pytest.raises(TemplateError) as info:
        call(KeyStore({"/a": "1"}))
    assert str(info.value) == message
