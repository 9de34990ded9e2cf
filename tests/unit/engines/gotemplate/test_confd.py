"""confd's functions inside the Go engine, against real Go 1.19 text/template.

golden/confd_calls.jsonl holds what Go's text/template printed, or the error it returned, for
each template, with confd's function map (resource/template/template_funcs.go newFuncMap and
memkv's Store.FuncMap) over the store on its first line and the row's JSON data as dot (numbers
are float64, as encoding/json decodes them into interface{}); none depends on the time or the
zone. tests/system/engines/test_godiff.py runs the same templates against the real Go, so the file
cannot drift from what Go does. It covers exec.go evalCall's checks: argument counts, each
argument against its parameter's type (evalArg, validateType), the piped value last; the static types of the
functions' results (printf "%T"); their errors; time.Time's and memkv.KVPairs' methods.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from confpy.engines.gotemplate import parse
from confpy.engines.gotemplate.confd import SIGNATURES, go_functions
from confpy.errors import TemplateError
from confpy.store import KeyStore
from tests.support.paths import GOTEMPLATE_DATA

HEADER, *GOLDEN = [
    json.loads(line, parse_int=float)
    for line in (GOTEMPLATE_DATA / "golden" / "confd_calls.jsonl").read_text().splitlines()
]
STORE: dict[str, str] = HEADER["store"]


def run(text: str, data: Any = None) -> tuple[str, str]:
    """("out", output) or ("err", Go's error text) for `text` rendered as confd would."""
    funcs = go_functions(KeyStore(STORE))
    try:
        return "out", parse(text, "t", SIGNATURES).execute(funcs, data)
    except TemplateError as err:
        return "err", str(err)


@pytest.mark.parametrize("row", GOLDEN, ids=[row["text"][:60] for row in GOLDEN])
def test_same_as_go(row: dict[str, Any]) -> None:
    want = ("out", row["out"]) if "out" in row else ("err", row["err"])
    assert run(row["text"], row.get("data")) == want


def test_every_confd_function_has_a_signature() -> None:
    # include reads the templates directory: GoEngine.render adds it to the map
    assert set(SIGNATURES) == set(go_functions(KeyStore())) | {"include"}
