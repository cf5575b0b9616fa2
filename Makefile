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

# Two test processes (pytest-xdist): many tests wait on workers, servers and subprocesses, so two share 2 cores
# well; each test makes its own database and leases its own Redis database.
test: setup services lint
	$(UV) run pytest -n 2

bench: setup services
	$(UV) run python -m bench

# The shipped deploy/compose.yaml under docker-compose, in a Docker engine of its own (installs docker.io,
# docker-compose and mmdebstrap if missing; needs root or sudo): docs/operations.md, "The compose test".
.PHONY: compose-test
compose-test: setup
	$(UV) run pytest -m compose -s --durations=0 -p no:cacheprovider tests/test_compose_fleet.py
