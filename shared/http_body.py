"""Read a response body within a byte budget, decompressing gzip/deflate ourselves so a bomb cannot inflate."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from shared.errors import Outcome, PermanentError

# What we send as Accept-Encoding; anything else in Content-Encoding is refused (RFC 9110 §8.4).
ACCEPT_ENCODING = "gzip, deflate"
_STEP = 64 * 1024  # most output one decompress call may produce: the memory ceiling per step


class BodyTooLargeError(Exception):
    """The body went past the budget; ``partial`` holds the first ``max_bytes`` bytes of it."""

    def __init__(self, partial: bytes) -> None:
        super().__init__("body too large")
        self.partial = partial


class _Inflater:
    """Incremental gzip/deflate decoding that never produces more than asked for per call."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.pending = b""  # deflate: bytes held until the first two tell zlib-wrapped from raw
        self.decoder: zlib._Decompress | None = None
        if coding == "gzip":
            self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _start_deflate(self, data: bytes) -> bytes:
        # RFC 9110 §8.4.1.2 says "deflate" is zlib-wrapped (RFC 1950), but many servers send raw RFC 1951 data.
        # A zlib header has compression method 8 in the low nibble and is a multiple of 31 (RFC 1950 §2.2).
        data = self.pending + data
        if len(data) < 2:
            self.pending = data
            return b""
        self.pending = b""
        wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
        self.decoder = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return data

    def feed(self, data: bytes, room: int) -> Iterable[bytes]:
        """Decode ``data`` in steps of at most 64 KiB, stopping once more than ``room`` bytes came out."""
        if self.decoder is None:
            data = self._start_deflate(data)
            if self.decoder is None:
                return
        produced = 0
        while data and produced <= room:
            decoder = self.decoder
            if decoder.eof:
                # A gzip body may hold several members (RFC 1952 §2.2); anything after a deflate stream is junk.
                # Browsers ignore trailing garbage after a member, so only a new gzip header starts another.
                if self.coding != "gzip" or not data.startswith(b"\x1f\x8b"):
                    return
                decoder = self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = decoder.decompress(data, min(_STEP, room - produced + 1))
            data = decoder.unconsumed_tail or decoder.unused_data
            produced += len(out)
            if out:
                yield out
            elif not decoder.unconsumed_tail and not decoder.eof:
                return  # all input taken, waiting for more

    def flush(self) -> bytes:
        return self.decoder.flush(_STEP) if self.decoder is not None and not self.decoder.eof else b""


def decode_stream(raw: Iterable[bytes], content_encoding: str, max_bytes: int) -> bytes:
    """The content-decoded body of ``raw``; BodyTooLargeError past ``max_bytes``, PermanentError on a bad coding."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip().lower() not in ("", "identity")]
    codings = ["gzip" if c == "x-gzip" else c for c in codings]  # RFC 9110 §8.4.1.3
    if len(codings) > 1 or (codings and codings[0] not in ("gzip", "deflate")):
        raise PermanentError(Outcome.HTTP_ERROR, f"unsupported Content-Encoding {content_encoding!r}")
    inflater = _Inflater(codings[0]) if codings else None
    # Compressed input that inflates to nothing (empty gzip members, stored empty blocks) must also stop.
    raw_budget = max_bytes + _STEP
    body = bytearray()
    raw_seen = 0
    try:
        for chunk in raw:
            raw_seen += len(chunk)
            pieces = [chunk] if inflater is None else inflater.feed(chunk, max_bytes - len(body))
            for piece in pieces:
                body += piece
                if len(body) > max_bytes:
                    raise BodyTooLargeError(bytes(body[:max_bytes]))
            if raw_seen > raw_budget:
                raise BodyTooLargeError(bytes(body[:max_bytes]))
        if inflater is not None:
            # A truncated stream keeps what decoded so far, as browsers do; the length check still applies.
            body += inflater.flush()
    except zlib.error as exc:
        raise PermanentError(Outcome.HTTP_ERROR, f"corrupt {codings[0]} body: {exc}") from exc
    if len(body) > max_bytes:
        raise BodyTooLargeError(bytes(body[:max_bytes]))
    return bytes(body)
