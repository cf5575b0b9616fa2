"""The article read API for services that do not speak SQL: cursor pagination over articles_published."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import Conn
from shared.db import published
from shared.languages import normalise_languages

router = APIRouter(tags=["articles"])

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
MAX_ID = 2**63 - 1  # bigint: a larger number is a client error (422), not a database error (500)


@router.get("/articles", summary="Published articles after a cursor, in cursor order")
def list_articles(
    conn: Conn,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Return articles with a cursor above this.")] = 0,
    topic: Annotated[str | None, Query(pattern=SLUG_PATTERN, max_length=80, description="Topic slug.")] = None,
    lang: Annotated[
        str | None, Query(max_length=64, description="ISO 639-1 code (or any tag naming one), or und.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Articles per page.")] = 100,
) -> dict[str, Any]:
    """Pass ``next_cursor`` back as ``after`` to read the next page; an empty page keeps the cursor, so a
    poller stores it and asks again later. Every row is returned exactly once in cursor order."""
    rows = published.read_after(conn, after, topic=topic, language=_language(lang), limit=limit)
    return {"articles": [r.to_json() for r in rows], "next_cursor": rows[-1].cursor if rows else after}


def _language(value: str | None) -> str | None:
    try:
        return normalise_languages([value])[0] if value else None
    except ValueError as exc:
        raise HTTPException(422, "lang: an ISO 639-1 code, or und") from exc


@router.get("/articles/{article_id}", summary="One published article", responses={404: {}})
def get_article(conn: Conn, article_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> dict[str, Any]:
    row = published.get_published(conn, article_id)
    if row is None:
        raise HTTPException(404, "no published article with this id")
    return row.to_json()
