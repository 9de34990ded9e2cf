"""The `confpy` command, where the flow starts: confd's Go-style flags (goflags.py, every Go-flag
workaround) over the library (app.py). It reads the flags, as the settings table declares them,
and hands over: a run to confpy.runtime, `register`/`wait`/`exec` to confpy.sidecar, `check` to
confpy.ops, `convert` to confpy.engines.

Its layer: the top one, above `confpy.sidecar`.
"""
