"""The admin bearer token guarding every endpoint that changes topics, feeds or subscriptions (readers: api.sign_in)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import get_settings

_bearer = HTTPBearer(auto_error=False, description="NEWSMILL_ADMIN_TOKEN")


def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """503 when no token is configured (admin is off), 401 without a bearer token, 403 with a wrong one."""
    expected = get_settings(request).admin_token
    if not expected:
        raise HTTPException(503, "admin disabled: set NEWSMILL_ADMIN_TOKEN")
    if credentials is None:
        raise HTTPException(401, "bearer token required", headers={"WWW-Authenticate": "Bearer"})
    # Constant time, on bytes (compare_digest refuses non-ASCII str). Starlette decodes headers as latin-1,
    # so encoding back gives the bytes the client sent; the configured token is compared as UTF-8.
    if not hmac.compare_digest(credentials.credentials.encode("latin-1"), expected.encode("utf-8")):
        raise HTTPException(403, "wrong admin token")
