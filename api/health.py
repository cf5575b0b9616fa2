"""Liveness and readiness: the process answers; the database is reachable and its schema current."""

from __future__ import annotations

import logging

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import get_settings
from shared.db.connection import pending_migrations

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and fully migrated", responses={503: {}})
def readyz(request: Request) -> JSONResponse:
    try:
        missing = pending_migrations(get_settings(request).database_url)
    except psycopg.Error as exc:
        # Logged, not echoed: the error may carry the database URL.
        log.warning("readyz: database unreachable: %s", exc)
        return JSONResponse({"status": "unavailable", "reason": "database unreachable"}, status_code=503)
    if missing:
        reason = f"{len(missing)} migration(s) pending: run `newsmill migrate`"
        return JSONResponse({"status": "unavailable", "reason": reason, "pending": missing}, status_code=503)
    return JSONResponse({"status": "ok"})
