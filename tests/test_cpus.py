"""The prefork pool's size inside a container: the cgroup CPU quota, not the host's CPU count."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from shared import cpus


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "200000 100000\n"}, 2.0),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_the_extract_pool_is_sized_to_the_containers_cpu_quota(
    tmp_path: Path, files: dict[str, str], quota: float | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cpus.cgroup_cpu_quota(tmp_path) == quota
    host = len(os.sched_getaffinity(0))
    assert cpus.available_cpus(tmp_path) == (min(host, math.ceil(quota)) if quota else host)
