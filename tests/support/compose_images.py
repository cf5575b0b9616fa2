"""The compose test's images, made without a registry: base images from Debian packages, then the project's
image from the shipped deploy/Dockerfile, offline.

Base images: mmdebstrap makes a minbase root filesystem per image (Python runtime, PostgreSQL, Redis) from the
host's own apt sources, `docker import` loads it, and a small Dockerfile in tests/fixtures/compose/images/ adds
what the official image would (entrypoint, volume, stop signal). The build stage's base adds the wheel kit:
the pip and uv wheels and a uv cache that `uv sync --frozen` filled on the host from its package index, so
deploy/Dockerfile (only its base images given: PYTHON_IMAGE, BUILD_IMAGE) builds with `--network none`.

Both are cached between runs under NEWSMILL_COMPOSE_CACHE (default ~/.cache/newsmill-compose): the root
filesystems keyed on the Debian release, the apt sources and the recipes; the wheel kit on uv.lock,
pyproject.toml and the uv version the Dockerfile pins. A machine without the cache builds them (~2 min).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.support.docker_engine import CACHE, DockerEngine, as_root, docker_cli

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "tests" / "fixtures" / "compose" / "images"
# The release's own Python, the base image's: the lock's markers can depend on its exact version (redis needs
# async-timeout below 3.11.3), so the kit is filled for it, not for whatever Python runs the tests.
SYSTEM_PYTHON = "/usr/bin/python3"
KEEP = 3  # cache entries of each kind kept (other checkouts may use another lock file)

# Debian packages of each base image, on top of the minbase variant.
PACKAGES = {
    "python": ["python3", "ca-certificates", "passwd"],
    "postgres": ["postgresql"],
    "redis": ["redis-server"],
}
# PostgreSQL: no packaged cluster (the entrypoint makes its own in the volume), and no JIT (LLVM is 150 MB of
# the image; without llvmjit.so PostgreSQL turns JIT off for the session, as its docs say).
_DROP_CLUSTERS = """pg_lsclusters -h | while read v c _; do pg_dropcluster "$v" "$c"; done"""
_NO_JIT = ["/usr/lib/postgresql/*/lib/llvmjit*", "/usr/lib/postgresql/*/lib/bitcode/*", "/usr/lib/*/libLLVM*",
           "/usr/lib/*/libz3*"]  # fmt: skip
_OPTIONS = {
    "postgres": [
        f"--customize-hook=chroot \"$1\" sh -c '{_DROP_CLUSTERS}'",
        *(f"--dpkgopt=path-exclude={path}" for path in _NO_JIT),
    ],
}
# No manuals or translations; and no fsync per file (a third of the time): the tarball is written after.
_UNDOCUMENTED = [f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("man", "doc", "locale", "info")]
_SLIM = ["--dpkgopt=force-unsafe-io", *_UNDOCUMENTED]


@dataclass(frozen=True)
class Images:
    python: str
    python_build: str
    postgres: str
    redis: str
    newsmill: str


def debian_release() -> str:
    fields = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    return fields["VERSION_CODENAME"].strip('"')


def apt_sources() -> list[Path]:
    """The host's apt sources: the base images come from the mirror the host itself uses."""
    listed = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    return [p for p in listed if p.suffix in {".list", ".sources"} and p.is_file() and p.read_text().strip()]


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def _cached(kind: str, key: str, make: Callable[[Path], None], log: Callable[[str], None]) -> Path:
    """The cache folder ``kind-key``, made by ``make(folder)`` if absent; written aside, then renamed, so a
    concurrent or interrupted run never sees half of one."""
    CACHE.mkdir(parents=True, exist_ok=True)
    final = CACHE / f"{kind}-{key}"
    if final.is_dir():
        final.touch()
        log(f"{kind}: cached ({final})")
        return final
    began = time.monotonic()
    partial = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=CACHE))
    try:
        make(partial)
        try:
            partial.rename(final)
        except OSError:  # another run made it meanwhile
            subprocess.run(as_root(["rm", "-rf", str(partial)]), check=True)
    except BaseException:
        subprocess.run(as_root(["rm", "-rf", str(partial)]), check=False)
        raise
    log(f"{kind}: built in {time.monotonic() - began:.0f} s ({final})")
    stale = sorted(CACHE.glob(f"{kind}-*"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]
    for old in stale:
        subprocess.run(as_root(["rm", "-rf", str(old)]), check=False)
    return final


def _make_rootfs(folder: Path, release: str) -> None:
    """One mmdebstrap run per image, all three at once: each waits on downloads and the disk half the time,
    so together they take about one and a half cores."""

    def make(names: list[str]) -> None:
        for name in names:
            argv = ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(PACKAGES[name])}", *_SLIM]
            argv += [*_OPTIONS.get(name, []), release, str(folder / f"{name}.tar"), *map(str, apt_sources())]
            subprocess.run(as_root(argv), check=True)

    with ThreadPoolExecutor(len(PACKAGES)) as lanes:
        list(lanes.map(make, [[name] for name in PACKAGES]))


def _rootfs_key() -> str:
    recipe = repr((PACKAGES, _OPTIONS, _SLIM)).encode()
    return _digest(debian_release().encode(), recipe, *(p.read_bytes() for p in apt_sources()))


def rootfs(log: Callable[[str], None]) -> Path:
    """The three root filesystem tarballs (python.tar, postgres.tar, redis.tar) for the host's release."""
    release = debian_release()
    return _cached(f"rootfs-{release}", _rootfs_key(), lambda folder: _make_rootfs(folder, release), log)


def _uv_version() -> str:
    pinned = re.search(r"\buv==([\w.]+)", (ROOT / "deploy" / "Dockerfile").read_text())
    assert pinned, "deploy/Dockerfile no longer pins uv: the wheel kit must carry the version it installs"
    return pinned[1]


def _make_wheel_kit(folder: Path) -> None:
    """pip and uv wheels, plus a uv cache holding every locked wheel (sdists built) and the build backend."""
    (folder / "wheels").mkdir()
    pip_download = [SYSTEM_PYTHON, "-m", "pip"] if _has_pip() else [_uv(), "tool", "run", "pip"]
    subprocess.run([*pip_download, "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--dest", str(folder / "wheels"), f"uv=={_uv_version()}", "pip"], check=True)  # fmt: skip
    shutil.copy2(RECIPES / "pip", folder / "pip")
    # `uv sync` of a copy of the project fills the cache exactly as the image's build will read it: the lock's
    # wheels, the sdists built, and hatchling for building the project itself.
    with tempfile.TemporaryDirectory(prefix="nmct-project-") as scratch:
        project = Path(scratch) / "project"
        project.mkdir()
        for name in ("pyproject.toml", "uv.lock", "README.md"):
            shutil.copy2(ROOT / name, project / name)
        wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
        for package in [*wheel["packages"], *wheel["force-include"]]:
            shutil.copytree(ROOT / package, project / package, ignore=shutil.ignore_patterns("__pycache__"))
        env = {**os.environ, "UV_CACHE_DIR": str(folder / "uv-cache"), "UV_PROJECT_ENVIRONMENT": f"{scratch}/venv",
               "UV_PYTHON_DOWNLOADS": "never", "UV_LINK_MODE": "copy"}  # fmt: skip
        subprocess.run([_uv(), "sync", "--quiet", "--frozen", "--no-dev", "--no-editable", "--python", SYSTEM_PYTHON],
                       cwd=project, env=env, check=True)  # fmt: skip


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in UV
    assert found, "uv is missing: `make setup` installs it"
    return found


_VERSION = "import platform; print(platform.python_version())"


def _python_version(python: str) -> str:
    return subprocess.run([python, "-c", _VERSION], capture_output=True, text=True, check=True).stdout.strip()


def _has_pip() -> bool:
    return subprocess.run([SYSTEM_PYTHON, "-m", "pip", "--version"], capture_output=True, check=False).returncode == 0


def _wheel_kit_key() -> str:
    inputs = [ROOT / "uv.lock", ROOT / "pyproject.toml", RECIPES / "pip"]
    return _digest(_python_version(SYSTEM_PYTHON).encode(), _uv_version().encode(), *(p.read_bytes() for p in inputs))


def wheel_kit(log: Callable[[str], None]) -> Path:
    """The build stage's wheels, for the host's release (its Python is the base image's)."""
    return _cached(f"wheels-{debian_release()}", _wheel_kit_key(), _make_wheel_kit, log)


def build_images(engine: DockerEngine, log: Callable[[str], None]) -> Images:
    """Every image the compose test runs, in ``engine``: the bases (kept in the engine's data root, else
    loaded from the cache, made if missing), then the project's image from deploy/Dockerfile, offline."""
    tag = f"{_rootfs_key()}-{_wheel_kit_key()}"
    images = Images(*(f"newsmill-test/{n}:{tag}" for n in ("python", "python-build", "postgres", "redis")),
                    newsmill="newsmill-test/newsmill:latest")  # fmt: skip
    bases = [images.python, images.python_build, images.postgres, images.redis]
    if all(_present(engine, image) for image in bases):
        log("base images: in the engine already")
    else:
        _load_bases(engine, images, tag, log)
    began = time.monotonic()
    # The build stage under a tag of its own first: its layers (the installed dependencies) then survive the
    # pruning below, and the next run's build starts from them.
    stage = "newsmill-test/newsmill-build:latest"
    for tag, target in ((stage, ["--target=build"]), (images.newsmill, [])):
        _build(engine, tag, ROOT / "deploy" / "Dockerfile", ROOT, *target,
               PYTHON_IMAGE=images.python, BUILD_IMAGE=images.python_build)  # fmt: skip
    log(f"newsmill image built from deploy/Dockerfile in {time.monotonic() - began:.0f} s")
    _drop_other_images(engine, {*bases, stage, images.newsmill})
    return images


def _load_bases(engine: DockerEngine, images: Images, tag: str, log: Callable[[str], None]) -> None:
    with ThreadPoolExecutor(2) as pool:  # the wheel kit is downloads: alongside the root filesystems
        kit_made = pool.submit(wheel_kit, log)
        tars, kit = rootfs(log), kit_made.result()
    began = time.monotonic()
    for name, image in (("python", images.python), ("postgres", images.postgres), ("redis", images.redis)):
        engine.docker("import", str(tars / f"{name}.tar"), f"newsmill-test/rootfs-{name}:{tag}")
        _build(engine, image, RECIPES / f"{name}.Dockerfile", RECIPES, ROOTFS=f"newsmill-test/rootfs-{name}:{tag}")
        engine.docker("rmi", f"newsmill-test/rootfs-{name}:{tag}")  # the image above keeps its layer
    _build(engine, images.python_build, RECIPES / "python-build.Dockerfile", kit, PYTHON_IMAGE=images.python)
    # The kit's wheels were chosen for the host's Python: the release's, the same as the base image's.
    theirs = engine.docker("run", "--rm", "--network=none", images.python, "python3", "-c", _VERSION).stdout.strip()
    assert theirs == _python_version(SYSTEM_PYTHON), f"base image's Python {theirs}, {SYSTEM_PYTHON}'s differs"
    log(f"base images loaded in {time.monotonic() - began:.0f} s")


def _present(engine: DockerEngine, image: str) -> bool:
    probe = subprocess.run([docker_cli(), "image", "inspect", image], env=engine.env, capture_output=True, check=False)
    return probe.returncode == 0


def _drop_other_images(engine: DockerEngine, keep: set[str]) -> None:
    """Earlier keys' images and the project's previous builds: the kept data root holds only this run's
    (and the layers they are made of)."""
    listed = engine.docker("images", "--filter=dangling=false", "--format={{.Repository}}:{{.Tag}}")  # all ours
    if stale := [image for image in listed.stdout.split() if image not in keep]:
        engine.docker("rmi", *stale)
    engine.docker("image", "prune", "--force")  # untagged: what a new build replaced


def _build(engine: DockerEngine, tag: str, dockerfile: Path, context: Path, *options: str, **args: str) -> None:
    build_args = [f"--build-arg={name}={value}" for name, value in args.items()]
    engine.docker("build", "--network=none", "--force-rm", *options, *build_args, f"--file={dockerfile}",
                  f"--tag={tag}", str(context), timeout=1200)  # fmt: skip
