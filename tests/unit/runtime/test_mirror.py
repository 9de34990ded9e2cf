from pathlib import Path

from confpy.backends.base import Event
from confpy.config.resource import TemplateResource
from confpy.runtime.mirror import Mirror, watch_prefixes


def res(name: str, prefix: str, *keys: str) -> TemplateResource:
    return TemplateResource(name=name, path=Path(name), src="t", dest=Path("/d"), keys=keys, prefix=prefix)


def test_watch_prefixes_are_distinct() -> None:
    rs = [res("a", "/app", "/x", "/x/y", "/z"), res("b", "/", "/app/x/q", "/other")]
    assert watch_prefixes(rs) == ["/app/x", "/app/z", "/other"]


def test_events_update_only_the_resources_that_read_the_key() -> None:
    a, b = res("a", "/app", "/x"), res("b", "/", "/other")
    mirror = Mirror([a, b])
    assert mirror.load({"/app/x/1": "one", "/other": "o"}, revision=5) == {"a", "b"}
    assert mirror.stores["a"].getv("/x/1") == "one"
    assert mirror.stores["b"].getv("/other") == "o"
    changed = mirror.apply("/app/x", [Event("/app/x/2", "two", 6), Event("/app/x/1", None, 6)])
    assert changed == {"a"}
    store, revision = mirror.store_copy("a")
    assert dict(store.items()) == {"/x/2": "two"} and revision == 6
    assert mirror.apply("/app/x", [Event("/app/x/2", "two", 7)]) == set()  # same value: nothing to do
    assert mirror.apply("/app/x", [Event("/app/x/9", None, 8)]) == set()  # deleting a missing key
    assert mirror.revision == 8


def test_copy_is_private() -> None:
    a = res("a", "/", "/k")
    mirror = Mirror([a])
    mirror.load({"/k": "1"}, 2)
    store, _ = mirror.store_copy("a")
    mirror.apply("/k", [Event("/k", "2", 3)])
    assert store.getv("/k") == "1"


def test_load_replaces_only_the_given_prefixes() -> None:
    a = res("a", "/", "/p", "/q")
    mirror = Mirror([a])
    mirror.load({"/p/1": "x", "/q/1": "y"}, 3)
    assert mirror.load({"/p/2": "z"}, 9, ["/p"]) == {"a"}
    assert dict(mirror.stores["a"].items()) == {"/p/2": "z", "/q/1": "y"}
    assert mirror.load({"/p/2": "z"}, 10, ["/p"]) == set()


def test_resources_alike_share_one_string_per_key_name() -> None:
    """Each resource sees `/host` under its own prefix; the mirror keeps one `/host` for all."""
    a, b = res("a", "/svc/a", "/"), res("b", "/svc/b", "/")
    mirror = Mirror([a, b])
    mirror.load({"/svc/a/host": "h1", "/svc/b/host": "h2"}, 1)
    mirror.apply("/svc/b", [Event("/svc/b/port", "80", 2)])
    mirror.apply("/svc/a", [Event("/svc/a/port", "81", 3)])
    names = {r.name: {k: k for k in mirror.stores[r.name]} for r in (a, b)}
    assert names["a"].keys() == names["b"].keys() == {"/host", "/port"}
    assert all(names["a"][k] is names["b"][k] for k in ("/host", "/port"))
    assert mirror.stores["b"].getv("/port") == "80" and mirror.stores["a"].getv("/port") == "81"
