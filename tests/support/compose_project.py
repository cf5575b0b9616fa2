"""The shipped compose fleet in a test engine: deploy/compose.yaml plus the test override, and what an ops
person types against it (up, ps, exec, restart, kill, down, scale), each a `docker-compose` command line.

The project folder holds only `.env` (deploy/.env.example with the test's values) and is given with
``--project-directory``, so `env_file: [.env]` and the variables resolve there and deploy/ stays untouched.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from shared.embedded import free_port
from tests.support.compose_images import ROOT, Images
from tests.support.docker_engine import DockerEngine, docker_cli

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
OVERRIDE = ROOT / "tests" / "fixtures" / "compose" / "test-override.yaml"
PROJECT = "newsmilltest"
SITE = "http://site:8080"
PAGES_DIR = ROOT / "tests" / "fixtures" / "pages"  # the saved pages the site serves (copies beyond them)
T = TypeVar("T")
_GET = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())"

# The test's settings, over .env.example's: the site is one private host of ours (private addresses allowed:
# the network reaches nothing else; as many requests at once as fetch threads), fetched at most five pages
# a second, so that a feed of 50 is still flowing when the test kills and restarts workers; and lost work is
# re-sent after 30 s instead of 5 min, so a killed worker's item comes back within the test.
TEST_SETTINGS = {
    "NEWSMILL_HOST_MIN_DELAY": "0.2",
    "NEWSMILL_HOST_MAX_CONCURRENCY": "64",
    "NEWSMILL_ALLOW_PRIVATE_HOSTS": "true",
    "NEWSMILL_STUCK_AFTER": "30",
    "NEWSMILL_SWEEP_EVERY": "5",
    "NEWSMILL_PUBLIC_URL": "http://api:8000",
}


def compose_command() -> list[str]:
    """Debian's docker-compose (1.29), else the client's `docker compose` plugin: the same arguments."""
    return [found] if (found := shutil.which("docker-compose")) else [docker_cli(), "compose"]


def write_env(path: Path, images: Images, pages: int, pages_dir: Path = PAGES_DIR, **extra: str) -> None:
    """``path``: deploy/.env.example with the test's values in place of its own, then the override's."""
    password = secrets.token_hex(12)
    values = {
        **TEST_SETTINGS,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "POSTGRES_PASSWORD": password,
        "NEWSMILL_DATABASE_URL": f"postgresql://newsmill:{password}@postgres:5432/newsmill",
        "NEWSMILL_IMAGE": images.newsmill,
        "API_PUBLISH": f"127.0.0.1:{free_port()}",  # never 8000: other programs of this machine may use it
        "TEST_POSTGRES_IMAGE": images.postgres,
        "TEST_REDIS_IMAGE": images.redis,
        "TEST_SOURCE": str(ROOT),
        "TEST_PAGES_DIR": str(pages_dir),
        "TEST_SITE_PAGES": str(pages),
        **extra,
    }
    lines = []
    for line in (ROOT / "deploy" / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values.pop(name)}" if not line.startswith("#") and name in values else line)
    lines += [f"{name}={value}" for name, value in values.items()]
    path.write_text("\n".join(lines) + "\n")


def wait_until(check: Callable[[], T], timeout: float, what: str, every: float = 2.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Fleet:
    engine: DockerEngine
    directory: Path
    overrides: tuple[Path, ...] = (OVERRIDE,)

    def argv(self, *args: str) -> list[str]:
        files = [arg for f in (COMPOSE_FILE, *self.overrides) for arg in ("-f", str(f))]
        return [*compose_command(), *files, "--project-directory", str(self.directory), *args]

    def compose(self, *args: str, stdin: str | None = None, timeout: float = 600) -> str:
        argv = self.argv(*args)
        done = subprocess.run(argv, env=self.engine.env, input=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip
        if done.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return done.stdout

    def exec(self, service: str, *argv: str, index: int = 1, stdin: str | None = None) -> str:
        return self.compose("exec", "-T", f"--index={index}", service, *argv, stdin=stdin)

    def sql(self, query: str) -> list[list[str]]:
        """Rows of ``query``, run by psql in the postgres service (tab-separated, unaligned)."""
        out = self.exec("postgres", "psql", "-U", "newsmill", "-d", "newsmill", "-AtX", "-F", "\t", "-c", query)
        return [line.split("\t") for line in out.splitlines()]

    @contextmanager
    def holding(self, statement: str) -> Iterator[None]:
        """A psql session in the postgres service that runs ``statement`` in a transaction and keeps the
        transaction (and its locks) open until the block ends, then rolls back."""
        psql = ["psql", "-U", "newsmill", "-d", "newsmill", "-AtX", "-v", "ON_ERROR_STOP=1"]
        session = subprocess.Popen(self.argv("exec", "-T", "postgres", *psql), env=self.engine.env, text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        assert session.stdin is not None
        assert session.stdout is not None
        try:
            session.stdin.write(f"BEGIN;\n{statement};\n\\echo held\n")
            session.stdin.flush()
            for line in session.stdout:
                if line.strip() == "held":
                    break
            else:
                raise AssertionError(f"psql ended before holding {statement!r}")
            yield
        finally:
            session.communicate("ROLLBACK;\n", timeout=60)

    def get(self, url: str, service: str = "site", index: int = 1) -> str:
        """GET ``url`` from a container of ``service``; by default the site's: a peer on the fleet's network,
        as a reader's host would be."""
        return self.exec(service, "python", "-c", _GET, url, index=index)

    def metrics(self, service: str, index: int = 1, url: str = "http://127.0.0.1:9100/metrics") -> dict[str, float]:
        """One container's Prometheus samples, ``name{label="value",...}`` (labels sorted) → value."""
        text = self.get(url, service, index)
        samples = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                samples[f"{s.name}{{{labels}}}"] = s.value
        return samples

    def containers(self) -> list[dict[str, Any]]:
        """`docker inspect` of every container of the project, stopped ones included."""
        ids = self.engine.docker("ps", "-aq", f"--filter=label=com.docker.compose.project={PROJECT}").stdout.split()
        return json.loads(self.engine.docker("inspect", *ids).stdout) if ids else []

    def service_containers(self, service: str) -> list[dict[str, Any]]:
        return [c for c in self.containers() if c["Config"]["Labels"]["com.docker.compose.service"] == service]

    def wait_healthy(self, timeout: float = 300, *, unchecked: frozenset[str] = frozenset()) -> None:
        """Until every container is healthy (each service's compose healthcheck; services in ``unchecked``,
        whose checks do not run yet, need only be running) and `migrate` exited 0. A container that exits
        fails at once; one that stays unhealthy fails at the timeout, with its last check and its log
        (a loaded machine can make a check time out now and then: Docker recovers from that, so do we)."""
        waiting: list[dict[str, Any]] = []

        def all_healthy() -> bool:
            containers = self.containers()
            waiting[:] = [] if containers else [{}]
            for c in containers:
                service, state = c["Config"]["Labels"]["com.docker.compose.service"], c["State"]
                if service == "migrate":
                    done = state["Status"] == "exited"
                    assert not done or state["ExitCode"] == 0, self.compose("logs", "--tail=50", service)
                    if not done:
                        waiting.append(c)
                    continue
                assert state["Status"] == "running", (service, state["Status"], self._logs(c))
                if state.get("Health", {}).get("Status") != "healthy" and service not in unchecked:
                    waiting.append(c)
            return not waiting

        try:
            wait_until(all_healthy, timeout, "every service healthy", every=3)
        except AssertionError as timed_out:
            last = [(c["Name"], c["State"].get("Health", {}).get("Log", [{}])[-1], self._logs(c)) for c in waiting if c]
            raise AssertionError(f"{timed_out}: {last}") from None

    def health_check_seconds(self) -> dict[str, float]:
        """Mean wall time of each service's recent health checks (Docker keeps the last five)."""
        spans: dict[str, list[float]] = {}
        for c in self.containers():
            for check in c["State"].get("Health", {}).get("Log", []):
                began, ended = (datetime.fromisoformat(check[k][:26].rstrip("Z")) for k in ("Start", "End"))
                spans.setdefault(c["Config"]["Labels"]["com.docker.compose.service"], []).append(
                    (ended - began).total_seconds()
                )
        return {service: round(sum(v) / len(v), 1) for service, v in sorted(spans.items())}

    def _logs(self, container: dict[str, Any]) -> str:
        return self.engine.docker("logs", "--tail=40", container["Id"]).stderr[-3000:]
