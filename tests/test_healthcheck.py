"""`newsmill healthcheck` as a container runs it: one line saying why, exit 1, when a dependency is away."""

from __future__ import annotations

import subprocess
import sys

from harness.fleet import ROOT
from harness.processes import inherited_env
from shared.embedded import free_port


def test_a_worker_check_with_the_broker_away_says_so_in_one_line(db_url: str) -> None:
    env = inherited_env() | {
        "NEWSMILL_DATABASE_URL": db_url,
        "NEWSMILL_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    done = subprocess.run([sys.executable, "-m", "cli", "healthcheck", "worker", "fetch"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1
    output = (done.stdout + done.stderr).strip()
    assert output.startswith("unhealthy: cannot reach the broker:"), output
    assert "Traceback" not in output
