# The two commands a newcomer needs: `make demo` (run it) and `make test` (check it). Each sets itself up.
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: setup demo run test lint bench services

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

services:
	@bash deploy/local-services.sh

demo: setup
	$(UV) run newsmill demo

run: setup
	$(UV) run newsmill migrate
	$(UV) run newsmill run

lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

test: setup services lint
	$(UV) run pytest

bench: setup services
	$(UV) run python -m bench
