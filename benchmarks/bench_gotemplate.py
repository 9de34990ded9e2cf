"""Render a 200-upstream nginx config with confpy's Go template engine and with its Jinja2 twin.

Both templates produce the same bytes from the same store through confd's functions; the script
prints the median render time of each and their ratio (the Go engine must stay within 2x).

    python benchmarks/bench_gotemplate.py [--quick]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confpy.engines.functions import make_functions
from confpy.engines.gotemplate import parse
from confpy.engines.gotemplate.confd import SIGNATURES
from confpy.store import KeyStore

UPSTREAMS = 200
SERVERS = 3

GO_TEMPLATE = """\
# {{getv "/app/name"}}: {{len (lsdir "/upstreams")}} upstreams
{{range $name := lsdir "/upstreams"}}
upstream {{$name}} {
{{- $weight := getv (printf "/upstreams/%s/weight" $name) "1"}}
{{- range gets (printf "/upstreams/%s/servers/*" $name)}}
    server {{.Value}} weight={{$weight}} max_fails=3; # {{base .Key}}
{{- end}}
}
{{end}}
server {
    listen {{getv "/app/port"}};
{{- range $i, $name := lsdir "/upstreams"}}
    location /{{$name}}/ {
        proxy_pass http://{{$name}};{{if eq $i 0}} # default{{end}}
    }
{{- end}}
}
"""

JINJA_TEMPLATE = """\
# {{ getv("/app/name") }}: {{ lsdir("/upstreams") | length }} upstreams
{% for name in lsdir("/upstreams") %}
upstream {{ name }} {
{%- set weight = getv("/upstreams/%s/weight" % name, "1") %}
{%- for kv in gets("/upstreams/%s/servers/*" % name) %}
    server {{ kv.Value }} weight={{ weight }} max_fails=3; # {{ base(kv.Key) }}
{%- endfor %}
}
{% endfor %}
server {
    listen {{ getv("/app/port") }};
{%- for name in lsdir("/upstreams") %}
    location /{{ name }}/ {
        proxy_pass http://{{ name }};{% if loop.index0 == 0 %} # default{% endif %}
    }
{%- endfor %}
}
"""


def make_store() -> KeyStore:
    items = {"/app/name": "bench", "/app/port": "8080"}
    for u in range(UPSTREAMS):
        for s in range(SERVERS):
            items[f"/upstreams/up{u:03d}/servers/s{s}"] = f"10.{u // 250}.{u % 250}.{s + 1}:8080"
        if u % 2:
            items[f"/upstreams/up{u:03d}/weight"] = str(u % 7 + 1)
    return KeyStore(items)


def median_seconds(render: Callable[[], str], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        render()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(label: str, funcs: dict[str, Any], rounds: int) -> float:
    """Render both twins with `funcs`, check they agree, print the medians; return the ratio."""
    go = parse(GO_TEMPLATE, "nginx.tmpl", SIGNATURES)
    env = jinja2.Environment(keep_trailing_newline=True)
    env.globals.update(funcs)
    jinja = env.from_string(JINJA_TEMPLATE)
    go_out, jinja_out = go.execute(funcs), jinja.render()
    if go_out != jinja_out:
        raise SystemExit(f"{label}: outputs differ, the two templates are not twins")
    go_time = median_seconds(lambda: go.execute(funcs), rounds)
    jinja_time = median_seconds(jinja.render, rounds)
    ratio = go_time / jinja_time
    print(f"{label} ({len(go_out)} bytes, {rounds} rounds)")
    print(f"  go template (confpy.engines.gotemplate): median {go_time * 1000:8.2f} ms")
    print(f"  jinja2 twin:                     median {jinja_time * 1000:8.2f} ms")
    print(f"  ratio go/jinja2: {ratio:.2f} (limit 2.00)")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, for CI and smoke tests")
    args = parser.parse_args(argv)
    rounds = 5 if args.quick else 50
    funcs: dict[str, Any] = make_functions(make_store())
    print(f"nginx config: {UPSTREAMS} upstreams x {SERVERS} servers")
    ratios = [compare("with confd's functions", funcs, rounds)]
    # The store lookups dominate the first run; memoised, what remains is the engines' own cost.
    cached = dict(funcs)
    for name in ("gets", "getv", "lsdir", "base"):
        cached[name] = functools.lru_cache(maxsize=None)(funcs[name])
    ratios.append(compare("engines alone (store lookups memoised)", cached, rounds))
    return 0 if max(ratios) <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
