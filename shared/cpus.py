"""How many CPUs this process may really use: a container's CPU quota, else its CPU affinity.

Celery sizes a prefork pool with ``os.cpu_count()``, which inside a container is the *host's* count: a
worker limited to 2 CPUs on a 64-core host would fork 64 processes and run out of memory. This reads the
cgroup quota (what `docker compose`'s ``deploy.resources.limits.cpus`` sets) instead.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def cgroup_cpu_quota(root: Path = CGROUP) -> float | None:
    """CPUs allowed by the cgroup (v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us``); None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us


def available_cpus(root: Path = CGROUP) -> int:
    """Whole CPUs for this process: the affinity mask, capped by the cgroup quota (rounded up), at least 1."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_cpu_quota(root)
    return max(1, min(count, math.ceil(quota)) if quota else count)
