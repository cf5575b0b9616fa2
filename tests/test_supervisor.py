"""The supervisor: real child processes are started, watched, and stopped with nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cli.supervisor import Child, RestartPolicy, Supervisor, fleet
from harness.fleet import ROOT
from harness.processes import marked_env, survivors
from shared.db.connection import pending_migrations
from shared.embedded import EmbeddedPostgres, free_port
from workers.app import QUEUES

# A child that ignores SIGTERM and has a child of its own (like a prefork pool): only SIGKILL and the
# process-group sweep end both.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(grandchild.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_stop_is_warm_then_forced_and_sweeps_grandchildren(tmp_path: Path) -> None:
    log = tmp_path / "children.log"
    sup = Supervisor(
        [Child("polite", [sys.executable, "-c", "import time; time.sleep(600)"]),
         Child("stubborn", [sys.executable, "-c", STUBBORN])],
        log=log,
    )  # fmt: skip
    sup.start()
    deadline = time.monotonic() + 20
    while not log.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.1)
    grandchild = int(log.read_text().split()[0])
    assert alive(grandchild)
    started = time.monotonic()
    codes = sup.stop(grace=2.0)
    assert codes["polite"] == -15  # SIGTERM ended it at once
    assert codes["stubborn"] == -9  # it ignored SIGTERM, so it was killed after the grace period
    assert time.monotonic() - started < 15
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(grandchild)  # swept with its parent's process group: no orphan


# Dies with status 1 the first time (like a worker the OOM killer took), then runs until stopped.
DIES_ONCE = """
import pathlib, sys, time
marker = pathlib.Path(sys.argv[1])
if not marker.exists():
    marker.write_text("died once")
    sys.exit(1)
time.sleep(600)
"""


def test_a_dead_child_is_restarted_after_a_backoff_logged_and_reported(tmp_path: Path) -> None:
    said: list[str] = []
    reports: list[dict[str, Any]] = []
    sup = Supervisor(
        [Child("worker", [sys.executable, "-c", DIES_ONCE, str(tmp_path / "marker")]),
         Child("steady", [sys.executable, "-c", "import time; time.sleep(600)"])],
        restart=RestartPolicy(base=0.3), on_report=reports.append, say=said.append,
    )  # fmt: skip
    sup.start()
    try:
        first_pid = sup.procs["worker"].pid
        restarted = sup.wait_until(lambda: sup.records["worker"].restarts == 1, poll_every=0.05, timeout=30)
        assert restarted
        assert sup.procs["worker"].pid != first_pid
        assert sup.procs["steady"].poll() is None  # the others were never touched
        assert said == ["worker exited with code 1; restarting it in 0.3 s",
                        f"restarted worker (restart 1, pid {sup.procs['worker'].pid})"]  # fmt: skip
        child = reports[-1]["children"]["worker"]
        assert (child["running"], child["restarts"], child["last_exit_code"], child["given_up"]) == (True, 1, 1, False)
        assert sup.wait_until(lambda: False, poll_every=0.1, timeout=1.0) is False  # timed out: nothing gave up
        assert sup.failed == []
    finally:
        sup.stop(grace=2.0)


def test_a_child_that_keeps_dying_is_given_up_on_after_the_limit() -> None:
    said: list[str] = []
    policy = RestartPolicy(base=0.05, maximum=0.15, max_restarts=3, window=60)
    sup = Supervisor([Child("crashy", [sys.executable, "-c", "raise SystemExit(3)"])], restart=policy, say=said.append)
    sup.start()
    started = time.monotonic()
    assert sup.wait_until(lambda: False, poll_every=0.02, timeout=60) is False
    assert time.monotonic() - started < 30  # gave up, did not time out
    assert sup.failed == ["crashy"]
    assert sup.records["crashy"].restarts == policy.max_restarts
    waits = [line.rsplit("in ", 1)[1] for line in said if "restarting it in" in line]
    assert waits == ["0.05 s", "0.1 s", "0.15 s"]  # doubling, capped at the policy's maximum
    assert said[-1] == "crashy exited with code 3; it died 4 times within 60 s: giving up"
    assert sup.stop(grace=1.0) == {"crashy": 3}


def test_children_get_their_own_process_group() -> None:
    """A terminal's Ctrl-C reaches the supervisor only; it stops the children in order."""
    sup = Supervisor([Child("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])])
    sup.start()
    try:
        pid = sup.procs["sleeper"].pid
        assert os.getpgid(pid) == pid != os.getpgid(0)
    finally:
        sup.stop(grace=2.0)


def test_fleet_has_every_queue_and_the_api_when_asked(tmp_path: Path) -> None:
    names = {c.name: c.argv for c in fleet(4, 2, api=True, beat_schedule=tmp_path / "schedule")}
    assert set(names) == {"beat", "worker-io", "worker-cpu", "worker-deliver", "api"}
    assert names["api"][-2:] == ["cli", "api"]
    assert names["beat"][-2:] == ["-s", str(tmp_path / "schedule")]
    queues = {q for argv in names.values() if "-Q" in argv for q in argv[argv.index("-Q") + 1].split(",")}
    assert queues == set(QUEUES)
    assert "api" not in {c.name for c in fleet(4, 2)}  # `run --until-idle` runs no API


def test_run_embedded_starts_migrates_and_stops_its_own_servers(tmp_path: Path) -> None:
    """`newsmill run --embedded --until-idle` on a machine with nothing configured: it starts PostgreSQL and
    Redis from the wheels, migrates, runs the fleet until idle, and leaves nothing running."""
    env, run_id = marked_env(NEWSMILL_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "cli", "run", "--embedded", "--until-idle", "--cpu-concurrency", "1", "--timeout", "90"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "NEWSMILL_DATABASE_URL=postgresql://postgres@127.0.0.1:" in done.stderr
    assert survivors(run_id) == []
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
    assert not (tmp_path / "redis" / "redis.pid").exists()
    pg = EmbeddedPostgres(tmp_path / "postgres", free_port())
    try:
        assert pending_migrations(pg.start()) == []
    finally:
        pg.stop()


def test_status_shows_each_supervisor_and_the_restarts_of_its_children() -> None:
    from cli.status import _print_supervisors, console  # noqa: PLC0415 - the status command's own printer

    report = {"host": "ingest-1", "pid": 42, "children": {
        "beat": {"running": True, "restarts": 0, "last_exit_code": None, "given_up": False},
        "worker-io": {"running": True, "restarts": 2, "last_exit_code": -9, "given_up": False},
        "worker-cpu": {"running": False, "restarts": 5, "last_exit_code": 1, "given_up": True},
    }}  # fmt: skip
    with console.capture() as captured:
        _print_supervisors([report])
    assert captured.get() == (
        "newsmill run on ingest-1 (pid 42): beat running; worker-io running, 2 restarts (last exit -9); "
        "worker-cpu given up, 5 restarts (last exit 1)\n"
    )


# A supervisor in its own process, killed outright below: its children must not outlive it.
ORPHANING = """
import sys, time
from cli.supervisor import Child, Supervisor
sup = Supervisor([Child("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])])
sup.start()
print(sup.procs["sleeper"].pid, flush=True)
time.sleep(600)
"""


def test_children_end_when_the_supervisor_is_killed_outright() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    supervisor = subprocess.Popen(
        [sys.executable, "-c", ORPHANING], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert supervisor.stdout is not None
    child = int(supervisor.stdout.readline())
    assert alive(child)
    supervisor.kill()  # SIGKILL: no handler, no stop(); only the kernel can tell the child
    supervisor.wait()
    supervisor.stdout.close()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child), "a child outlived its supervisor"
