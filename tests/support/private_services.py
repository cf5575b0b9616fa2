"""Private Redis and PostgreSQL servers for fault tests, which FLUSHALL and restart them freely.

The shared servers on 6379/5432 serve other test runs at the same time; these listen on free ports of
127.0.0.1 with their data in a temporary directory, and are gone when the block ends. PostgreSQL refuses to
run as root, so as root the cluster is created and run as the ``postgres`` OS user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis

from shared.embedded import free_port


def _wait(ready: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if callable(ready) and ready():
                return
        except (OSError, redis.RedisError, psycopg.Error):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout:g}s")


class PrivateRedis:
    """A redis-server without persistence on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        self.client = redis.Redis.from_url(self.url)
        _wait(self.client.ping, "redis-server")

    def flushall(self) -> None:
        self.client.flushall()

    def stop(self) -> None:
        self.client.close()
        self.proc.kill()
        self.proc.wait()


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (trust auth, no fsync) on a free port, restartable."""

    def __init__(self, root: Path) -> None:
        bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        self.bin = Path(bindir[-1]) if bindir else Path(shutil.which("pg_ctl") or "pg_ctl").parent
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.start()

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        argv = [*self.as_user, str(self.bin / tool), *args]
        subprocess.run(argv, check=check, capture_output=True, cwd=self.root, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "start", "-D", str(self.data), "-w", "-l", str(self.root / "log"), "-o", options)
        _wait(self._accepts_connections, "postgres")

    def _accepts_connections(self) -> bool:
        with psycopg.connect(self.admin_url, connect_timeout=2):
            return True

    def stop(self, mode: str = "fast", *, check: bool = True) -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-w", "-m", mode, check=check)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop (dropping every client connection), stay down ``down_for`` seconds, start again."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@contextmanager
def private_services() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    """A private PostgreSQL cluster and Redis server for the block; both removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="newsmill-faults-"))
    pg = PrivatePostgres(root)
    try:
        rd = PrivateRedis()
        try:
            yield pg, rd
        finally:
            rd.stop()
    finally:
        try:
            pg.stop("immediate", check=False)  # it may be down already if the test failed mid-restart
        finally:
            shutil.rmtree(root, ignore_errors=True)
