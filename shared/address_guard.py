"""Refuse outbound connections to private addresses, checking the very address a socket is opened to."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import httpcore

from shared.allowlist import AllowRule, IPAddress, Network
from shared.errors import Outcome, PermanentError

Resolver = Callable[[str, int], list[str]]

# Spelled out rather than trusting ``is_global`` alone: its meaning has shifted between Python releases.
# Sources: the IANA IPv4/IPv6 Special-Purpose Address Registries (RFC 6890 and updates).
_BLOCKED: tuple[Network, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network", includes the unspecified 0.0.0.0 (RFC 1122)
        "10.0.0.0/8",  # private (RFC 1918)
        "100.64.0.0/10",  # carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, home of cloud metadata at 169.254.169.254 (RFC 3927)
        "172.16.0.0/12",  # private (RFC 1918)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
        "192.0.2.0/24",  # documentation (RFC 5737)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast (RFC 7526)
        "192.168.0.0/16",  # private (RFC 1918)
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "198.51.100.0/24",  # documentation (RFC 5737)
        "203.0.113.0/24",  # documentation (RFC 5737)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes broadcast 255.255.255.255
        "::/128",  # unspecified
        "::1/128",  # loopback
        "100::/64",  # discard-only (RFC 6666)
        "2001::/23",  # IETF protocol assignments, includes Teredo 2001::/32 (RFC 2928, RFC 4380)
        "2001:db8::/32",  # documentation (RFC 3849)
        "fc00::/7",  # unique-local (RFC 4193)
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local (RFC 3879)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
# Cloud metadata services answer on names as well as on 169.254.169.254. A name alone says where it leads, so
# it is refused before any DNS lookup: a lookup would tell the resolver (and whoever watches it) what we were
# asked to reach, and could be answered with a public address today and the metadata one tomorrow.
# Sources: Google Cloud, AWS EC2 and Azure instance metadata documentation.
METADATA_HOSTS = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog",  # Google Cloud
    "instance-data", "instance-data.ec2.internal",  # AWS EC2
    "metadata.azure.internal",  # Azure (wireserver and IMDS names)
})  # fmt: skip


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64, IPv4-compatible), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or int(ip) >> 32 == 0:  # NAT64 or the deprecated IPv4-compatible ::a.b.c.d (RFC 4291)
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_blocked_ip(ip: IPAddress) -> bool:
    """True when ``ip`` is not a public unicast address (private, loopback, link-local, reserved, ...)."""
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 spelling of an IPv4 address reaches that IPv4 address: judge it by the address inside.
        # (:: and ::1 fall in the IPv4-compatible range and come out as 0.0.0.0 and 0.0.0.1, both refused.)
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_blocked_ip(inner)
    if any(ip in net for net in _BLOCKED if net.version == ip.version):
        return True
    return ip.is_multicast or ip.is_reserved or not ip.is_global


def numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host names, including inet_aton's forms (2130706433, 0177.0.0.1, 0x7f.1, 127.1)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    try:
        # The C resolver accepts these historic spellings, so they must be read the same way here.
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def check_ip(ip: IPAddress, port: int, allowed: Sequence[AllowRule] = ()) -> None:
    """Raise BLOCKED_ADDRESS unless ``ip`` is public or ``ip`` and ``port`` are allowed by an ``allowed`` rule."""
    if is_blocked_ip(ip) and not any(rule.allows(ip, port) for rule in allowed):
        raise PermanentError(Outcome.BLOCKED_ADDRESS, f"refusing non-public address {ip} port {port}")


def check_host_name(host: str) -> None:
    """Raise BLOCKED_ADDRESS for a cloud metadata host name (or a name under one), before any lookup."""
    name = host.strip("[]").rstrip(".").lower()
    if any(name == known or name.endswith("." + known) for known in METADATA_HOSTS):
        raise PermanentError(Outcome.BLOCKED_ADDRESS, f"refusing cloud metadata host name {host!r}")


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its preferred order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_checked(
    host: str,
    port: int,
    allowed: Sequence[AllowRule] = (),
    resolve: Resolver = system_resolve,
    timeout: float | None = None,
) -> list[str]:
    """Resolve ``host`` once and check every address it gives; one bad address refuses the host. A metadata
    host name is refused without asking DNS."""
    check_host_name(host)
    addresses = resolve_host(host, port, resolve, timeout)
    for address in addresses:
        check_ip(ipaddress.ip_address(address.split("%", 1)[0]), port, allowed)
    return addresses


# getaddrinfo has no timeout of its own (the system resolver's can be tens of seconds): lookups run here so a
# fetch can stop waiting at its deadline. A lookup still hanging keeps its thread until the resolver gives up.
_LOOKUPS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="newsmill-dns")


def resolve_host(host: str, port: int, resolve: Resolver = system_resolve, timeout: float | None = None) -> list[str]:
    """The addresses of ``host`` (numeric spellings read without asking DNS); failures are ConnectError, a
    lookup that takes longer than ``timeout`` seconds is ConnectTimeout."""
    numeric = numeric_host(host)
    if numeric is not None:
        return [str(numeric)]
    try:
        addresses = _LOOKUPS.submit(resolve, host, port).result(timeout)
    except FutureTimeout as exc:
        raise httpcore.ConnectTimeout(f"resolving {host!r} took over {timeout:g}s") from exc
    except (OSError, UnicodeError) as exc:
        # A name that does not resolve today often resolves tomorrow: a network error, not a permanent one.
        raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
    if not addresses:
        raise httpcore.ConnectError(f"{host!r} resolved to no address")
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore backend that connects only to checked addresses and enforces one overall deadline.

    httpcore hands ``connect_tcp`` the URL's host name; this resolves it once, refuses the lot if any address is
    not public, and opens the socket to the checked IP itself, so a second DNS answer (rebinding) never gets a
    say. TLS SNI and the Host header still carry the original name: httpcore takes both from the request URL.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        allowed: Sequence[AllowRule] = (),
        deadline: float | None = None,
        resolve: Resolver = system_resolve,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.allowed = tuple(allowed)
        self.deadline = deadline  # time.monotonic() value after which every socket operation fails
        self.resolve = resolve
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        lookup = _bounded(timeout, self.deadline, httpcore.ConnectTimeout)  # the connect timeout covers DNS too
        if self.allow_private:
            addresses = resolve_host(host, port, self.resolve, lookup)
        else:
            addresses = resolve_checked(host, port, self.allowed, self.resolve, lookup)
        error: Exception = httpcore.ConnectError(f"no address to connect to for {host!r}")
        for address in addresses:
            try:
                stream = self.inner.connect_tcp(
                    address,
                    port,
                    timeout=_bounded(timeout, self.deadline, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:  # try the next checked address, like create_connection does
                error = exc
                continue
            return _DeadlineStream(stream, self.deadline)
        raise error

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def _bounded(timeout: float | None, deadline: float | None, exc: type[Exception]) -> float | None:
    """The smaller of a per-operation timeout and what is left before the deadline; raise once it has passed."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise exc("total deadline exceeded")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Caps every read and write at the time left, so a byte-a-second drip still ends at the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float | None) -> None:
        self.inner = inner
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _bounded(timeout, self.deadline, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _bounded(timeout, self.deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, self.deadline, httpcore.ConnectTimeout)
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, bounded), self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)
