"""The history checker: every file confpy wrote renders some state the backend went through, in order.

etcd's robustness-test idea. A resource's `reload_cmd` (`history_extra`) copies each written dest
into a folder, named by the time of the copy; the test records the render of the backend's state
after each acknowledged write and checks the copies against those states.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["check_history", "history_extra", "written_history"]


def check_history(written: list[str], states: list[str], final: str) -> None:
    """Each written file renders some state, in order (never an older after a newer), ending at the last."""
    seen: dict[str, list[int]] = {}  # a state may come back (a=2, a=2 b=1, a=2): every place of it
    for i, content in enumerate(states):
        seen.setdefault(content, []).append(i)
    position = -1
    for content in written:
        assert content in seen, f"confpy wrote a file that matches no backend state:\n{content}"
        later = [i for i in seen[content] if i >= position]
        assert later, "a written file went back to an older state"
        position = later[0]
    assert written[-1] == final


def history_extra(tmp: Path) -> str:
    """The resource line that keeps a copy of each written dest under `tmp/history`."""
    history = tmp / "history"
    history.mkdir()
    return f'reload_cmd = "cp {{{{.dest}}}} {history}/$(date +%s%N)"\n'


def written_history(tmp: Path) -> list[str]:
    """The copies `history_extra` made, oldest first."""
    return [p.read_text() for p in sorted((tmp / "history").iterdir(), key=lambda p: int(p.name))]


def check_key_history(written: list[str], sequences: dict[str, list[str]], final: str) -> None:
    """For stores read key by key (redis, zookeeper: no snapshot), per key: each written file
    holds, for every key, a value that key went through (`sequences`: its values in the order
    written), never an older one after a newer, and the last file is `final`. A file may combine
    values read at different moments of a burst, as confd's may."""
    position: dict[str, int] = {}
    for content in written:
        for line in content.splitlines():
            key, _, value = line.partition("=")
            assert value in sequences.get(key, []), f"confpy wrote {key}={value}, a value {key} never had"
            index = sequences[key].index(value)
            assert index >= position.get(key, -1), (
                f"{key} went back from {sequences[key][position[key]]} to {value}"
            )
            position[key] = index
    assert written[-1] == final
