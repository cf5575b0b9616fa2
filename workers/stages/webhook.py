"""Webhook posting stage: sign an article's JSON body and POST it once; every answer is a named outcome."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from shared import http_client
from shared.errors import Outcome, StageError
from shared.http_client import FetchPolicy

SIGNATURE_HEADER = "X-Newsmill-Signature-256"
DELIVERY_HEADER = "X-Newsmill-Delivery"
EVENT_HEADER = "X-Newsmill-Event"
EVENT = "article.published"


@dataclass(frozen=True)
class PostResult:
    outcome: Outcome
    response_code: int | None
    error: str | None
    duration_ms: int


Poster = Callable[[str, bytes, Mapping[str, str]], PostResult]


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: HMAC-SHA256 of the raw body, hex, prefixed like GitHub's."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def delivery_headers(body: bytes, secret: str, delivery_id: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(body, secret),
        DELIVERY_HEADER: str(delivery_id),
        EVENT_HEADER: EVENT,
    }


def post_webhook(url: str, body: bytes, headers: Mapping[str, str], policy: FetchPolicy) -> PostResult:
    """POST ``body`` through the guarded transport (private addresses refused unless allowed); redirects
    are not followed and the receiver's body is never read. Every failure becomes a named outcome."""
    started = time.monotonic()
    try:
        code = http_client.post(url, body, headers, policy)
    except httpx.TimeoutException as exc:
        return _result(Outcome.TIMEOUT, None, f"no answer in time: {type(exc).__name__}", started)
    except httpx.TransportError as exc:
        return _result(Outcome.NETWORK_ERROR, None, f"{type(exc).__name__}: {exc}", started)
    except StageError as exc:  # the address guard's refusal
        return _result(exc.outcome, None, exc.reason, started)
    except httpx.InvalidURL as exc:
        return _result(Outcome.HTTP_ERROR, None, f"invalid URL: {exc}", started)
    outcome = classify_status(code)
    return _result(outcome, code, None if outcome == Outcome.OK else f"HTTP {code}", started)


def classify_status(code: int) -> Outcome:
    """A receiver's answer as an outcome: only 2xx delivers; a redirect is not followed, so it fails too."""
    if 200 <= code <= 299:
        return Outcome.OK
    if code == 429:
        return Outcome.RATE_LIMITED
    if code == 408 or code >= 500:
        return Outcome.SERVER_ERROR
    return Outcome.HTTP_ERROR


def _result(outcome: Outcome, code: int | None, error: str | None, started: float) -> PostResult:
    return PostResult(outcome, code, error, int((time.monotonic() - started) * 1000))
