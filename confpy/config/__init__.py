"""What the user wrote: settings (flags, `CONFPY_*`, confd.toml, defaults, each declared once),
the template resources of conf.d, and the value types they use (durations, sizes).
"""
