"""`python -m mlplat`: the same as the `mlplat` command."""

from mlplat.cli import main

main()
