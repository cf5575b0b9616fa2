"""The shipped deploy/compose.yaml under docker-compose, in a Docker engine of the test's own (`make compose-test`).

The images come from Debian packages and deploy/Dockerfile with no registry and no network during the build
(tests/support/compose_images.py); tests/fixtures/compose/test-override.yaml only makes the network internal,
names those images, checks health more often and adds the news site. Then what an ops person checks: every
service healthy, a site's articles in `newsmill.articles_published`, a topic feed from the api, `newsmill status
--json`, `/metrics`; a restarted and a killed worker lose nothing; `down` then `up` keeps the data; a second
worker-extract container takes its share of the queue.

Marked `compose` and deselected from `make test` (pyproject.toml): it needs root (or sudo) for the engine and
takes minutes. The tests run in order on one fleet.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from cli.demo_site import load_site
from tests.support.compose_images import ROOT, build_images
from tests.support.compose_project import PROJECT, SITE, Fleet, wait_until, write_env
from tests.support.docker_engine import own_engine

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1800)]
PAGES = 100  # saved pages on the site, in feeds /feeds/0.xml and /feeds/1.xml of 50
EXTRACTED = 'newsmill_stage_items_total{outcome="ok",stage="extract"}'


def log(message: str) -> None:
    print(f"[compose-test] {message}", flush=True)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    began = time.monotonic()
    with own_engine(log) as engine:
        images = build_images(engine, log)
        directory = tmp_path_factory.mktemp("compose")
        write_env(directory / ".env", images, PAGES)
        fleet = Fleet(engine, directory)
        try:
            up = time.monotonic()
            fleet.compose("up", "-d")
            fleet.wait_healthy()
            log(f"fleet healthy {time.monotonic() - up:.0f} s after `up` ({time.monotonic() - began:.0f} s in all)")
            yield fleet
        finally:
            try:
                fleet.compose("down", "--volumes", "--timeout", "30")
            finally:
                log(f"compose test: {time.monotonic() - began:.0f} s, engine stopped next")


def _page_feeds(*numbers: int) -> list[str]:
    return [f"{SITE}/feeds/{n}.xml" for n in numbers]


def _item_states(fleet: Fleet, feed_urls: list[str]) -> dict[str, int]:
    urls = ",".join(f"'{u}'" for u in feed_urls)  # our own constant URLs
    rows = fleet.sql(f"SELECT i.state, count(*) FROM items i JOIN feeds f ON f.id = i.feed_id"
                     f" WHERE f.url IN ({urls}) GROUP BY 1")  # fmt: skip
    return {state: int(n) for state, n in rows}


def _published(fleet: Fleet, feed_urls: list[str]) -> int:
    urls = ",".join(f"'{u}'" for u in feed_urls)
    rows = fleet.sql(f"SELECT count(DISTINCT url) FROM newsmill.articles_published WHERE feed_url IN ({urls})")
    return int(rows[0][0])


def test_the_fleet_comes_up_healthy_ingests_a_site_and_reports_it(fleet: Fleet) -> None:
    log("docker-compose ps of the healthy fleet:\n" + fleet.compose("ps"))
    log(f"seconds per health check: {fleet.health_check_seconds()}")
    topics_yaml = (ROOT / "seeds" / "topics.yaml").read_text()
    assert "created" in fleet.exec("beat", "newsmill", "topics", "load", "/dev/stdin", stdin=topics_yaml)
    demo = load_site()
    feeds = [f for f in demo.feeds() if f.phase == 1]  # phase 2 is a syndicated copy; not needed here
    fleet.exec("beat", "newsmill", "feeds", "add", *(SITE + f.path for f in feeds))
    expected = {SITE + a.path: a for a in demo.articles if a.feed in {f.name for f in feeds}}

    query = ("SELECT url, language, array_to_string(topics, ','), coalesce(duplicate_of::text, '')"
             " FROM newsmill.articles_published")  # fmt: skip
    rows = wait_until(lambda: len(r := fleet.sql(query)) == len(expected) and r, 240, "the demo articles published")
    published = {url: (language, set(filter(None, topics.split(","))), dup) for url, language, topics, dup in rows}
    assert set(published) == set(expected)
    for url, (language, topics, duplicate_of) in published.items():
        want = expected[url].expect
        assert language == want.language, url
        assert set(want.topics) <= topics, (url, topics)
        assert duplicate_of == "", url

    # A topic feed from the api, asked over the network by a peer: exactly the articles tagged with it.
    slug = max({t for _, topics, _ in published.values() for t in topics},
               key=lambda t: sum(t in topics for _, topics, _ in published.values()))  # fmt: skip
    feed = json.loads(fleet.get(f"http://api:8000/topics/{slug}.json"))
    tagged = {url for url, (_, topics, _) in published.items() if slug in topics}
    assert {item["url"] for item in feed["items"]} == tagged

    status = json.loads(fleet.exec("worker-feeds", "newsmill", "status", "--json"))
    assert status["overview"]["feeds_total"] == len(feeds)
    assert status["overview"]["published_last_hour"] == len(expected)
    assert set(status["queues"]) == {"feeds", "fetch", "extract", "enrich", "deliver"}
    assert status["queues"]["fetch"] == status["queues"]["extract"] == status["queues"]["enrich"] == 0
    assert {s["stage"]: s["waiting"] for s in status["stages"]} == {"fetch": 0, "extract": 0, "enrich": 0}
    assert status["worst_feeds"] == []

    # /metrics: the api's, and each worker's and beat's on NEWSMILL_METRICS_PORT (9100, .env.example).
    assert "newsmill_api_requests_total" in fleet.get("http://api:8000/metrics")
    assert fleet.metrics("beat")["newsmill_collector_up{}"] == 1
    assert fleet.metrics("beat")["newsmill_feeds{}"] == len(feeds)
    assert fleet.metrics("worker-fetch")['newsmill_stage_items_total{outcome="ok",stage="fetch"}'] == len(expected)
    assert fleet.metrics("worker-extract")[EXTRACTED] == len(expected)
    enriched = fleet.metrics("worker-enrich")['newsmill_stage_items_total{outcome="published",stage="enrich"}']
    assert enriched == len(expected)
    assert fleet.metrics("worker-feeds")['newsmill_feed_polls_total{outcome="ok"}'] >= len(feeds)


_PROBE = """
import socket, sys
for ip in sys.argv[1:]:
    try:
        socket.create_connection((ip, 22), 3).close()
        print(ip, "connected")
    except ConnectionRefusedError:
        print(ip, "refused")  # the address answered: reachable
    except OSError:
        print(ip, "unreachable")
try:
    socket.getaddrinfo("deb.debian.org", 80)
    print("dns resolved")
except OSError:
    print("dns failed")
"""


def test_the_network_reaches_nothing_but_the_fleet(fleet: Fleet) -> None:
    """From a container: the host's own addresses do not answer and outside names do not resolve (the
    probe never leaves the host: the host is the only way out, and it is the one tried)."""
    listed = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
    host_ips = [f.split("/")[0] for line in listed.splitlines() for f in line.split()[3:4] if not f.startswith("127.")]
    assert host_ips
    answers = fleet.exec("site", "python", "-c", _PROBE, *host_ips).splitlines()
    assert answers == [*(f"{ip} unreachable" for ip in host_ips), "dns failed"]
    # The API's port is asked for on 127.0.0.1 only (API_PUBLISH), and Docker publishes none from an
    # internal network.
    (api,) = fleet.service_containers("api")
    assert {b["HostIp"] for b in api["HostConfig"]["PortBindings"]["8000/tcp"]} == {"127.0.0.1"}
    assert not any(api["NetworkSettings"]["Ports"].values())


def test_a_restarted_and_a_killed_worker_lose_nothing(fleet: Fleet) -> None:
    feeds = _page_feeds(0)
    total = 50

    def queued_batches() -> int:
        return int(fleet.sql("SELECT count(*) FROM publish_queue")[0][0])

    # Publication's sequencer waits for the publication counter's row lock: while the test holds it, every
    # enrich task stops after committing its batch to publish_queue and before the batch is published, so the
    # kill below always leaves batches committed but not published (workers/steps/publish.py): the next
    # publisher's sequencer call or the sweeper must publish them.
    with fleet.holding("SELECT value FROM publish_counter FOR UPDATE"):
        fleet.exec("beat", "newsmill", "feeds", "add", *feeds)
        queued = wait_until(queued_batches, 240, "enrich tasks waiting to publish their queued batches")
        fleet.compose("kill", "-s", "KILL", "worker-enrich")  # no grace: its tasks die before publishing
    (enrich,) = fleet.service_containers("worker-enrich")
    assert (enrich["State"]["Status"], enrich["State"]["ExitCode"]) == ("exited", 137)
    # Warm: running extractions finish, unstarted messages go back to Redis, then a new process starts.
    at_restart = _item_states(fleet, feeds)
    fleet.compose("restart", "worker-extract")
    # Docker counts `kill` as an operator's stop and does not apply the restart policy: bring it back. The
    # killed tasks' items are re-sent by the sweeper once their claim expires (NEWSMILL_STUCK_AFTER, 30 s here).
    fleet.compose("up", "-d", "worker-enrich")
    states = wait_until(lambda: (s := _item_states(fleet, feeds)) and set(s) == {"published"} and s, 300,
                        "every item published after the kill and the restart", every=3)  # fmt: skip
    log(f"{queued} batch(es) queued by the killed enrich worker; items at the restart of worker-extract: "
        f"{at_restart}; after: {states}")  # fmt: skip
    assert states == {"published": total}
    assert wait_until(lambda: queued_batches() == 0, 120, "the killed worker's queued batches published") is True
    assert _published(fleet, feeds) == total
    fleet.wait_healthy()


def test_down_then_up_keeps_the_data(fleet: Fleet) -> None:
    query = "SELECT (SELECT count(*) FROM feeds), count(*), max(cursor) FROM newsmill.articles_published"
    before = fleet.sql(query)
    fleet.compose("down", "--timeout", "60")  # containers and network go; the named volumes stay
    assert fleet.containers() == []
    volumes = fleet.engine.docker("volume", "ls", "--format={{.Name}}").stdout.split()
    assert {f"{PROJECT}_pgdata", f"{PROJECT}_redisdata"} <= set(volumes)
    fleet.compose("up", "-d")
    fleet.wait_healthy()
    assert fleet.sql(query) == before


def test_a_second_extract_container_takes_its_share_of_the_queue(fleet: Fleet) -> None:
    fleet.compose("up", "-d", "--scale", "worker-extract=2")
    fleet.wait_healthy()
    assert len(fleet.service_containers("worker-extract")) == 2
    before = [fleet.metrics("worker-extract", index=i).get(EXTRACTED, 0) for i in (1, 2)]
    feeds = _page_feeds(1)
    fleet.exec("beat", "newsmill", "feeds", "add", *feeds)
    wait_until(lambda: _item_states(fleet, feeds) == {"published": 50}, 300, "the pages published by two extractors")
    shares = [fleet.metrics("worker-extract", index=i).get(EXTRACTED, 0) - before[i - 1] for i in (1, 2)]
    log(f"extracted per worker-extract container: {shares}")
    assert sum(shares) == 50
    assert min(shares) > 0
