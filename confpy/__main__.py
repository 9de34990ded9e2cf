"""`python -m confpy` is the `confpy` command."""

from confpy.cli.main import main

main()
