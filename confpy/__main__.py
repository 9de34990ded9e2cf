"""`python -m confpy` is the `confpy` command."""

from confpy.cli.app import main

main()
