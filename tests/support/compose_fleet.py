"""The compose fleet as local processes: each service of deploy/compose.yaml run with its own command.

Only what a shared machine requires changes: `celery`/`newsmill` become this interpreter's modules, beat's
schedule file goes to the test's folder, the API listens on a free port of 127.0.0.1, and each process gets
its own NEWSMILL_METRICS_PORT (in compose every container has its own network namespace and uses 9100).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.embedded import free_port  # noqa: F401 (re-exported: the fleet tests take ports from here)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"


def compose_services() -> dict[str, dict[str, Any]]:
    """The services that run the newsmill image, as compose.yaml defines them."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return {name: svc for name, svc in services.items() if "build" in svc}


def grace_seconds(svc: dict[str, Any]) -> float:
    return float(svc["stop_grace_period"].rstrip("s"))


def local_argv(argv: list[str], tmp: Path, api_port: int | None = None) -> list[str]:
    """A compose command (or healthcheck) as a local command line."""
    program = {"celery": [sys.executable, "-m", "celery"], "newsmill": [sys.executable, "-m", "cli"]}[argv[0]]
    out = [*program, *argv[1:]]
    for i, arg in enumerate(out[:-1]):
        if arg == "--schedule":
            out[i + 1] = str(tmp / "celerybeat-schedule")
        elif arg == "--host":
            out[i + 1] = "127.0.0.1"
        elif arg == "--port" and api_port is not None:
            out[i + 1] = str(api_port)
    return out


@dataclass
class Service:
    """One running service: its process, its metrics port, its log files."""

    name: str
    argv: list[str]
    env: dict[str, str]
    metrics_port: int
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    exited_after: float | None = field(default=None)

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"{self.name}.err"

    def start(self) -> None:
        with (self.log_dir / f"{self.name}.out").open("ab") as out, self.stderr_path.open("ab") as err:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=out, stderr=err)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def stop_all(services: list[Service], grace: float) -> None:
    """SIGTERM every process at once (what `docker compose stop` does), then wait up to ``grace`` for each;
    one still running after that is killed (as Docker would) and keeps ``exited_after`` None."""
    started = time.monotonic()
    for svc in services:
        if svc.proc is not None and svc.proc.poll() is None:
            svc.proc.send_signal(signal.SIGTERM)
    for svc in services:
        assert svc.proc is not None
        try:
            svc.proc.wait(timeout=max(0.1, started + grace - time.monotonic()))
            svc.exited_after = time.monotonic() - started
        except subprocess.TimeoutExpired:
            svc.proc.kill()
            svc.proc.wait()


def wait_for(check: Any, timeout: float, what: str, services: list[Service], every: float = 0.5) -> Any:
    """Poll ``check()`` until it returns something truthy; fail with the logs of any process that died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        dead = [s for s in services if s.proc is not None and s.proc.poll() is not None]
        if dead:
            raise AssertionError(f"{dead[0].name} exited {dead[0].proc.returncode}: {dead[0].stderr()[-3000:]}")
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
