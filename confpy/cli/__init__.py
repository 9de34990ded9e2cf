"""The `confpy` command, where the flow starts: confd's Go-style flags over the library. A run's
flags are read by Go's rules alone (main.py, goflags.py), as the settings table declares them
(command.py); the subcommands, help and completion by typer (app.py, clickflags.py). It hands
over: a run to confpy.runtime, `register`/`wait`/`exec` to confpy.sidecar, `check` to
confpy.ops, `convert` to confpy.engines.

Its layer: the top one, above `confpy.sidecar`.
"""
