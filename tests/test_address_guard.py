"""The private-address guard: address rules, numeric spellings, and proof that no packet reaches a refused host."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpcore
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.address_guard import GuardedBackend, is_blocked_ip, numeric_host, resolve_checked
from shared.allowlist import parse_allowlist
from shared.errors import Outcome, PermanentError, StageError
from shared.http_client import FetchPolicy, fetch
from tests.support.http_server import LocalSite, Response, serve

GUARDED = FetchPolicy(
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    max_bytes=1024 * 1024,
    max_redirects=3,
    allow_private_hosts=False,
    user_agent="newsmill-test/1.0",
)
LOOPBACK_ONLY = replace(GUARDED, allowlist=parse_allowlist("127.0.0.1/32"))

BLOCKED = [
    "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "169.254.169.254", "169.254.0.1", "0.0.0.0", "0.1.2.3", "100.64.0.1", "100.127.255.254", "224.0.0.1",
    "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1", "::", "::1", "fe80::1",
    "fc00::1", "fd12:3456::1", "ff02::1", "fec0::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "2001:db8::1", "2001::1",
]  # fmt: skip
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "100.128.0.1", "172.32.0.1", "2606:4700:4700::1111",
          "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8", "64:ff9b::808:808"]  # fmt: skip


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert is_blocked_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert not is_blocked_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("example.org", None),
        ("1.2.3.4.5", None),
    ],
)
def test_numeric_spellings_are_read_like_the_resolver(spelling: str, address: str | None) -> None:
    expected = ipaddress.ip_address(address) if address else None
    assert numeric_host(spelling) == expected


def spellings(n: int) -> list[str]:
    """inet_aton's ways of writing the IPv4 address ``n``."""
    octets = n.to_bytes(4, "big")
    return [
        str(n),
        hex(n),
        "0" + oct(n)[2:],
        ".".join(f"0{b:o}" for b in octets),
        ".".join(hex(b) for b in octets),
        f"{octets[0]}.{n & 0xFFFFFF}",
        f"{octets[0]}.{octets[1]}.{n & 0xFFFF}",
    ]


blocked_v4 = st.sampled_from(["127.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/8"]).flatmap(
    lambda net: st.integers(
        int(ipaddress.ip_network(net).network_address), int(ipaddress.ip_network(net).broadcast_address)
    )
)


@given(st.integers(0, 2**32 - 1))
def test_every_spelling_names_the_same_address(n: int) -> None:
    address = ipaddress.IPv4Address(n)
    for spelling in spellings(n):
        assert numeric_host(spelling) == address, spelling
        assert socket.inet_aton(spelling) == address.packed  # the C library agrees with us
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert is_blocked_ip(mapped) == is_blocked_ip(address)


@given(blocked_v4)
def test_blocked_addresses_are_refused_in_every_spelling(n: int) -> None:
    for host in [*spellings(n), f"::ffff:{ipaddress.IPv4Address(n)}"]:
        with pytest.raises(PermanentError) as info:
            resolve_checked(host, 80)
        assert info.value.outcome is Outcome.BLOCKED_ADDRESS


def test_one_private_answer_refuses_the_whole_name() -> None:
    with pytest.raises(PermanentError, match="blocked_address"):
        resolve_checked("news.example", 80, resolve=lambda host, port: ["93.184.215.14", "10.0.0.7"])
    assert resolve_checked("news.example", 80, resolve=lambda host, port: ["93.184.215.14"]) == ["93.184.215.14"]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A bare listening socket: the kernel queues any connection, so accept() shows whether one was tried."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock
    sock.close()


def connection_attempts(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            sock.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "[::ffff:127.0.0.1]"],
)
def test_fetch_to_loopback_never_connects(listener: socket.socket, host: str) -> None:
    port = listener.getsockname()[1]
    with pytest.raises(PermanentError) as info:
        fetch(f"http://{host}:{port}/feed", GUARDED)
    assert info.value.outcome is Outcome.BLOCKED_ADDRESS
    assert connection_attempts(listener) == 0


def test_fetch_to_the_local_site_is_refused_and_the_server_sees_nothing() -> None:
    with serve() as site:
        url = site.add("/feed", Response(b"<rss/>"))
        with pytest.raises(PermanentError, match="blocked_address"):
            fetch(url, GUARDED)
        assert site.requests == []
        assert fetch(url, LOOPBACK_ONLY).body == b"<rss/>"  # the allowlist opens exactly 127.0.0.1


@pytest.fixture(scope="module")
def served() -> Iterator[LocalSite]:
    with serve() as site:
        yield site


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://127.0.0.2:{port}/",
        "http://0x7f000002:{port}/",
        "http://[::1]:{port}/",
        "http://10.0.0.1/",
    ],
)
def test_redirect_to_a_private_address_is_refused(served: LocalSite, target: str) -> None:
    served.requests.clear()
    served.add("/start", Response(status=302, headers={"Location": target.format(port=served.port)}))
    with pytest.raises(StageError) as info:
        fetch(served.url("/start"), LOOPBACK_ONLY)
    assert info.value.outcome is Outcome.BLOCKED_ADDRESS
    assert [path for path, _ in served.requests] == ["/start"]


class RecordingBackend(httpcore.SyncBackend):
    """httpcore's own backend, noting every address a socket is opened to."""

    def __init__(self) -> None:
        self.connected: list[str] = []

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        self.connected.append(host)
        return super().connect_tcp(host, port, *args, **kwargs)


def test_backend_connects_to_the_checked_address_but_keeps_the_name() -> None:
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        # A rebinding DNS server would answer differently the second time; there is no second time.
        return ["127.0.0.1"] if len(lookups) == 1 else ["8.8.8.8"]

    recorder = RecordingBackend()
    backend = GuardedBackend(allow_private=False, allowed=LOOPBACK_ONLY.allowlist, resolve=resolve, inner=recorder)
    with serve() as site, httpcore.ConnectionPool(network_backend=backend) as pool:
        site.add("/page", Response(b"hello"))
        response = pool.request("GET", f"http://news.example:{site.port}/page")
        assert (response.status, response.content) == (200, b"hello")
        assert site.requests[0][1]["host"] == f"news.example:{site.port}"
    assert lookups == ["news.example"]
    assert recorder.connected == ["127.0.0.1"]


def test_backend_refuses_before_any_socket_is_opened() -> None:
    recorder = RecordingBackend()
    backend = GuardedBackend(
        allow_private=False, resolve=lambda host, port: ["93.184.215.14", "169.254.169.254"], inner=recorder
    )
    with httpcore.ConnectionPool(network_backend=backend) as pool, pytest.raises(PermanentError) as info:
        pool.request("GET", "https://metadata.example/")
    assert info.value.outcome is Outcome.BLOCKED_ADDRESS
    assert recorder.connected == []


def test_a_hanging_dns_lookup_ends_at_the_fetch_deadline() -> None:
    release = threading.Event()

    def hanging(host: str, port: int) -> list[str]:
        release.wait(10)  # a resolver that does not answer (getaddrinfo has no timeout of its own)
        return ["93.184.215.14"]

    recorder = RecordingBackend()
    backend = GuardedBackend(allow_private=False, resolve=hanging, deadline=time.monotonic() + 0.5, inner=recorder)
    started = time.monotonic()
    try:
        with httpcore.ConnectionPool(network_backend=backend) as pool, pytest.raises(httpcore.ConnectTimeout):
            pool.request("GET", "http://slow-dns.example/")
    finally:
        release.set()
    assert time.monotonic() - started < 3
    assert recorder.connected == []


def test_non_http_schemes_are_refused() -> None:
    for url in ("ftp://example.org/", "file:///etc/passwd", "javascript:alert(1)", "data:text/plain,hi"):
        with pytest.raises(PermanentError, match="blocked_address"):
            fetch(url, GUARDED)
