"""$NEWSMILL_DATA_DIR/demo.env: commands run beside a demo find its servers; an explicit variable wins; a
file left by a killed demo is ignored; a second demo on the same data directory is refused. A process that
claims the file stands in for the demo (tests/test_demo.py runs the real one and the commands beside it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from cli.demo_env import FILE_NAME, claim, parse, read_running, render
from cli.errors import CommandError
from harness.fleet import ROOT
from harness.processes import inherited_env
from shared.embedded import free_port

NEWSMILL = str(Path(sys.executable).with_name("newsmill"))
HOLDER = """
import sys
from pathlib import Path
from cli.demo_env import claim
with claim(Path(sys.argv[1])) as demo_env:
    demo_env.publish(dict(zip(sys.argv[2::2], sys.argv[3::2])))
    print("published", flush=True)
    sys.stdin.read()  # until the test closes it (or kills this process)
"""


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"NEWSMILL_DATABASE_URL": "postgresql://postgres@127.0.0.1:5433/newsmill"},
        {"NEWSMILL_DATABASE_URL": "postgresql://u:p%40ss@h/db?sslmode=require", "NEWSMILL_REDIS_URL": "redis://h/0",
         "NEWSMILL_API_PORT": "8123", "NEWSMILL_PUBLIC_URL": "http://127.0.0.1:8123"},
        {"NEWSMILL_PUBLIC_URL": "http://x.example/a b'c\"d"},  # quoted for a shell, read back whole
    ],
)  # fmt: skip
def test_the_file_reads_back_what_was_written(values: dict[str, str]) -> None:
    text = render(values, pid=42)
    assert parse(text) == values
    assert "pid 42" in text


def test_unknown_names_and_comments_are_ignored() -> None:
    assert parse("# NEWSMILL_REDIS_URL=x\nPATH=/bin\nNEWSMILL_API_PORT=9 # port\n") == {"NEWSMILL_API_PORT": "9"}


@contextmanager
def demo_standing_in(root: Path, values: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    argv = [sys.executable, "-c", HOLDER, str(root), *[x for kv in values.items() for x in kv]]
    with subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "published"
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()


def newsmill(root: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NEWSMILL, *argv], env=inherited_env() | {"NEWSMILL_DATA_DIR": str(root)} | env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_commands_beside_a_running_demo_use_its_servers(
    tmp_path: Path, db_url: str, redis_url: str, db: psycopg.Connection
) -> None:
    db.execute("INSERT INTO topics (slug, name, rules) VALUES ('sport', 'Sport', '{\"any\": [\"goal\"]}')")
    public = f"http://127.0.0.1:{free_port()}"
    values = {"NEWSMILL_DATABASE_URL": db_url, "NEWSMILL_REDIS_URL": redis_url, "NEWSMILL_PUBLIC_URL": public}
    root = tmp_path / "data"
    with demo_standing_in(root, values) as holder:
        assert read_running(root) == values
        status = newsmill(root, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert '"feeds_total": 0' in status.stdout
        added = newsmill(root, "subscriptions", "add", "--email", "ed@news.example", "--topics", "sport")
        assert added.returncode == 0, added.stderr
        assert f"atom: {public}/subscriptions/" in added.stdout
        assert db.execute("SELECT count(*) FROM subscriptions").fetchone() == (1,)
        # A variable set explicitly wins over the file.
        elsewhere = f"postgresql://postgres@127.0.0.1:{free_port()}/newsmill"
        explicit = newsmill(root, "feeds", "list", NEWSMILL_DATABASE_URL=elsewhere)
        assert (explicit.returncode, elsewhere in explicit.stderr) == (1, True), explicit.stderr
        # The demo does not take another demo's servers, nor does `run --embedded` start its own on the same
        # data: both are refused before they start anything.
        second = newsmill(root, "demo", "--exit")
        assert second.returncode == 2
        assert "another `newsmill demo` is running with the data directory" in second.stderr
        embedded = newsmill(root, "run", "--embedded", "--until-idle")
        assert embedded.returncode == 2
        assert "a `newsmill demo` is running with the data directory" in embedded.stderr
        assert not (root / "postgres").exists()
        with pytest.raises(CommandError, match="another `newsmill demo` is running"), claim(root):
            pass
        os.kill(holder.pid, signal.SIGKILL)  # as a demo killed before it could remove its file
        holder.wait(timeout=30)
    assert (root / FILE_NAME).exists()
    assert read_running(root) == {}  # nobody holds it: stale, ignored
    with claim(root) as demo_env:  # the next demo takes it over
        assert demo_env.path.read_text() == ""
    assert not (root / FILE_NAME).exists()  # and removes it when it stops
