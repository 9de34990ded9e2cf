"""`python -m confpy` is the `confpy` command."""

from confpy.cli import main

main()
