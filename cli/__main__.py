"""`python -m cli` runs the `newsmill` command (handy where the console script is not on PATH)."""

from cli.main import app

app(prog_name="newsmill")
