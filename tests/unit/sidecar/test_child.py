"""The command's side of `confpy exec`: signal names as -reload-signal takes them, exit statuses."""

from __future__ import annotations

import signal

import pytest

from confpy.config.signals import parse_signal
from confpy.errors import ConfigError
from confpy.sidecar.child import exit_status


def test_parse_signal_and_exit_status() -> None:
    assert parse_signal("HUP") is signal.SIGHUP
    assert parse_signal("sigusr1") is signal.SIGUSR1
    assert parse_signal("15") is signal.SIGTERM
    for bad in ("NOPE", "999", ""):
        with pytest.raises(ConfigError, match="unknown signal"):
            parse_signal(bad)
    assert exit_status(3 << 8) == 3
    assert exit_status(signal.SIGKILL) == 137
