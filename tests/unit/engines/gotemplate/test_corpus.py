"""Every corpus/NAME.tmpl renders to NAME.out (or fails with NAME.err) exactly as confd does.

The expected files hold Go's output: produced by Go's text/template with confd's functions over
corpus/store.json (go_modern and err_range_int_two_vars, which need Go 1.22/1.23, by Go's
documented rules), data nil as confd passes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from confpy.engines.gotemplate import parse
from confpy.engines.gotemplate.confd import SIGNATURES, go_functions
from confpy.errors import TemplateError
from confpy.store import KeyStore
from tests.support.paths import GOTEMPLATE_DATA

CORPUS = GOTEMPLATE_DATA / "corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.tmpl"))


def confd_functions() -> dict[str, Callable[..., Any]]:
    """confd's function map over the corpus store."""
    store = KeyStore(json.loads((CORPUS / "store.json").read_text()))
    return go_functions(store)


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 30
    for name in CASES:
        assert (CORPUS / f"{name}.out").exists() != (CORPUS / f"{name}.err").exists(), name


@pytest.mark.parametrize("name", CASES)
def test_corpus_case(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFPY_CORPUS_UNSET", raising=False)
    text = (CORPUS / f"{name}.tmpl").read_text()
    funcs = confd_functions()
    out_file = CORPUS / f"{name}.out"
    if out_file.exists():
        template = parse(text, f"{name}.tmpl", SIGNATURES)
        assert template.execute(funcs) == out_file.read_text()
    else:
        with pytest.raises(TemplateError) as info:
            parse(text, f"{name}.tmpl", SIGNATURES).execute(funcs)
        assert str(info.value) == (CORPUS / f"{name}.err").read_text()
