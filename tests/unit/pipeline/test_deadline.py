"""Stopping a render that runs too long, in whichever thread runs it."""

from __future__ import annotations

import threading
import time

import jinja2
import pytest

from confpy.engines.gotemplate import parse
from confpy.pipeline.deadline import RenderTimeout, deadline

_NEVER_ENDING = "{% for i in range(10**12) %}{% endfor %}"


def _never_ending_jinja() -> None:
    jinja2.Environment().from_string(_NEVER_ENDING).render()


def _never_ending_go() -> None:
    parse("{{range 1000000000000}}{{end}}", "loop.tmpl", ()).execute({})


@pytest.mark.parametrize("render", [_never_ending_jinja, _never_ending_go])
def test_a_never_ending_render_is_stopped(render: object) -> None:
    with pytest.raises(RenderTimeout), deadline(0.2):
        render()  # type: ignore[operator]


def test_a_render_in_another_thread_is_stopped_and_only_it() -> None:
    outcome: list[str] = []
    other_ran = threading.Event()

    # Compiled before the deadline is armed, as confpy compiles a resource's template at load: the
    # exception is to land in the render, not inside Jinja's compiler and the locks it takes.
    template = jinja2.Environment().from_string(_NEVER_ENDING)

    def worker() -> None:
        try:
            with deadline(0.2):
                template.render()
        except RenderTimeout:
            outcome.append("stopped")

    def bystander() -> None:
        end = time.monotonic() + 0.6
        while time.monotonic() < end:
            pass
        other_ran.set()

    threads = [threading.Thread(target=worker), threading.Thread(target=bystander)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome == ["stopped"] and other_ran.is_set()


def test_a_deadline_that_passes_after_the_block_raises_nothing_later() -> None:
    """A deadline that fires as the block ends must not hit the code that runs after it."""
    for i in range(3000):
        try:
            with deadline(0.0005 if i % 3 == 0 else 60):
                sum(range(200))
        except RenderTimeout:
            pass
        for _ in range(50):  # a stray exception would surface here, outside any deadline, and fail
            pass


def test_deadlines_firing_as_blocks_end_never_stop_later_renders() -> None:
    """Deadlines that pass just as their blocks end, in four threads at once for 5 s: every
    thread finishes. Before each deadline had its own lock, the exception could land just after
    a thread took the watchdog's shared lock, which then stayed taken and hung every render."""
    stop = time.monotonic() + 5.0
    outcomes: list[str] = []

    def spin() -> None:
        while time.monotonic() < stop:
            try:
                with deadline(0.0002):
                    started = time.perf_counter()
                    while time.perf_counter() - started < 0.0002:
                        pass
                outcomes.append("done")
            except RenderTimeout:
                outcomes.append("stopped")

    threads = [threading.Thread(target=spin, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not [t for t in threads if t.is_alive()], "a thread hung in deadline()"
    with deadline(5.0):  # and the watchdog still serves a new deadline
        pass
    assert "done" in outcomes
