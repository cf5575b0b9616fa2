"""Batch extraction: JSON lines of pages in, JSON-ready records out, in input order, over a process pool."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from typing import Any

from shared.errors import StageError
from shared.settings import get_settings
from workers.stages.extract import extract_page, extract_raw

# Futures in flight per worker process: enough to keep every process busy, few enough that a long input
# is streamed instead of being read whole into memory.
IN_FLIGHT_PER_WORKER = 4


def _error(record_id: Any, url: Any, error: str) -> dict[str, Any]:
    return {"id": record_id, "url": url, "error": error}


def _parse(line: str) -> tuple[Any, Any, str, str | None]:
    """(id, url, html, problem) of one input line; ``problem`` says why it cannot be extracted."""
    try:
        page = json.loads(line)
    except ValueError as exc:
        return None, None, "", f"not JSON ({exc})"
    if not isinstance(page, dict):
        return None, None, "", "a line must be a JSON object"
    record_id, url, html = page.get("id"), page.get("url") or "", page.get("html")
    if not isinstance(html, str) or not isinstance(url, str):
        return record_id, url, "", "'html' and 'url' must be strings"
    return record_id, url, html, None


def extract_record(line: str, *, clean: bool = True) -> dict[str, Any]:
    """One ``{"id", "url", "html"}`` line → the extracted record, or ``{"id", "url", "error"}``.

    With ``clean=False`` the record is ``{"id", "url", "text"}`` holding trafilatura's text before our
    cleaning (how the benchmark measures what cleaning changes).
    """
    record_id, url, html, problem = _parse(line)
    if problem is not None:
        return _error(record_id, url, f"bad_input: {problem}")
    try:
        if not clean:
            return {"id": record_id, "url": url, "text": extract_raw(html, url)}
        result = extract_page(html, url, mode=get_settings().extraction_mode)
    except StageError as exc:
        return _error(record_id, url, f"{exc.outcome.value}: {exc.reason}")
    except Exception as exc:  # noqa: BLE001 - a parser bug on one page must not end the batch; it is reported
        return _error(record_id, url, f"extract_failed: {type(exc).__name__}: {exc}")
    return {
        "id": record_id,
        "url": url,
        "title": result.title,
        "author": result.author,
        "site_name": result.site_name,
        "published_at": result.published_at.isoformat() if result.published_at else None,
        "date_source": result.date_source,
        "language_hint": result.language_hint,
        "text": result.text,
    }


def extract_lines(lines: Iterable[str], *, workers: int = 1, clean: bool = True) -> Iterator[dict[str, Any]]:
    """Extract every non-blank line, yielding records in input order; ``workers`` > 1 uses processes.

    Extraction is CPU-bound pure Python, so threads would share one core; processes do not.
    """
    task = partial(extract_record, clean=clean)
    pages = (line for line in lines if line.strip())
    if workers <= 1:
        yield from map(task, pages)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[dict[str, Any]]] = deque()
        for line in pages:
            pending.append(pool.submit(task, line))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
