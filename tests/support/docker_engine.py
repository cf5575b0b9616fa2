"""A Docker engine of the compose test's own: its dockerd, data, sockets and cgroups, stopped and removed after.

It never touches another engine on the machine: its data root, exec root (containerd's state and sockets),
pidfile, API socket, config file and cgroup parent are all under one fresh folder (or named after it), and it
leaves the host's firewall and forwarding alone (`--iptables=false --ip-forward=false`, no default bridge).
Without iptables Docker cannot fence an `internal` network, so the test's networks also give the host no
address on their bridge (tests/fixtures/compose/test-override.yaml): a container reaches only its peers.

Running dockerd and mmdebstrap needs root: as another user, the privileged commands go through `sudo -n`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

# Debian packages: the engine (docker.io pulls containerd, runc and docker-init), compose (1.29, `docker-compose`)
# and the root filesystem builder of the base images.
PACKAGES = {"dockerd": "docker.io", "docker-compose": "docker-compose", "mmdebstrap": "mmdebstrap"}


def as_root(argv: list[str]) -> list[str]:
    return argv if os.geteuid() == 0 else ["sudo", "-n", *argv]


def install_missing_tools() -> None:
    """apt-get install what is missing of docker.io, docker-compose and mmdebstrap (no engine is started:
    Debian's policy-rc.d or the absence of systemd keeps the packaged service down, and we never use it)."""
    missing = [pkg for tool, pkg in PACKAGES.items() if not shutil.which(tool, path=_SYSTEM_PATH)]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = as_root(["apt-get", "install", "-y", "--no-install-recommends", *missing])
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run(as_root(["apt-get", "update"]), env=env, check=True)
        subprocess.run(install, env=env, check=True)


_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def docker_cli() -> str:
    """Debian's client, which matches its engine, before any other `docker` on PATH."""
    found = shutil.which("docker", path="/usr/bin") or shutil.which("docker")
    assert found, "no docker client: docker.io was not installed"
    return found


@dataclass
class DockerEngine:
    """A running dockerd: ``env`` points clients (docker, docker-compose) at it."""

    root: Path
    process: subprocess.Popen[bytes]

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def cgroup_parent(self) -> str:
        return self.root.name

    @property
    def env(self) -> dict[str, str]:
        # DOCKER_CONFIG: a client config of its own, so no credential helper or context of this user applies.
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_CONFIG": str(self.root / "client")}

    def docker(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run the docker client against this engine; raises with its output if it fails."""
        done = subprocess.run([docker_cli(), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip
        if done.returncode != 0:
            output = (done.stdout[-3000:] + done.stderr[-3000:]).strip()
            raise RuntimeError(f"docker {' '.join(args[:3])} failed ({done.returncode}):\n{output}")
        return done

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join((self.root / "dockerd.log").read_text(errors="replace").splitlines()[-lines:])


def _launch(root: Path) -> DockerEngine:
    (root / "client").mkdir()
    (root / "daemon.json").write_text("{}\n")  # not /etc/docker/daemon.json: another engine's settings
    argv = [
        "dockerd",
        f"--config-file={root / 'daemon.json'}",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--pidfile={root / 'dockerd.pid'}",
        f"--host=unix://{root / 'docker.sock'}",
        f"--cgroup-parent={root.name}",
        "--storage-driver=overlay2",
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-forward=false",
        "--ip-masq=false",
    ]
    if os.geteuid() != 0:
        argv.append(f"--group={os.getgid()}")  # the socket, for this user's clients
    with (root / "dockerd.log").open("wb") as log:
        process = subprocess.Popen(as_root(argv), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return DockerEngine(root, process)


def _wait_ready(engine: DockerEngine, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            raise RuntimeError(f"dockerd exited {engine.process.returncode}:\n{engine.log_tail()}")
        if engine.socket.exists():
            probe = subprocess.run([docker_cli(), "version"], env=engine.env, capture_output=True, check=False)
            if probe.returncode == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"dockerd did not answer within {timeout:.0f} s:\n{engine.log_tail()}")


def _pids_under(root: Path) -> list[int]:
    """Processes whose command line names our folder: dockerd, its containerd, their shims."""
    needle = str(root).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with suppress(OSError):
                if needle in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
    return pids


def _mounts_under(root: Path) -> list[str]:
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return sorted((p for p in points if p.startswith(f"{root}/")), key=len, reverse=True)


def _stop(engine: DockerEngine) -> None:
    """SIGTERM dockerd (it stops its containers and its containerd), then SIGKILL whatever of ours outlives
    a minute, unmount what is left under the folder, drop our cgroups and remove the folder."""
    root = engine.root
    pid_file = root / "dockerd.pid"
    if pid_file.exists() and engine.process.poll() is None:
        subprocess.run(as_root(["kill", "-TERM", pid_file.read_text().strip()]), check=False)
    with suppress(subprocess.TimeoutExpired):
        engine.process.wait(timeout=60)
    for _ in range(30):
        if not (left := _pids_under(root)):
            break
        subprocess.run(as_root(["kill", "-KILL", *map(str, left)]), check=False)
        time.sleep(0.5)
    for point in _mounts_under(root):
        subprocess.run(as_root(["umount", "--lazy", point]), check=False)
    cgroups = Path("/sys/fs/cgroup")
    for group in [cgroups / root.name, *(c / root.name for c in cgroups.iterdir())]:
        # Empty once every container stopped: rmdir from the leaves up, never a recursive removal.
        for directory in sorted((d for d in group.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)):
            subprocess.run(as_root(["rmdir", str(directory)]), check=False, stderr=subprocess.DEVNULL)
        if group.is_dir():
            subprocess.run(as_root(["rmdir", str(group)]), check=False, stderr=subprocess.DEVNULL)
    subprocess.run(as_root(["rm", "-rf", "--one-file-system", str(root)]), check=False)


@contextmanager
def own_engine() -> Iterator[DockerEngine]:
    """A fresh engine for the block, stopped and removed afterwards, whatever happens in the block."""
    install_missing_tools()
    # Short and under /tmp: containerd's sockets live in the exec root and a socket path has 107 bytes.
    engine = _launch(Path(tempfile.mkdtemp(prefix="nmct-", dir="/tmp")))
    try:
        _wait_ready(engine)
        yield engine
    finally:
        _stop(engine)
