"""`$NEWSMILL_DATA_DIR/demo.env`: where a running `newsmill demo` is, for the commands run beside it.

The demo writes its servers' URLs and its API's port there and holds an exclusive lock on the file for as
long as it runs; it removes the file when it stops. A command finds the file locked, so current, and uses
each value whose variable is not set in its environment (an explicit variable always wins). A file nobody
locks was left by a demo that was killed: it is ignored. The file is also a shell script: `set -a; .
demo.env; set +a` exports the same variables to a shell.
"""

from __future__ import annotations

import fcntl
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from cli.errors import CommandError
from shared.settings import get_settings

FILE_NAME = "demo.env"
# What a command beside the demo needs: the servers, and the API's address (healthcheck api, subscription URLs).
VARIABLES = ("NEWSMILL_DATABASE_URL", "NEWSMILL_REDIS_URL", "NEWSMILL_API_PORT", "NEWSMILL_PUBLIC_URL")


def render(values: dict[str, str], pid: int) -> str:
    lines = [
        f"# Written by `newsmill demo` (pid {pid}) while it runs; removed when it stops. newsmill commands use",
        "# these values unless the variable is set; `set -a; . ./demo.env; set +a` exports them to a shell.",
    ]
    lines += [f"{name}={shlex.quote(values[name])}" for name in VARIABLES if name in values]
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, str]:
    """The NAME=value lines of the file (comments and unknown names ignored)."""
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() in VARIABLES:
            words = shlex.split(value, comments=True)
            values[name.strip()] = words[0] if words else ""
    return values


class DemoEnv:
    """The demo's claim on its data directory: the locked file, and what it tells other commands."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def publish(self, values: dict[str, str]) -> None:
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, render(values, os.getpid()).encode(), 0)


@contextmanager
def claim(root: Path) -> Iterator[DemoEnv]:
    """Lock ``root/demo.env`` (empty until published) until the block ends, then remove it. Taken first,
    before any server starts: a second demo on the same data directory stops there, before it could stop
    the first one's servers as leftovers of a killed run."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / FILE_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            running = parse(path.read_text(encoding="utf-8")).get("NEWSMILL_PUBLIC_URL", "starting")
            raise CommandError(f"another `newsmill demo` is running with the data directory {root} ({running}); "
                               "stop it first, or set NEWSMILL_DATA_DIR to another folder") from None  # fmt: skip
        os.ftruncate(fd, 0)
        try:
            yield DemoEnv(path, fd)
        finally:
            path.unlink(missing_ok=True)  # while still locked: no reader sees a file of a demo that stopped
    finally:
        os.close(fd)  # releases the lock


def read_running(root: Path) -> dict[str, str]:
    """The values of a running demo's file under ``root``; empty when there is none, or it is stale."""
    try:
        fd = os.open(root / FILE_NAME, os.O_RDONLY)
    except OSError:
        return {}
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # the demo holds it: it is running and the file is current
            with os.fdopen(os.dup(fd), encoding="utf-8") as f:
                return parse(f.read())
        return {}  # nobody holds it: left by a demo that was killed
    finally:
        os.close(fd)


def use_running_demo() -> dict[str, str]:
    """Put a running demo's values into this process's environment where the variable is unset; returns
    what was taken. Invalid settings are left for the command to report."""
    from shared.embedded import data_root  # noqa: PLC0415 - platformdirs, only when a command runs

    try:
        root = data_root(get_settings().data_dir)
    except ValidationError:
        return {}
    taken = {name: value for name, value in read_running(root).items() if name not in os.environ}
    if taken:
        os.environ.update(taken)
        get_settings.cache_clear()  # read the settings again, with the demo's values
    return taken
