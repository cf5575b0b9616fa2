"""Every command under every foreseeable failure, as a new user meets them: one line, no traceback, the
documented exit status (README.md, "Exit status"). The real `newsmill` console script runs in subprocesses
against real PostgreSQL and Redis, or a port where nothing listens; a few at a time, to keep this quick."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from harness.fleet import ROOT
from harness.processes import inherited_env
from harness.shared_services import create_database, database_url, drop_database
from shared.embedded import free_port

NEWSMILL = str(Path(sys.executable).with_name("newsmill"))  # the console script of this environment
SEED_TOPICS = ROOT / "seeds" / "topics.yaml"
SEED_OPML = ROOT / "seeds" / "feeds.opml"
ARTICLE = ROOT / "seeds" / "000_1f54b0fcd0170c75.txt"
PAGE = ROOT / "tests" / "fixtures" / "seed" / "seed_page.html"
# Root reads any file: without these two capabilities it meets permissions as any user does.
AS_A_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []

# The commands that read or write the database, with arguments that would work on a ready one.
DB_COMMANDS: list[tuple[str, ...]] = [
    ("status",),
    ("feeds", "add", "https://news.example/feed.xml"),
    ("feeds", "import", str(SEED_OPML)),
    ("feeds", "list"),
    ("feeds", "remove", "1"),
    ("topics", "load", str(SEED_TOPICS)),
    ("topics", "list"),
    ("topics", "test", "sport", str(ARTICLE)),
    ("topics", "retag"),
    ("tail",),
    ("tail", "--topic", "sport"),
    ("reprocess", "--since", "7d"),
    ("subscriptions", "add", "--email", "ed@news.example", "--topics", "sport"),
    ("subscriptions", "list"),
    ("subscriptions", "revoke", "1"),
    ("subscriptions", "resume", "1"),
    ("subscriptions", "log", "1"),
    ("run", "--until-idle", "--timeout", "30"),
]
HEALTHCHECKS: list[tuple[str, ...]] = [
    ("healthcheck", "db"),
    ("healthcheck", "beat"),
    ("healthcheck", "worker", "fetch"),
    ("healthcheck", "api"),
]
NO_DB_COMMANDS: list[tuple[str, ...]] = [("extract", str(PAGE)), ("api",), ("demo", "--exit")]


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    env: dict[str, str]
    code: int
    says: str | tuple[str, ...]  # in the one line (a tuple: any of these)
    prefix: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    case: Case
    code: int
    stdout: str
    stderr: str

    def problems(self) -> list[str]:
        """How the run differs from one line, the expected status and wording (empty: as expected)."""
        found = []
        if self.code != self.case.code:
            found.append(f"exit {self.code}, expected {self.case.code}")
        healthcheck = self.case.argv[0] == "healthcheck"
        lines = [line for line in (self.stdout if healthcheck else self.stderr).splitlines() if line.strip()]
        if len(lines) != 1:
            found.append(f"{len(lines)} lines, expected one")
        elif not lines[0].startswith("unhealthy: " if healthcheck else "newsmill"):
            found.append(f"line does not start as expected: {lines[0]!r}")
        alternatives = (self.case.says,) if isinstance(self.case.says, str) else self.case.says
        if not any(alternative in " ".join(lines) for alternative in alternatives):
            found.append(f"does not say {self.case.says!r}")
        if "Traceback" in self.stdout + self.stderr:
            found.append("a traceback")
        return found


def run(case: Case) -> Outcome:
    done = subprocess.run([*case.prefix, NEWSMILL, *case.argv], env=case.env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    return Outcome(case, done.returncode, done.stdout, done.stderr)


def check_all(cases: list[Case]) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(run, cases))
    failures = [
        f"newsmill {' '.join(o.case.argv)}: {'; '.join(p)}\n  out: {o.stdout[-600:]!r}\n  err: {o.stderr[-600:]!r}"
        for o in outcomes
        if (p := o.problems())
    ]
    assert not failures, f"{len(failures)} of {len(cases)} runs:\n" + "\n".join(failures)


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """No NEWSMILL_ variable of ours; a data directory of the test's own (no demo.env of a demo running here)."""
    return inherited_env() | {"NEWSMILL_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "80"}


@pytest.fixture
def unmigrated_url() -> Iterator[str]:
    name = f"nm_t_{uuid.uuid4().hex[:12]}"
    yield create_database(name)
    drop_database(name)


def add_topic(db_url: str, slug: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO topics (slug, name, rules) VALUES (%s, %s, %s)", (slug, slug, '{"any": ["x"]}'))


def closed_port() -> int:
    return free_port()


def condition(name: str, request: pytest.FixtureRequest) -> tuple[dict[str, str], int, str]:
    """The environment that creates a condition, the exit status it must give, what the line must say."""
    match name:
        case "database missing":
            return {"NEWSMILL_DATABASE_URL": database_url(f"nm_missing_{uuid.uuid4().hex[:12]}")}, 1, "createdb"
        case "database unreachable":
            url = f"postgresql://postgres@127.0.0.1:{closed_port()}/newsmill"
            return {"NEWSMILL_DATABASE_URL": url}, 1, f"cannot reach PostgreSQL at {url} (Connection refused)"
        case "database not migrated":
            return {"NEWSMILL_DATABASE_URL": request.getfixturevalue("unmigrated_url")}, 1, "newsmill migrate"
        case _:
            return {"NEWSMILL_POLL_INTERVAL": "abc"}, 2, "NEWSMILL_POLL_INTERVAL='abc': Input should be a valid integer"


@pytest.mark.parametrize(
    "name", ["database missing", "database unreachable", "database not migrated", "invalid setting"]
)
def test_every_command_when(
    name: str, base_env: dict[str, str], redis_url: str, request: pytest.FixtureRequest
) -> None:
    extra, code, says = condition(name, request)
    env = base_env | {"NEWSMILL_REDIS_URL": redis_url} | extra
    commands = DB_COMMANDS if name == "database not migrated" else [*DB_COMMANDS, ("migrate",)]  # it is the cure
    cases = [Case(argv, env, code, says) for argv in commands]
    cases += [Case(argv, env, 1, says) for argv in HEALTHCHECKS]  # a health check knows 0 and 1 only
    if name == "invalid setting":
        cases += [Case(argv, env, code, says) for argv in NO_DB_COMMANDS]
    check_all(cases)


def test_a_malformed_database_url_is_an_invalid_setting(base_env: dict[str, str]) -> None:
    """Found before anything starts, like any other invalid setting."""
    env = base_env | {"NEWSMILL_DATABASE_URL": "not a url"}
    says = "NEWSMILL_DATABASE_URL='not a url': not a PostgreSQL URL"
    cases = [Case(argv, env, 2, says) for argv in (("migrate",), ("status",), ("demo", "--exit"), ("api",))]
    check_all([*cases, Case(("healthcheck", "db"), env, 1, says)])


def test_redis_unreachable_or_misconfigured(base_env: dict[str, str], db_url: str) -> None:
    cases = []
    for redis_url, code, says in (
        (f"redis://127.0.0.1:{closed_port()}/0", 1, "cannot reach Redis at redis://127.0.0.1:"),
        ("http://127.0.0.1:6379", 2, "NEWSMILL_REDIS_URL='http://127.0.0.1:6379': not a Redis URL"),
    ):
        env = base_env | {"NEWSMILL_DATABASE_URL": db_url, "NEWSMILL_REDIS_URL": redis_url}
        cases += [Case(argv, env, code, says) for argv in (("run", "--until-idle"), ("reprocess", "--since", "7d"),
                                                           ("demo", "--exit"))]  # fmt: skip
        cases.append(Case(("healthcheck", "beat"), env, 1, "Connection refused" if code == 1 else says))
        cases.append(Case(("healthcheck", "worker", "fetch"), env, 1, "cannot reach the broker" if code == 1 else says))
    check_all(cases)


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "missing": tmp_path / "no-such-file",
        "unreadable": tmp_path / "unreadable",
        "bad_yaml": tmp_path / "bad.yaml",
        "not_topics": tmp_path / "list.yaml",
        "bad_topic": tmp_path / "bad-topic.yaml",
        "bad_opml": tmp_path / "bad.opml",
        "folder": tmp_path / "folder",
    }
    files["unreadable"].write_text("topics: []\n")
    files["unreadable"].chmod(0)
    files["bad_yaml"].write_text("topics:\n  - slug: a\n    name: [unclosed\n")
    files["not_topics"].write_text("- just\n- a list\n")
    files["bad_topic"].write_text("topics:\n  - slug: Not A Slug\n    name: x\n    any: [y]\n")
    files["bad_opml"].write_text("<opml><body><outline xmlUrl='https://x.example/feed'>")
    files["folder"].mkdir()
    return files


def test_missing_unreadable_or_malformed_files(
    base_env: dict[str, str], db_url: str, redis_url: str, bad_files: dict[str, Path], tmp_path: Path
) -> None:
    env = base_env | {"NEWSMILL_DATABASE_URL": db_url, "NEWSMILL_REDIS_URL": redis_url}
    add_topic(db_url, "sport")  # `topics test` needs its topic
    missing, unreadable, folder = (str(bad_files[k]) for k in ("missing", "unreadable", "folder"))
    cases = []
    for command in (("feeds", "import"), ("topics", "load"), ("topics", "test", "sport"), ("extract",)):
        cases += [
            Case((*command, missing), env, 2, "no-such-file"),
            Case((*command, folder), env, 2, "folder"),
            # "Permission denied" when read, "is not readable" when the command line checks it first (not just
            # "unreadable": the file's own path says that)
            Case((*command, unreadable), env, 2, ("Permission denied", "is not readable"), AS_A_USER),
        ]
    cases += [
        Case(("topics", "load", str(bad_files["bad_yaml"])), env, 2, "bad.yaml: not valid YAML"),
        Case(("topics", "load", str(bad_files["not_topics"])), env, 2, "expected a mapping with a 'topics' list"),
        Case(("topics", "load", str(bad_files["bad_topic"])), env, 2, "topic #1 (Not A Slug)"),
        Case(("feeds", "import", str(bad_files["bad_yaml"])), env, 2, "not a valid OPML document"),
        Case(("feeds", "import", str(bad_files["bad_opml"])), env, 2, "bad.opml: not a valid OPML document"),
    ]
    # A data directory the user may not write: the commands that keep their servers there.
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o555)
    cases += [Case(argv, base_env | {"NEWSMILL_DATA_DIR": str(read_only)}, 2, "Permission denied", AS_A_USER)
              for argv in (("demo", "--exit"), ("run", "--embedded", "--until-idle"))]  # fmt: skip
    check_all(cases)


def test_wrong_names_urls_and_ports(base_env: dict[str, str], db_url: str, redis_url: str) -> None:
    env = base_env | {"NEWSMILL_DATABASE_URL": db_url, "NEWSMILL_REDIS_URL": redis_url}
    add_topic(db_url, "sport")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        check_all([
            Case(("tail", "--topic", "nonexistent"), env, 2, "there is no topic 'nonexistent'"),
            Case(("tail", "--topic", "nonexistent", "--follow"), env, 2, "there is no topic 'nonexistent'"),
            Case(("topics", "test", "nonexistent", str(ARTICLE)), env, 1, "there is no topic 'nonexistent'"),
            Case(("subscriptions", "add", "--email", "e@x.example", "--topics", "nonexistent"), env, 2, "nonexistent"),
            Case(("feeds", "remove", "https://never.example/feed"), env, 1, "no feed"),
            Case(("topics", "retag", "--since", "lately"), env, 2, "'lately' is not an age"),
            Case(("extract", "http://"), env, 1, "URL without a host"),
            Case(("topics", "test", "sport", "http://"), env, 1, "http_error: URL without a host"),
            Case(("api", "--port", str(port)), env, 2, f"cannot listen on 127.0.0.1:{port}"),
            Case(("demo", "--exit", "--port-base", str(port)), env, 2, f"port(s) {port}"),
            Case(("status", "--bogus"), env, 2, "No such option: --bogus"),
            Case(("feeds", "add"), env, 2, "Missing argument"),
            Case(("bogus",), env, 2, "No such command 'bogus'"),
        ])  # fmt: skip


def test_migrate_creates_the_missing_database(base_env: dict[str, str]) -> None:
    name = f"nm_created_{uuid.uuid4().hex[:10]}"
    env = base_env | {"NEWSMILL_DATABASE_URL": database_url(name)}
    try:
        first = subprocess.run([NEWSMILL, "migrate", "--create-database"], env=env, capture_output=True, text=True,
                               timeout=120, check=False)  # fmt: skip
        assert first.returncode == 0, first.stderr
        assert "created the database" in first.stderr
        again = subprocess.run([NEWSMILL, "migrate", "--create-database"], env=env, capture_output=True, text=True,
                               timeout=120, check=False)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert "created" not in again.stderr
        assert "applied 0 migration(s)" in again.stderr
        listed = subprocess.run([NEWSMILL, "feeds", "list"], env=env, capture_output=True, text=True, timeout=120,
                                check=False)  # fmt: skip
        assert (listed.returncode, listed.stdout.split()) == (0, ["id", "url", "title", "last", "outcome", "failures",
                                                                  "next", "poll", "(UTC)"])  # fmt: skip
    finally:
        drop_database(name)
