"""Sampling profile of the CPU worker's pool while the pipeline benchmark runs, with py-spy.

py-spy is run with ``uvx`` (a tool, not a project dependency) and attached to the extract+enrich worker with
``--subprocesses``, so pool processes started later are followed too. Its collapsed stacks are summed into
the functions that hold the CPU: by own time and, for our own code, including what they call.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.procs import cmdline, descendants

OURS = ("workers/", "shared/", "scheduler/")
TASKS = ("extract_items ", "enrich_items ", "extract_item ", "enrich_item ")
_WAITS = ("select ", "poll ", "wait ", "epoll", "_epoll", "recv", "read ", "accept", "sleep", "_recv",
          "Connection.wait ", "Condition.wait ", "Connection._recv ")  # fmt: skip


def _idle(frame: str) -> bool:
    return frame.startswith(_WAITS)


def _cpu_worker(root: int, wait: float = 60.0) -> int | None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for pid in descendants(root):
            if "-Q extract,enrich" in cmdline(pid):
                return pid
        time.sleep(0.2)
    return None


def attach(root: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Start py-spy on the CPU worker under ``root``; None when uvx or the worker is not there."""
    uvx = shutil.which("uvx")
    pid = _cpu_worker(root)
    if uvx is None or pid is None:
        return None
    # --idle: waits are recorded too, so the summary of task stacks shows where their wall time goes.
    argv = [uvx, "py-spy", "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate", "50",
            "--idle", "--format", "raw", "--output", str(out)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish(spy: subprocess.Popen[bytes], out: Path, top: int = 15) -> dict[str, Any]:
    """Stop py-spy (it writes its file on SIGINT or when the worker is gone) and summarise the stacks."""
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=30)
    if not out.exists():
        return {"error": "py-spy wrote no profile"}
    return summarise(out.read_text(encoding="utf-8", errors="replace"), top)


def _frame(raw: str) -> str:
    """``function (path/to/module.py:line)`` → ``function (module path tail)``, without the line."""
    name, _, where = raw.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def summarise(collapsed: str, top: int = 15) -> dict[str, Any]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    in_tasks: Counter[str] = Counter()  # own frames of samples taken inside a task: its wall time, waits too
    total = tasks = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        if any(f.startswith(TASKS) for f in frames):
            tasks += n
            in_tasks[frames[-1]] += n
        if _idle(frames[-1]):
            continue  # outside tasks, a waiting process is just idle
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    share = lambda n: round(n / total, 4) if total else 0.0  # noqa: E731
    return {
        "task_samples": tasks,
        "top_in_tasks_wall": [(f, round(n / tasks, 4)) for f, n in in_tasks.most_common(top)] if tasks else [],
        "samples": total,
        "top_own": [(f, share(n)) for f, n in own.most_common(top)],
        "top_inclusive_ours": [(f, share(n)) for f, n in inclusive.most_common() if f.split("(")[-1].startswith(OURS)][
            :top
        ],
        "top_inclusive_libraries": [
            (f, share(n)) for f, n in inclusive.most_common() if not f.split("(")[-1].startswith(OURS)
        ][:top],
    }
