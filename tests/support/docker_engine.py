"""A Docker engine of the compose test's own: its dockerd, sockets and cgroups, stopped and removed after.

It never touches another engine on the machine: its exec root (containerd's state and sockets), pidfile, API
socket, config file and cgroup parent are under a fresh folder of /tmp (or named after it), its data root is
its own, and it leaves the host's firewall and forwarding alone (`--iptables=false --ip-forward=false`, no
default bridge). Without iptables Docker cannot fence an `internal` network, so the test's networks also give
the host no address on their bridge (tests/fixtures/compose/test-override.yaml): a container reaches only
its peers.

The data root (images, layer cache) is kept between runs in CACHE/engine, so a re-run finds its images built;
one run at a time holds it (a lock file), a concurrent run gets a fresh one in its /tmp folder. Containers,
volumes and networks never outlive a run. Running dockerd and mmdebstrap needs root: as another user, the
privileged commands go through `sudo -n`.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("NEWSMILL_COMPOSE_CACHE") or Path.home() / ".cache" / "newsmill-compose")
# Debian packages: the engine (docker.io pulls containerd, runc and docker-init), compose (1.29, `docker-compose`)
# and the root filesystem builder of the base images.
PACKAGES = {"dockerd": "docker.io", "docker-compose": "docker-compose", "mmdebstrap": "mmdebstrap"}
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PR_SET_PDEATHSIG = 1


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


def docker_cli() -> str:
    """Debian's client, which matches its engine, before any other `docker` on PATH."""
    found = shutil.which("docker", path="/usr/bin") or shutil.which("docker")
    assert found, "no docker client: docker.io was not installed"
    return found


@dataclass
class DockerEngine:
    """A running dockerd: ``env`` points clients (docker, docker-compose) at it."""

    run: Path  # this run's folder: sockets, pidfile, log, and the data root unless the cached one is used
    data: Path
    process: subprocess.Popen[bytes]

    @property
    def socket(self) -> Path:
        return self.run / "docker.sock"

    @property
    def env(self) -> dict[str, str]:
        # DOCKER_CONFIG: a client config of its own, so no credential helper or context of this user applies.
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_CONFIG": str(self.run / "client")}

    def docker(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run the docker client against this engine; raises with its output if it fails."""
        done = subprocess.run([docker_cli(), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip
        if done.returncode != 0:
            output = (done.stdout[-3000:] + done.stderr[-3000:]).strip()
            raise RuntimeError(f"docker {' '.join(args[:3])} failed ({done.returncode}):\n{output}")
        return done

    def remove_leftovers(self) -> None:
        """Containers, volumes and networks a killed earlier run left in the kept data root."""
        if containers := self.docker("ps", "-aq").stdout.split():
            self.docker("rm", "--force", "--volumes", *containers)
        self.docker("volume", "prune", "--force")
        self.docker("network", "prune", "--force")

    def cpu_seconds(self, container_id: str) -> float:
        """CPU time a running container has used, from its cgroup (v1 cpuacct or v2 cpu.stat) under ours."""
        v1 = Path("/sys/fs/cgroup/cpuacct") / self.run.name / container_id / "cpuacct.usage"
        if v1.exists():
            return int(v1.read_text()) / 1e9
        stat = (Path("/sys/fs/cgroup") / self.run.name / container_id / "cpu.stat").read_text()
        return int(dict(line.split() for line in stat.splitlines())["usage_usec"]) / 1e6

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join((self.run / "dockerd.log").read_text(errors="replace").splitlines()[-lines:])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, so no engine outlives a killed run."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _launch(run: Path, data: Path) -> DockerEngine:
    (run / "client").mkdir()
    (run / "daemon.json").write_text("{}\n")  # not /etc/docker/daemon.json: another engine's settings
    argv = [
        "dockerd",
        f"--config-file={run / 'daemon.json'}",
        f"--data-root={data}",
        f"--exec-root={run / 'exec'}",
        f"--pidfile={run / 'dockerd.pid'}",
        f"--host=unix://{run / 'docker.sock'}",
        f"--cgroup-parent={run.name}",
        "--storage-driver=overlay2",
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-forward=false",
        "--ip-masq=false",
    ]
    if os.geteuid() != 0:
        argv.append(f"--group={os.getgid()}")  # the socket, for this user's clients
    with (run / "dockerd.log").open("wb") as log:
        process = subprocess.Popen(as_root(argv), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_die_with_parent)  # noqa: PLW1509 - no threads run a prctl  # fmt: skip
    return DockerEngine(run, data, process)


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


def _pids_naming(*folders: Path) -> list[int]:
    """Processes whose command line names one of our folders: dockerd, its containerd, their shims."""
    needles = [str(f).encode() for f in folders]
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes()
                if any(n in cmdline for n in needles):
                    pids.append(int(proc.name))
    return pids


def _unmount_under(*folders: Path) -> None:
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    inside = [p for p in points if any(p.startswith(f"{f}/") for f in folders)]
    for point in sorted(inside, key=len, reverse=True):
        subprocess.run(as_root(["umount", "--lazy", point]), check=False)


def _stop(engine: DockerEngine) -> None:
    """SIGTERM dockerd (it stops its containers and its containerd), SIGKILL whatever of ours outlives a
    minute, unmount what is left, drop our cgroups and remove this run's folder."""
    pid_file = engine.run / "dockerd.pid"
    if pid_file.exists() and engine.process.poll() is None:
        subprocess.run(as_root(["kill", "-TERM", pid_file.read_text().strip()]), check=False)
    with suppress(subprocess.TimeoutExpired):
        engine.process.wait(timeout=60)
    for _ in range(30):
        if not (left := _pids_naming(engine.run, engine.data)):
            break
        subprocess.run(as_root(["kill", "-KILL", *map(str, left)]), check=False)
        time.sleep(0.5)
    _unmount_under(engine.run, engine.data)
    cgroups = Path("/sys/fs/cgroup")
    for group in [cgroups / engine.run.name, *(c / engine.run.name for c in cgroups.iterdir())]:
        # Empty once every container stopped: rmdir from the leaves up, never a recursive removal.
        for directory in sorted((d for d in group.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)):
            subprocess.run(as_root(["rmdir", str(directory)]), check=False, stderr=subprocess.DEVNULL)
        if group.is_dir():
            subprocess.run(as_root(["rmdir", str(group)]), check=False, stderr=subprocess.DEVNULL)
    subprocess.run(as_root(["rm", "-rf", "--one-file-system", str(engine.run)]), check=False)


def _kept_data_root(stack: ExitStack, log: Callable[[str], None]) -> Path | None:
    """CACHE/engine/data if no other run holds it (the lock is released when ``stack`` closes)."""
    kept = CACHE / "engine"
    kept.mkdir(parents=True, exist_ok=True)
    lock = stack.enter_context((kept / "lock").open("w"))
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log(f"another run holds {kept}: this one starts from an empty engine")
        return None
    # An engine of a run that died without stopping it would share the data root: stop it first.
    if stale := _pids_naming(kept / "data"):
        subprocess.run(as_root(["kill", "-TERM", *map(str, stale)]), check=False)
        time.sleep(10)
        subprocess.run(as_root(["kill", "-KILL", *map(str, _pids_naming(kept / "data"))]), check=False)
    _unmount_under(kept / "data")
    return kept / "data"


@contextmanager
def own_engine(log: Callable[[str], None]) -> Iterator[DockerEngine]:
    """An engine for the block, stopped afterwards whatever happens in the block; no container, volume or
    network of the block survives it."""
    install_missing_tools()
    with ExitStack() as stack:
        # Short and under /tmp: containerd's sockets live in the exec root and a socket path has 107 bytes.
        run = Path(tempfile.mkdtemp(prefix="nmct-", dir="/tmp"))
        engine = _launch(run, _kept_data_root(stack, log) or run / "data")
        try:
            _wait_ready(engine)
            engine.remove_leftovers()
            yield engine
        finally:
            with suppress(Exception):
                engine.remove_leftovers()
            _stop(engine)
