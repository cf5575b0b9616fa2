"""Finding every process a command started, however deep, by a marker in the environment they inherit."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

MARKER = "NEWSMILL_TEST_RUN_MARKER"


# A data directory of this test session's own, empty: a child command must not find the demo.env of a demo a
# developer runs beside the tests (cli.demo_env) and take its servers. Tests that need one pass their own.
_DATA_DIR = tempfile.TemporaryDirectory(prefix="newsmill-test-data-")


def inherited_env() -> dict[str, str]:
    """This process's environment without NEWSMILL_ variables or its metrics folder, for a child command;
    NEWSMILL_DATA_DIR is an empty folder of this test session."""
    # Each process gets its own metrics folder (see cli.supervisor.child_env).
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMILL_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    return env | {"NEWSMILL_DATA_DIR": _DATA_DIR.name}


def marked_env(**extra: str) -> tuple[dict[str, str], str]:
    """``inherited_env()`` plus ``extra`` and a fresh marker; returns (env, marker)."""
    run_id = uuid.uuid4().hex
    env = inherited_env()
    env.update(extra, **{MARKER: run_id})
    return env, run_id


def survivors(run_id: str, settle: float = 10.0) -> list[str]:
    """Command lines of live processes carrying the marker (zombies have no environment: they are not
    counted), after giving processes that are just exiting ``settle`` seconds."""
    deadline = time.monotonic() + settle
    while True:
        found = _marked(run_id)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _marked(run_id: str) -> list[str]:
    needle = f"{MARKER}={run_id}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found
