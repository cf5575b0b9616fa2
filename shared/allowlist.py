"""NEWSMILL_PRIVATE_ALLOWLIST: private destinations allowed anyway, as networks with an optional port range.

Allowing 127.0.0.1 for a feed on a local port used to allow every port of it, so a hostile redirect could
reach Redis or PostgreSQL there. An entry can now name its ports:

    10.0.0.0/8                every port of a network (as before)
    127.0.0.1:8080            one port of one address
    127.0.0.1/32:8000-8099    a port range of a network
    [::1]:8080, [fd00::/8]:443-8443, fd00::/8   IPv6: brackets before a port, or none for every port

Entries name addresses, not host names: the guard judges the address a socket is opened to, after DNS.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_PORTS = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")
MAX_PORT = 65_535


@dataclass(frozen=True)
class AllowRule:
    """A private network allowed anyway, on ports ``first_port``..``last_port``."""

    network: Network
    first_port: int = 1
    last_port: int = MAX_PORT

    def allows(self, ip: IPAddress, port: int) -> bool:
        return ip.version == self.network.version and ip in self.network and self.first_port <= port <= self.last_port

    def __str__(self) -> str:
        if (self.first_port, self.last_port) == (1, MAX_PORT):
            return str(self.network)
        ports = str(self.first_port) if self.first_port == self.last_port else f"{self.first_port}-{self.last_port}"
        net = f"[{self.network}]" if self.network.version == 6 else str(self.network)
        return f"{net}:{ports}"


def parse_rule(entry: str) -> AllowRule:
    """One allowlist entry; ValueError says what is wrong with it."""
    text = entry.strip()
    ports: str | None = None
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"allowlist entry {entry!r}: write an IPv6 network as [fd00::/8] or [fd00::/8]:443")
        ports = rest[1:] if rest else None
    elif text.count(":") == 1:  # IPv4 (a bare IPv6 address has several colons)
        address, _, ports = text.partition(":")
    else:
        address = text
    try:
        network = ipaddress.ip_network(address, strict=False)
    except ValueError as exc:
        raise ValueError(f"allowlist entry {entry!r}: {address!r} is not an IP address or CIDR network") from exc
    if ports is None:
        return AllowRule(network)
    match = _PORTS.match(ports)
    first, last = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
    if not match or not 1 <= first <= last <= MAX_PORT:
        raise ValueError(f"allowlist entry {entry!r}: ports must be N or N-M within 1-{MAX_PORT}")
    return AllowRule(network, first, last)


def parse_allowlist(text: str) -> tuple[AllowRule, ...]:
    """Comma-separated entries (blank ones ignored)."""
    return tuple(parse_rule(entry) for entry in text.split(",") if entry.strip())
