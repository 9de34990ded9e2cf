"""The `confpy` command: confd's Go-style flags over the library, and the sidecar subcommands."""
