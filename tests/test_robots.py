"""RobotsCache against a real local server and Redis, following RFC 9309."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis

from shared.errors import Outcome, TransientError
from shared.http_client import FetchPolicy
from shared.robots import KEY_PREFIX, UNREACHABLE_TTL, RobotsCache
from tests.support.http_server import LocalSite, Response, serve

POLICY = FetchPolicy(
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    max_bytes=1024 * 1024,
    max_redirects=5,
    allow_private_hosts=True,  # the test server lives on 127.0.0.1
    user_agent="newsmill/0.1 (+https://github.com/newsmill/newsmill)",
)
RULES = b"""
User-agent: *
Disallow: /everyone-else

User-agent: newsmill
Disallow: /private
Allow: /private/ok

User-agent: github
Disallow: /
"""


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def served() -> Iterator[LocalSite]:
    with serve() as s:
        yield s


@pytest.fixture
def site(served: LocalSite) -> LocalSite:
    """One server per module (its shutdown takes half a second), emptied for each test."""
    served.routes.clear()
    served.requests.clear()
    return served


def test_rules_for_our_product_token_apply(client: redis.Redis, site: LocalSite) -> None:
    site.add("/robots.txt", Response(RULES, headers={"Content-Type": "text/plain"}))
    robots = RobotsCache(client, POLICY)
    assert robots.allowed(site.url("/news/1"))
    assert robots.allowed(site.url("/everyone-else"))  # our group replaces the * group
    assert not robots.allowed(site.url("/private/secret"))
    assert robots.allowed(site.url("/private/ok/page"))
    assert robots.allowed(site.url("/robots.txt"))


def test_answer_is_cached_in_redis_for_every_worker(client: redis.Redis, site: LocalSite) -> None:
    site.add("/robots.txt", Response(RULES))
    for _ in range(3):
        assert not RobotsCache(client, POLICY).allowed(site.url("/private/x"))
    assert site.hits("/robots.txt") == 1
    key = KEY_PREFIX + site.base
    assert 0 < client.ttl(key) <= 86_400


@pytest.mark.parametrize("status", [404, 410, 403, 401])
def test_client_error_means_everything_is_allowed(client: redis.Redis, site: LocalSite, status: int) -> None:
    site.add("/robots.txt", Response(b"User-agent: *\nDisallow: /", status))
    robots = RobotsCache(client, POLICY)
    assert robots.allowed(site.url("/anything"))
    assert robots.allowed(site.url("/else"))
    assert site.hits("/robots.txt") == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_error_disallows_briefly_by_raising(client: redis.Redis, site: LocalSite, status: int) -> None:
    site.add("/robots.txt", Response(b"oops", status))
    robots = RobotsCache(client, POLICY)
    for _ in range(2):
        with pytest.raises(TransientError) as info:
            robots.allowed(site.url("/news/1"))
        assert info.value.retry_after is not None
        assert 0 < info.value.retry_after <= UNREACHABLE_TTL
    assert info.value.outcome in {Outcome.SERVER_ERROR, Outcome.RATE_LIMITED}
    assert site.hits("/robots.txt") == 1  # the failure is cached too
    assert 0 < client.ttl(KEY_PREFIX + site.base) <= UNREACHABLE_TTL


def test_unreachable_host_raises_network_error(client: redis.Redis) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(TransientError) as info:
            RobotsCache(client, POLICY).allowed(f"http://127.0.0.1:{port}/news/1")
    assert info.value.outcome is Outcome.NETWORK_ERROR


def test_redirects_are_followed(client: redis.Redis, site: LocalSite) -> None:
    site.add("/robots.txt", Response(status=301, headers={"Location": "/moved/robots.txt"}))
    site.add("/moved/robots.txt", Response(RULES))
    assert not RobotsCache(client, POLICY).allowed(site.url("/private/x"))


def test_only_the_first_500_kib_are_read(client: redis.Redis, site: LocalSite) -> None:
    padding = b"# filler line to make the file large\n" * (600 * 1024 // 37)
    body = b"User-agent: *\nDisallow: /early\n" + padding + b"Disallow: /late\n"
    site.add("/robots.txt", Response(body))
    robots = RobotsCache(client, POLICY)
    assert not robots.allowed(site.url("/early/1"))
    assert robots.allowed(site.url("/late/1"))


def test_each_origin_has_its_own_robots(client: redis.Redis, site: LocalSite) -> None:
    site.add("/robots.txt", Response(b"User-agent: *\nDisallow: /\n"))
    with serve() as other:
        other.add("/robots.txt", Response(b"", 404))
        robots = RobotsCache(client, POLICY)
        assert not robots.allowed(site.url("/a"))
        assert robots.allowed(other.url("/a"))


def test_parsed_rules_are_kept_for_a_bounded_number_of_origins(client: redis.Redis) -> None:
    origins = [f"http://site{n}.example" for n in range(5)]
    for origin in origins:  # as another worker would have stored them
        client.set(KEY_PREFIX + origin, b"R\n" + RULES)
    robots = RobotsCache(client, POLICY, max_parsed=2)
    for origin in origins:
        assert not robots.allowed(f"{origin}/private/x")
    assert robots.parsed_origins() == 2
    assert not robots.allowed(f"{origins[0]}/private/y")  # evicted, parsed again, same answer
    assert robots.allowed(f"{origins[0]}/news/1")
    assert robots.parsed_origins() == 2


def test_a_process_answers_from_its_parsed_rules_for_a_minute(client: redis.Redis, site: LocalSite) -> None:
    site.add("/robots.txt", Response(RULES))
    robots = RobotsCache(client, POLICY)
    assert not robots.allowed(site.url("/private/x"))
    client.delete(KEY_PREFIX + site.base)  # as if it expired: the process does not ask Redis within LOCAL_TTL
    assert not robots.allowed(site.url("/private/y"))
    assert robots.allowed(site.url("/news/2"))
    assert site.hits("/robots.txt") == 1
    assert client.get(KEY_PREFIX + site.base) is None
    asking = RobotsCache(client, POLICY, local_ttl=0)  # without the local answer: Redis, then the site again
    assert not asking.allowed(site.url("/private/z"))
    assert site.hits("/robots.txt") == 2


def test_an_unreachable_answer_is_not_kept_locally(client: redis.Redis, site: LocalSite) -> None:
    site.add("/robots.txt", Response(RULES))
    robots = RobotsCache(client, POLICY)
    client.set(KEY_PREFIX + site.base, b"U\nserver_error\nHTTP 503", ex=600)  # another worker's answer
    with pytest.raises(TransientError):
        robots.allowed(site.url("/news/1"))
    client.delete(KEY_PREFIX + site.base)
    assert robots.allowed(site.url("/news/1"))  # read from Redis again (now gone), so fetched anew
    assert site.hits("/robots.txt") == 1
