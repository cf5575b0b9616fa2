"""The prefork pool's size inside a container: the cgroup CPU quota, not the host's CPU count."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared import cpus


@pytest.mark.parametrize(
    ("files", "quota", "usable"),
    [
        ({"cpu.max": "200000 100000\n"}, 2.0, 2),
        ({"cpu.max": "150000 100000\n"}, 1.5, 2),  # a part of a CPU still needs a process
        ({"cpu.max": "max 100000\n"}, None, 8),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0, 3),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None, 8),
        ({"cpu.max": "1600000 100000\n"}, 16.0, 8),  # a quota above the affinity mask: the mask wins
        ({}, None, 8),
    ],
)
def test_the_extract_pool_is_sized_to_the_containers_cpu_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], quota: float | None, usable: int
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)), raising=False)  # an 8-CPU host
    assert cpus.cgroup_cpu_quota(tmp_path) == quota
    assert cpus.available_cpus(tmp_path) == usable
