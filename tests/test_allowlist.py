"""NEWSMILL_PRIVATE_ALLOWLIST with ports, and metadata host names refused before any DNS lookup.

Allowing the feed server's own port of 127.0.0.1 must not let a hostile redirect reach another port of the
same address (Redis, PostgreSQL): the canary listening there must never see a connection."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import httpcore
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.address_guard import GuardedBackend
from shared.allowlist import AllowRule, Network, parse_allowlist, parse_rule
from shared.errors import Outcome, PermanentError
from shared.http_client import fetch
from shared.settings import Settings
from tests.support.hostile_cases import hostile_policy
from tests.support.hostile_server import hostile, redirect, respond

PAGE = b"<html><body><p>allowed</p></body></html>"


@pytest.mark.parametrize(
    ("entry", "network", "ports"),
    [
        ("10.0.0.0/8", "10.0.0.0/8", (1, 65535)),
        ("192.168.1.5", "192.168.1.5/32", (1, 65535)),
        ("127.0.0.1:8080", "127.0.0.1/32", (8080, 8080)),
        (" 127.0.0.0/8:8000-8099 ", "127.0.0.0/8", (8000, 8099)),
        ("fd00::/8", "fd00::/8", (1, 65535)),
        ("::1", "::1/128", (1, 65535)),
        ("[::1]:8080", "::1/128", (8080, 8080)),
        ("[fd00::/8]:443-8443", "fd00::/8", (443, 8443)),
    ],
)
def test_entries_parse(entry: str, network: str, ports: tuple[int, int]) -> None:
    rule = parse_rule(entry)
    assert (str(rule.network), rule.first_port, rule.last_port) == (network, *ports)


@pytest.mark.parametrize(
    "entry",
    ["127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:", "127.0.0.1:80-79", "127.0.0.1:http", "feeds.internal:8080",
     "[::1", "[::1]8080", "300.1.2.3", "10.0.0.0/33:80"],
)  # fmt: skip
def test_bad_entries_are_refused_with_the_entry_named(entry: str) -> None:
    with pytest.raises(ValueError, match="allowlist entry"):
        parse_rule(entry)


def test_a_bad_allowlist_stops_the_process_at_start() -> None:
    with pytest.raises(ValidationError, match="ports must be"):
        Settings(private_allowlist="10.0.0.0/8, 127.0.0.1:99999")
    assert [str(r) for r in parse_allowlist("10.0.0.0/8, ,127.0.0.1:80")] == ["10.0.0.0/8", "127.0.0.1/32:80"]


# Networks of every prefix length, not only single addresses.
@given(
    st.tuples(st.ip_addresses(), st.integers(0, 128)).map(
        lambda a: ipaddress.ip_network((a[0], min(a[1], a[0].max_prefixlen)), strict=False)
    ),
    st.integers(1, 65535),
    st.integers(0, 1000),
)
def test_a_rule_reads_back_from_its_own_spelling(network: Network, first: int, span: int) -> None:
    rule = AllowRule(network, first, min(65535, first + span))
    assert parse_rule(str(rule)) == rule
    address = network.network_address
    assert rule.allows(address, rule.first_port)
    assert rule.allows(address, rule.last_port)
    assert rule.first_port == 1 or not rule.allows(address, rule.first_port - 1)
    assert rule.last_port == 65535 or not rule.allows(address, rule.last_port + 1)


def test_an_allowed_port_does_not_open_the_other_ports_of_the_address() -> None:
    with hostile() as (server, canary):
        policy = replace(hostile_policy(), allowlist=parse_allowlist(f"127.0.0.1:{server.port}"))
        ok = server.add("/page.html", respond(200, PAGE, {"Content-Type": "text/html"}))
        assert fetch(ok, policy).body == PAGE
        to_redis = server.add("/to-redis", redirect(f"http://127.0.0.1:{canary.port}/"))
        for url in (to_redis, f"http://127.0.0.1:{canary.port}/direct"):
            with pytest.raises(PermanentError) as info:
                fetch(url, policy)
            assert info.value.outcome is Outcome.BLOCKED_ADDRESS
            assert f"port {canary.port}" in info.value.reason
        ranged = replace(policy, allowlist=parse_allowlist(f"127.0.0.0/8:{server.port}-{server.port}"))
        assert fetch(ok, ranged).body == PAGE
        assert canary.connections == 0  # refused before connecting, not after


METADATA_URLS = [
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://Metadata.Google.Internal./computeMetadata/v1/",
    "http://metadata.goog/computeMetadata/v1/",
    "http://metadata/computeMetadata/v1/",
    "http://instance-data/latest/meta-data/",
    "http://instance-data.ec2.internal/latest/meta-data/",
]


@pytest.mark.parametrize("url", METADATA_URLS)
def test_metadata_host_names_are_refused_before_any_lookup(url: str) -> None:
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["93.184.215.14"]

    backend = GuardedBackend(allow_private=False, resolve=resolve)
    with httpcore.ConnectionPool(network_backend=backend) as pool, pytest.raises(PermanentError) as info:
        pool.request("GET", url)
    assert info.value.outcome is Outcome.BLOCKED_ADDRESS
    assert lookups == []
    with pytest.raises(PermanentError, match="cloud metadata host name"):
        fetch(url, hostile_policy())


def test_a_redirect_to_a_metadata_name_is_refused() -> None:
    with hostile() as (server, canary):
        url = server.add("/to-metadata", redirect("http://metadata.google.internal/computeMetadata/v1/"))
        with pytest.raises(PermanentError, match="cloud metadata host name"):
            fetch(url, hostile_policy())
        assert canary.connections == 0
