"""-noop's diff: the pipeline hands it back in its run records; only `show_diff` prints it."""

from __future__ import annotations

from pathlib import Path

import pytest

from confpy.backends.memory import MemoryBackend
from confpy.config.settings import Settings
from confpy.pipeline.processor import RunRecord, run_once
from confpy.pipeline.writer import Outcome
from confpy.runtime.load import load_processors
from confpy.runtime.noop import show_diff
from tests.support.helpers import make_confdir


def test_run_once_returns_the_diff_and_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "a.conf"
    dest.write_text("old\n")
    toml = f'[template]\nsrc = "a.j2"\ndest = "{dest}"\nkeys = ["/a"]\n'
    confdir = make_confdir(tmp_path, {"a.toml": toml}, {"a.j2": "{{ getv('/a') }}\n"})
    processors, errors = load_processors(Settings(confdir=confdir, noop=True))
    assert not errors
    records: list[RunRecord] = []
    report = run_once(MemoryBackend({"/a": "new"}), processors, on_run=records.append)
    assert report.ok and not report.updated
    assert dest.read_text() == "old\n"
    (record,) = records
    assert record.name == "a.toml" and record.outcome is Outcome.WOULD_UPDATE
    assert record.diff is not None and "-old\n+new\n" in record.diff
    assert capsys.readouterr().out == ""
    monkeypatch.delenv("NO_COLOR", raising=False)
    show_diff(record)
    assert capsys.readouterr().out == record.diff  # captured: not a terminal, so no colour
    show_diff(RunRecord("b.toml", 1, Outcome.IN_SYNC, None, 0.0))
    assert capsys.readouterr().out == ""
