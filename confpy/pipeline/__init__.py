"""Applying one resource: render, stage file, check_cmd, atomic rename, reload_cmd.
`processor` drives it; `stage`, `writer` and `commands` are its I/O.
"""
