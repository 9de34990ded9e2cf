"""What the user wrote, read before anything flows: settings (flags, `CONFPY_*`, confd.toml,
defaults, each declared once), the template resources of conf.d, the backend the settings name,
and the value types they use (durations, sizes, command placeholders).

Its layer: below `confpy.engines`, above `confpy.backends`.
"""
