"""The hostile catalogue shared by tests/test_hostile_*.py: transport-level cases, the private destinations
in every spelling, the fetch policy under test, and how memory and databases are measured and made."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.shared_services import create_database, drop_database
from shared.allowlist import parse_allowlist
from shared.http_client import FetchPolicy
from tests.support.hostile_server import Behaviour, HostileServer, bomb, drip, endless, redirect, respond, stall


def transport_cases(server: HostileServer, prefix: str, content_type: str, canary_port: int) -> dict[str, str]:
    """Routes that fail the same way whatever was asked for (a feed or a page): {name: url}; the expected
    outcome of each is ``TRANSPORT_OUTCOMES[name]`` (a private target's is BLOCKED_ADDRESS)."""
    valid = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><link>http://x.example/1</link></item></channel></rss>'
    behaviours: dict[str, Behaviour] = {
        "slow-drip": drip(content_type),
        "stalled-in-body": stall(content_type, headers_first=True),
        "stalled-before-status": stall(content_type, headers_first=False),
        "endless-body": endless(content_type),
        "gzip-bomb": bomb("gzip", content_type),
        "deflate-bomb": bomb("deflate", content_type),
        "declared-10gib": respond(
            200, b"<p>small</p>", {"Content-Type": content_type, "Content-Length": str(10 << 30)}
        ),
        "redirect-loop": redirect(server.url(f"/{prefix}/redirect-loop-b")),
        "redirect-self": redirect(server.url(f"/{prefix}/redirect-self")),
        "png": respond(200, b"\x89PNG\r\n\x1a\n" + bytes(2000), {"Content-Type": content_type}),
        "pdf": respond(200, b"%PDF-1.7\n" + bytes(2000), {"Content-Type": content_type}),
        "empty-200": respond(200, b"", {"Content-Type": content_type}),
        "no-content-204": respond(204),
        "302-without-location": redirect(None),
        "valid-feed-on-404": respond(404, valid, {"Content-Type": "application/rss+xml"}),
        "valid-feed-on-500": respond(500, valid, {"Content-Type": "application/rss+xml"}),
        "20mb": respond(200, b"<p>" + b"x" * (20 << 20) + b"</p>", {"Content-Type": content_type}),
    }
    server.add(f"/{prefix}/redirect-loop-b", redirect(server.url(f"/{prefix}/redirect-loop")))
    urls = {name: server.add(f"/{prefix}/{name}", b) for name, b in behaviours.items()}
    for name, target in private_targets(canary_port).items():
        urls[f"redirect-to-{name}"] = server.add(f"/{prefix}/redirect-to-{name}", redirect(target))
    urls["direct-loopback"] = f"http://127.0.0.2:{canary_port}/{prefix}/direct"
    urls["direct-metadata"] = "http://169.254.169.254/latest/meta-data/iam/"
    return urls


TRANSPORT_OUTCOMES = {
    "slow-drip": "timeout",
    "stalled-in-body": "timeout",
    "stalled-before-status": "timeout",
    "endless-body": "too_large",
    "gzip-bomb": "too_large",
    "deflate-bomb": "too_large",
    "declared-10gib": "too_large",
    "redirect-loop": "bad_redirect",
    "redirect-self": "bad_redirect",
    "png": "bad_content_type",
    "pdf": "bad_content_type",
    "empty-200": "empty",
    "no-content-204": "empty",
    "302-without-location": "bad_redirect",
    "valid-feed-on-404": "http_error",
    "valid-feed-on-500": "server_error",
    "20mb": "too_large",
}


def expected_transport_outcome(name: str) -> str:
    return TRANSPORT_OUTCOMES.get(name, "blocked_address")


def transport_case_names() -> list[str]:
    """The names ``transport_cases`` returns, known before any server runs (for parametrize)."""
    private = [f"redirect-to-{name}" for name in private_targets(0)]
    return [*TRANSPORT_OUTCOMES, *private, "direct-loopback", "direct-metadata"]


def private_targets(port: int) -> dict[str, str]:
    """Non-allowed destinations in every spelling the resolver accepts; the local ones reach the canary."""
    return {
        "loopback": f"http://127.0.0.2:{port}/",
        "loopback-decimal": f"http://2130706434:{port}/",
        "loopback-octal": f"http://0177.0.0.2:{port}/",
        "loopback-hex": f"http://0x7f000002:{port}/",
        "loopback-hex-dotted": f"http://0x7f.0.0.2:{port}/",
        "loopback-short": f"http://127.2:{port}/",
        "loopback-ipv6-mapped": f"http://[::ffff:127.0.0.2]:{port}/",
        "loopback-ipv6-mapped-hex": f"http://[::ffff:7f00:2]:{port}/",
        "loopback-ipv6": f"http://[::1]:{port}/",
        "unspecified": f"http://0.0.0.0:{port}/",
        "unspecified-decimal": f"http://0:{port}/",
        "unspecified-ipv6": f"http://[::]:{port}/",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "metadata-decimal": "http://2852039166/latest/meta-data/",
        "metadata-octal": "http://0251.0376.0251.0376/latest/meta-data/",
        "metadata-hex": "http://0xa9fea9fe/latest/meta-data/",
        "metadata-ipv6-mapped": "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "link-local-ipv6": f"http://[fe80::1]:{port}/",
        "private-10": f"http://10.0.0.1:{port}/",
        "private-172": f"http://172.16.0.1:{port}/",
        "private-192": f"http://192.168.0.1:{port}/",
        "cgnat": f"http://100.64.0.1:{port}/",
        "unique-local-ipv6": f"http://[fd00::1]:{port}/",
    }


def hostile_policy() -> FetchPolicy:
    """Production limits with short clocks, and loopback allowed for the hostile server's address only."""
    return FetchPolicy(
        connect_timeout=2.0, read_timeout=1.5, total_timeout=3.0, max_bytes=10 << 20, max_redirects=5,
        allow_private_hosts=False, user_agent="newsmill-hostile-test",
        allowlist=parse_allowlist("127.0.0.1/32"),
    )  # fmt: skip


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """Yields a list that receives, at exit, how far the process's resident memory rose (bytes) in the block.

    Resident memory, not tracemalloc: lxml and zlib allocate outside Python's allocator. Writing 5 to
    /proc/self/clear_refs resets the kernel's high-water mark (VmHWM) to the current size (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    out: list[int] = []
    yield out
    out.append(max(0, _status_kib("VmHWM") - before) * 1024)


@contextmanager
def scratch_database(template: str) -> Iterator[str]:
    """A migrated database copied from ``template`` for a whole test module; dropped afterwards."""
    name = f"nm_h_{uuid.uuid4().hex[:12]}"
    try:
        yield create_database(name, template)
    finally:
        drop_database(name)
