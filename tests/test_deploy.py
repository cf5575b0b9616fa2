"""deploy/ checked without a Docker engine: the compose file against the Compose schema, and every command
it runs against the real entry points."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from typer.main import get_command

from cli.main import app as cli_app
from shared.settings import Settings
from tests.conftest import FIXTURES

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((FIXTURES / "compose" / "compose-spec.json").read_text())
    # The spec declares draft 2019-09 with a trailing '#', which jsonschema does not recognise by name.
    validator = jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.check_schema(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_every_service_runs_a_real_entry_point() -> None:
    app = importlib.import_module("workers.app").app
    routed = {route["queue"] for route in app.conf.task_routes.values()}
    newsmill_commands = set(get_command(cli_app).commands)  # type: ignore[attr-defined]
    ours = {name: svc for name, svc in _compose()["services"].items() if "build" in svc}
    assert {"migrate", "beat", "worker-feeds", "worker-fetch", "worker-extract", "worker-enrich"} <= set(ours)
    for name, svc in ours.items():
        argv = svc["command"]
        if argv[0] == "celery":
            assert argv[1:3] == ["-A", "workers.app"], name
            if "worker" in argv:
                queues = argv[argv.index("-Q") + 1].split(",")
                assert set(queues) <= routed, (name, queues)
                assert name == f"worker-{queues[0]}"
        else:
            assert argv[0] == "newsmill"
            assert argv[1] in newsmill_commands, (name, argv)
        health = svc.get("healthcheck", {}).get("test")
        if health and health[1] == "newsmill":
            assert health[2] in newsmill_commands


def test_long_running_services_have_health_restart_and_grace() -> None:
    for name, svc in _compose()["services"].items():
        if "build" not in svc or name == "migrate":
            continue
        assert "healthcheck" in svc, name
        assert svc["restart"] == "unless-stopped", name
        assert int(svc["stop_grace_period"].rstrip("s")) >= 90, name
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_exactly_one_beat_and_a_cpu_sized_extract_pool() -> None:
    services = _compose()["services"]
    assert services["beat"]["deploy"]["replicas"] == 1
    extract = services["worker-extract"]["command"]
    assert "prefork" in extract
    assert "-c" not in extract  # Celery's default: one process per CPU
    for io_bound in ("worker-feeds", "worker-fetch"):
        assert "threads" in services[io_bound]["command"]


def test_env_example_lists_every_setting() -> None:
    listed = {
        line.split("=", 1)[0]
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    missing = {f"NEWSMILL_{name.upper()}" for name in Settings.model_fields} - listed
    assert not missing
