"""Applying one resource, after the store and the engine: render, stage file, check_cmd, atomic
rename, reload_cmd. `processor` drives it; `stage`, `writer` and `commands` are its I/O.

Its layer: below `confpy.ops`, above `confpy.engines`.
"""
