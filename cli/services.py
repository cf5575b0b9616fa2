"""Which PostgreSQL and Redis a command uses: the configured servers, or embedded ones it starts and stops."""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console

from cli.errors import CommandError
from shared.db.connection import apply_migrations
from shared.embedded import EmbeddedPostgres, EmbeddedRedis, free_port, port_is_free
from shared.settings import get_settings

console = Console(stderr=True)


def require_broker(redis_url: str) -> None:
    """Fail before starting work, in one line (cli.errors), rather than later in every child's log."""
    import redis  # noqa: PLC0415 - only the commands that send work talk to the broker themselves

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
    try:
        client.ping()
    finally:
        client.close()


def start_services(stack: ExitStack, root: Path, pg_port: int, redis_port: int) -> tuple[str, str]:
    """The configured server for each of NEWSMILL_DATABASE_URL / NEWSMILL_REDIS_URL that is set, an embedded
    one (data under ``root``) for each that is not. ``stack`` stops what was started, Redis before PostgreSQL;
    the caller registers the fleet's stop after this, so the fleet stops first."""
    s = get_settings()
    database_url, redis_url = s.database_url, s.redis_url
    if "NEWSMILL_DATABASE_URL" not in os.environ:
        with console.status("starting the embedded PostgreSQL…"):
            pg = EmbeddedPostgres(root / "postgres", pg_port)
            stack.callback(pg.stop)
            database_url = pg.start()
    if "NEWSMILL_REDIS_URL" not in os.environ:
        with console.status("starting the embedded Redis…"):
            rd = EmbeddedRedis(root / "redis", redis_port)
            stack.callback(rd.stop)
            redis_url = rd.start()
    else:
        require_broker(redis_url)
    return database_url, redis_url


def stable_ports(state: Path, names: tuple[str, ...]) -> dict[str, int]:
    """Ports saved in ``state`` by an earlier run when they are free again, new free ones otherwise; saved."""
    saved = json.loads(state.read_text()) if state.exists() else {}
    ports = {n: saved[n] if isinstance(saved.get(n), int) and port_is_free(saved[n]) else free_port() for n in names}
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({**saved, **ports}))
    return ports


def use_embedded_services(stack: ExitStack, root: Path) -> None:
    """For `newsmill run --embedded`: start both servers on ports kept from run to run (so other commands
    can reach them: the URLs are printed), migrate, and make this process and its children use them."""
    from cli.demo_env import read_running  # noqa: PLC0415

    if read_running(root):  # its servers keep their data in the same folders: two clusters on one would clash
        raise CommandError(f"a `newsmill demo` is running with the data directory {root}: stop it first, or set "
                           "NEWSMILL_DATA_DIR to another folder")  # fmt: skip
    for name in ("NEWSMILL_DATABASE_URL", "NEWSMILL_REDIS_URL"):
        os.environ.pop(name, None)  # --embedded means embedded, whatever the environment says
    ports = stable_ports(root / "embedded.json", ("postgres", "redis"))
    database_url, redis_url = start_services(stack, root, ports["postgres"], ports["redis"])
    applied = apply_migrations(database_url)
    os.environ.update(NEWSMILL_DATABASE_URL=database_url, NEWSMILL_REDIS_URL=redis_url)
    get_settings.cache_clear()  # settings are read once per process: read them again with these URLs
    console.print(f"embedded services (data in {root}), {len(applied)} migration(s) applied; other commands use")
    console.print(f"  NEWSMILL_DATABASE_URL={database_url} NEWSMILL_REDIS_URL={redis_url}", soft_wrap=True)
