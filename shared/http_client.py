"""The one way newsmill talks HTTP: guarded addresses, our own redirects, deadlines and byte budgets."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import SplitResult, urljoin, urlsplit

import httpcore
import httpx

from shared.address_guard import GuardedBackend, check_host_name, check_ip, numeric_host
from shared.allowlist import AllowRule, parse_allowlist
from shared.content_type import check_media
from shared.errors import Outcome, PermanentError, TransientError
from shared.http_body import ACCEPT_ENCODING, BodyTooLargeError, decode_stream
from shared.server_hints import parse_retry_after
from shared.settings import Settings

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Credentials the caller set for one origin must not travel to another (cf. RFC 9110 §15.4).
_ORIGIN_BOUND = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one fetch; ``allowlist`` names private destinations allowed even when private hosts are not."""

    connect_timeout: float
    read_timeout: float
    total_timeout: float
    max_bytes: int
    max_redirects: int
    allow_private_hosts: bool
    user_agent: str
    allowlist: tuple[AllowRule, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            total_timeout=settings.total_timeout,
            max_bytes=settings.max_response_bytes,
            max_redirects=settings.max_redirects,
            allow_private_hosts=settings.allow_private_hosts,
            user_agent=settings.user_agent,
            allowlist=parse_allowlist(settings.private_allowlist),
        )


@dataclass(frozen=True)
class FetchResult:
    """A successful exchange: 2xx with a body, or 304 with none."""

    url: str  # final URL after redirects
    status: int  # 200..299, or 304
    headers: Mapping[str, str]  # names lower-cased
    body: bytes  # content-decoded, never more than policy.max_bytes


def fetch(
    url: str, policy: FetchPolicy, *, headers: Mapping[str, str] | None = None, truncate: bool = False
) -> FetchResult:
    """GET ``url`` under ``policy``; raise PermanentError/TransientError with a named outcome otherwise.

    ``truncate=True`` keeps the first ``max_bytes`` of a longer body instead of refusing it (robots.txt).
    """
    deadline = time.monotonic() + policy.total_timeout
    with _transport(policy, deadline) as transport:
        try:
            return _follow(transport, url, policy, dict(headers or {}), truncate=truncate)
        except httpx.TimeoutException as exc:
            late = time.monotonic() >= deadline
            why = f"no answer within the total {policy.total_timeout:g}s" if late else f"timed out: {exc}"
            raise TransientError(Outcome.TIMEOUT, why) from exc
        except httpx.TransportError as exc:  # connect/read/write errors, resets, bad status lines, DNS failures
            raise TransientError(Outcome.NETWORK_ERROR, f"{type(exc).__name__}: {exc}") from exc


def post(url: str, body: bytes, headers: Mapping[str, str], policy: FetchPolicy) -> int:
    """POST ``body`` to ``url`` through the address guard and return the status code; no redirect is followed
    and the response body is never read. Raises httpx.TransportError (timeouts included), httpx.InvalidURL, or
    the guard's StageError; the caller names the outcome."""
    deadline = time.monotonic() + policy.total_timeout
    timeout = httpx.Timeout(policy.total_timeout, connect=policy.connect_timeout)
    # Straight to the transport, as fetch does: httpx.Client would log the URL at INFO, and webhook URLs often
    # carry a credential (Slack's do).
    request = httpx.Request("POST", url, content=body, headers={**headers, "User-Agent": policy.user_agent},
                            extensions={"timeout": timeout.as_dict()})  # fmt: skip
    with _transport(policy, deadline) as transport:
        response = transport.handle_request(request)
        response.close()
    return response.status_code


def _follow(
    transport: httpx.HTTPTransport, url: str, policy: FetchPolicy, headers: dict[str, str], *, truncate: bool
) -> FetchResult:
    """Follow redirects ourselves so every hop's destination passes the guard.

    Requests go straight to the transport: httpx.Client would parse Location itself, and fail in its own way.
    """
    timeout = httpx.Timeout(
        connect=policy.connect_timeout, read=policy.read_timeout, write=policy.read_timeout, pool=policy.connect_timeout
    )
    current = _destination(url, policy, Outcome.HTTP_ERROR)
    origin = current.copy_with(path="/", query=None)
    seen = {current}
    for hop in range(policy.max_redirects + 1):
        same_origin = current.copy_with(path="/", query=None) == origin
        # httpx.Headers replaces case-insensitively, so a caller's "accept" overrides our "Accept" default and
        # our User-Agent and Accept-Encoding override the caller's: we can only decode what we ask for.
        sent = httpx.Headers({"Accept": "*/*"})
        sent.update({k: v for k, v in headers.items() if same_origin or k.lower() not in _ORIGIN_BOUND})
        sent.update({"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING})
        request = httpx.Request("GET", current, headers=sent, extensions={"timeout": timeout.as_dict()})
        response = transport.handle_request(request)
        response.request = request
        try:
            if response.status_code not in _REDIRECTS:
                return _result(response, policy, truncate=truncate)
            location = response.headers.get("location", "").strip()
        finally:
            response.close()
        if not location:
            raise PermanentError(Outcome.BAD_REDIRECT, f"HTTP {response.status_code} without Location from {current}")
        if hop == policy.max_redirects:
            raise PermanentError(Outcome.BAD_REDIRECT, f"more than {policy.max_redirects} redirects from {url}")
        try:
            target = urljoin(str(current), location)
        except ValueError as exc:
            raise PermanentError(Outcome.BAD_REDIRECT, f"unparsable Location {location!r}") from exc
        current = _destination(target, policy, Outcome.BAD_REDIRECT)
        if current in seen:
            raise PermanentError(Outcome.BAD_REDIRECT, f"redirect loop back to {current}")
        seen.add(current)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _destination(url: str, policy: FetchPolicy, bad: Outcome) -> httpx.URL:
    """Parse ``url`` and refuse non-HTTP schemes and numeric private hosts before any socket exists."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError as exc:
        raise PermanentError(bad, f"unparsable URL {url!r}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise PermanentError(Outcome.BLOCKED_ADDRESS, f"refusing scheme {parts.scheme!r} of {url!r}")
    if not policy.allow_private_hosts:
        check_host_name(host)
        # Numeric spellings httpx rejects (0177.0.0.1) still name an address: judge them as the resolver would.
        numeric = numeric_host(host)
        if numeric is not None:
            check_ip(numeric, _port(parts), policy.allowlist)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise PermanentError(bad, f"invalid URL {url!r}: {exc}") from exc
    if not parsed.host:
        raise PermanentError(bad, f"URL without a host: {url!r}")
    return parsed.copy_with(fragment=None)


def _port(parts: SplitResult) -> int:
    """The port a URL connects to; an out-of-range one is httpx's to refuse a moment later."""
    try:
        port = parts.port
    except ValueError:
        return 0
    return port if port is not None else (443 if parts.scheme.lower() == "https" else 80)


def _result(response: httpx.Response, policy: FetchPolicy, *, truncate: bool) -> FetchResult:
    """Map a final response to a FetchResult or a named error; error bodies are never read."""
    status = response.status_code
    headers = {name.lower(): value for name, value in response.headers.items()}
    url = str(response.request.url)
    if status == 304:
        return FetchResult(url, 304, headers, b"")
    retry_after = parse_retry_after(headers.get("retry-after"), datetime.now(UTC))
    if status == 429:
        raise TransientError(Outcome.RATE_LIMITED, f"HTTP 429 from {url}", retry_after=retry_after)
    if status == 408 or 500 <= status <= 599:
        raise TransientError(Outcome.SERVER_ERROR, f"HTTP {status} from {url}", retry_after=retry_after)
    if status == 204:
        raise PermanentError(Outcome.EMPTY, f"HTTP 204 No Content from {url}")
    if not 200 <= status <= 299:
        # Even a 404 whose body is a valid feed: the server says the resource is not there.
        raise PermanentError(Outcome.HTTP_ERROR, f"HTTP {status} {response.reason_phrase} from {url}")
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes and not truncate:
        raise PermanentError(Outcome.TOO_LARGE, f"declared {declared} bytes, limit {policy.max_bytes}: {url}")
    try:
        body = decode_stream(response.iter_raw(), headers.get("content-encoding", ""), policy.max_bytes)
    except BodyTooLargeError as exc:
        if not truncate:
            raise PermanentError(Outcome.TOO_LARGE, f"body past {policy.max_bytes} bytes: {url}") from exc
        body = exc.partial
    if not body:
        raise PermanentError(Outcome.EMPTY, f"HTTP {status} with an empty body from {url}")
    return FetchResult(url, status, headers, body)


def check_content_type(result: FetchResult, kind: Literal["feed", "html"]) -> None:
    """Raise BAD_CONTENT_TYPE when the declared type or the first bytes say this is not a ``kind``."""
    check_media(result.headers.get("content-type"), result.body, kind)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The TLS context of every fetch, made once per process: loading the CA bundle takes about a second."""
    return httpx.create_ssl_context(trust_env=False)


def _transport(policy: FetchPolicy, deadline: float) -> _GuardedTransport:
    """A transport whose every connection passes the address guard; ``deadline`` is a time.monotonic() value."""
    backend = GuardedBackend(allow_private=policy.allow_private_hosts, allowed=policy.allowlist, deadline=deadline)
    return _GuardedTransport(backend)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool rebuilt on a GuardedBackend (httpx takes no backend itself)."""

    def __init__(self, backend: GuardedBackend) -> None:
        super().__init__(verify=ssl_context(), trust_env=False, retries=0)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            # Fail loudly if a new httpx stops using this attribute: the address guard would silently vanish.
            raise RuntimeError("httpx.HTTPTransport no longer keeps its pool in _pool; update _GuardedTransport")
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context(), network_backend=backend, retries=0)
