"""deploy/ checked without a Docker engine: the compose file against the Compose schema, every command it runs
against the real entry points, every file it mounts, the image's Dockerfile, and the monitoring config against
the metrics newsmill really exports."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from prometheus_client import Counter, Histogram
from typer.main import get_command

from cli.main import app as cli_app
from cli.status import ROLES
from shared import metrics
from shared.settings import Settings
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
MONITORING = DEPLOY / "monitoring"
NEWSMILL = get_command(cli_app)


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _ours() -> dict[str, dict[str, Any]]:
    """The services that run the newsmill image (the others are postgres, redis and monitoring)."""
    return {name: svc for name, svc in _compose()["services"].items() if "build" in svc}


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((FIXTURES / "compose" / "compose-spec.json").read_text())
    # The spec declares draft 2019-09 with a trailing '#', which jsonschema does not recognise by name.
    validator = jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.check_schema(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def _parse_newsmill(argv: list[str]) -> click.Context:
    """Parse a `newsmill ...` command line the way the CLI would, without running it."""
    assert argv[0] == "newsmill", argv
    group: Any = NEWSMILL
    assert argv[1] in group.commands, argv
    return group.commands[argv[1]].make_context(argv[1], list(argv[2:]))


def _parse_celery(argv: list[str], app: Any) -> click.Context:
    """Parse a `celery -A workers.app SUBCOMMAND ...` line with Celery's own CLI (pool names, numbers...)."""
    assert argv[:3] == ["celery", "-A", "workers.app"], argv
    parent = click.Context(celery_cli, info_name="celery")
    parent.obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    command: Any = celery_cli.commands[argv[3]]  # type: ignore[attr-defined]
    return command.make_context(argv[3], list(argv[4:]), parent=parent)


def test_every_service_runs_a_real_entry_point() -> None:
    app = importlib.import_module("workers.app").app
    routed = {route["queue"] for route in app.conf.task_routes.values()}
    declared = {q.name for q in app.conf.task_queues}
    ours = _ours()
    expected = {"migrate", "beat", "api", *(f"worker-{q}" for q in declared)}
    assert expected == set(ours)  # a worker service per queue, nothing more
    for name, svc in ours.items():
        argv = svc["command"]
        if argv[0] == "celery":
            params = _parse_celery(argv, app).params
            if argv[3] == "worker":
                assert set(params["queues"]) <= routed, (name, params["queues"])
                assert name == f"worker-{params['queues'][0]}"
                assert params["hostname"].startswith(f"{params['queues'][0]}@")  # what the healthcheck pings
            else:
                assert (name, argv[3]) == ("beat", "beat")
        else:
            _parse_newsmill(argv)
        health = svc.get("healthcheck", {}).get("test")
        if health:
            assert health[0] == "CMD"
            ctx = _parse_newsmill(health[1:])
            assert ctx.params["role"] in ROLES
            if ctx.params["role"] == "worker":
                assert ctx.params["queue"] == name.removeprefix("worker-")
    api = importlib.import_module("api.app")
    assert callable(api.create_app)
    assert "/healthz" in api.create_app(Settings()).openapi()["paths"]  # what the healthcheck asks


def test_long_running_services_have_health_restart_grace_and_limits() -> None:
    for name, svc in _compose()["services"].items():
        assert svc["deploy"]["resources"]["limits"]["memory"], name
        if name == "migrate":
            assert svc["restart"] == "no"
            continue
        assert "healthcheck" in svc, name
        assert svc["restart"] == "unless-stopped", name
        if "build" in svc:
            assert int(svc["stop_grace_period"].rstrip("s")) >= Settings().extract_time_limit, name
            assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_exactly_one_beat_io_pools_on_threads_and_a_cpu_sized_extract_pool() -> None:
    services = _compose()["services"]
    assert services["beat"]["deploy"]["replicas"] == 1
    extract = services["worker-extract"]["command"]
    assert "prefork" in extract
    assert "-c" not in extract  # Celery's default: one process per CPU
    for io_bound in ("worker-feeds", "worker-fetch", "worker-deliver"):
        assert "threads" in services[io_bound]["command"]
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--maxmemory-policy") + 1] == "noeviction"
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"


def test_every_file_compose_and_monitoring_refer_to_exists() -> None:
    compose = _compose()
    for name, svc in compose["services"].items():
        if "build" in svc:
            assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file(), name
            assert svc["env_file"] == [".env"]  # made from .env.example, below
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
    mounts = {v.split(":")[1]: DEPLOY / v.split(":")[0] for v in compose["services"]["prometheus"]["volumes"]}
    for rule_file in yaml.safe_load((MONITORING / "prometheus.yml").read_text())["rule_files"]:
        assert mounts[rule_file].is_file()
    grafana = {v.split(":")[1]: DEPLOY / v.split(":")[0] for v in compose["services"]["grafana"]["volumes"]}
    providers = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/newsmill.yaml").read_text())
    for provider in providers["providers"]:
        assert list(grafana[provider["options"]["path"]].glob("*.json"))
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    folder, _, file = home.rpartition("/")
    assert (grafana[folder] / file).is_file()


def test_env_example_lists_every_setting_and_every_compose_variable() -> None:
    listed = {
        line.split("=", 1)[0]
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    missing = {f"NEWSMILL_{name.upper()}" for name in Settings.model_fields} - listed
    assert not missing
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", (DEPLOY / "compose.yaml").read_text()))
    assert interpolated <= listed, interpolated - listed


def test_dockerfile_is_multi_stage_locked_and_unprivileged() -> None:
    lines = [ln.strip() for ln in (DEPLOY / "Dockerfile").read_text().splitlines() if ln.strip()]
    instructions = [ln for ln in lines if not ln.startswith("#")]
    assert sum(ln.startswith("FROM ") for ln in instructions) >= 2
    assert any(ln.startswith("COPY --from=build") for ln in instructions)
    syncs = [ln for ln in instructions if "uv sync" in ln]
    assert syncs
    assert all("--frozen" in ln for ln in syncs)
    final = instructions[max(i for i, ln in enumerate(instructions) if ln.startswith("FROM ")) :]
    user = [ln.split()[1] for ln in final if ln.startswith("USER ")]
    assert user
    assert user[-1] not in {"root", "0"}
    health = next(ln for ln in final if ln.startswith("HEALTHCHECK"))
    assert json.loads(health.split("CMD", 1)[1].strip())[:2] == ["newsmill", "healthcheck"]
    copied = set()
    for ln in instructions:
        if ln.startswith("COPY ") and "--from" not in ln:
            *sources, _dest = ln.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), source
                copied.add(source)
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert set(wheel["packages"]) | set(wheel["force-include"]) <= copied


def _exported_names(db_url: str, redis_url: str) -> set[str]:
    """Every series name newsmill exports: the workers' counters and histograms, the beat's gauges (read
    from a real database and Redis), the API's, and Prometheus' own ``up``."""
    from api.metrics import ApiMetrics  # noqa: PLC0415

    ours = [m for m in vars(metrics).values() if isinstance(m, Counter | Histogram)]  # every worker metric
    families = [f for m in ours for f in m.describe()]
    families += list(metrics.PipelineCollector(db_url, redis_url).collect())
    families += list(ApiMetrics().registry.collect())
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names = {"up"}
    for family in families:
        names |= {family.name + suffix for suffix in suffixes[family.type]}
    return names


def _metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    return set(re.findall(r"\b(newsmill_[a-z0-9_]+|up)\b", without_labels))


@pytest.mark.usefixtures("db")
def test_dashboard_and_alerts_use_only_exported_metrics(db_url: str, redis_url: str) -> None:
    exported = _exported_names(db_url, redis_url)
    assert "newsmill_collector_up" in exported  # the collector really read both services
    dashboard = json.loads((MONITORING / "grafana/dashboards/newsmill.json").read_text())
    datasource = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    uid = datasource["datasources"][0]["uid"]
    exprs = []
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        exprs += [t["expr"] for t in panel["targets"]]
    rules = [r for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    exprs += [r["expr"] for r in rules]
    for expr in exprs:
        names = _metric_names(expr)
        assert names, expr
        assert names <= exported, (expr, names - exported)
    # And the other way round: every series newsmill defines is charted or alerted on.
    charted = set().union(*(_metric_names(e) for e in exprs))
    unused = {n for n in exported - charted if not n.endswith(("_sum", "_count"))}
    assert not unused, unused


def test_every_alert_and_metric_is_documented() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    rules = [r for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    for rule in rules:
        assert rule["labels"]["severity"] in {"page", "warn"}
        assert rule["annotations"]["summary"]
        assert f"`{rule['alert']}`" in operations, rule["alert"]
    for name in re.findall(r'"(newsmill_[a-z_]+)"', (ROOT / "shared" / "metrics.py").read_text()):
        assert f"`{name}" in operations, name


def test_the_queues_reported_are_the_queues_the_app_declares() -> None:
    app = importlib.import_module("workers.app").app
    assert set(metrics.QUEUES) == {q.name for q in app.conf.task_queues}


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make services` (deploy/local-services.sh) installs Debian's prometheus"
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_prometheus_accepts_the_config_and_every_alert_passes_its_unit_tests(tmp_path: Path) -> None:
    # The rule file's path is where compose mounts it; point it at the file in the tree.
    config = (MONITORING / "prometheus.yml").read_text()
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/alerts.yml", str(MONITORING / "alerts.yml"))
    )
    checked = _promtool("check", "config", str(tmp_path / "prometheus.yml"), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", "alerts_test.yml", cwd=MONITORING)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # Each alert is tested both firing and quiet.
    alerts = {r["alert"] for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    cases = [
        c for t in yaml.safe_load((MONITORING / "alerts_test.yml").read_text())["tests"] for c in t["alert_rule_test"]
    ]
    assert {c["alertname"] for c in cases if c["exp_alerts"]} == alerts
    assert {c["alertname"] for c in cases if not c["exp_alerts"]} == alerts
