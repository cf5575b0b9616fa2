"""`python -m cli` runs the `newsmill` command (handy where the console script is not on PATH)."""

from cli.main import main

main()
