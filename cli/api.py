"""`newsmill api`: serve the HTTP service (topic feeds, read API, pages) with uvicorn."""

from __future__ import annotations

import typer

from shared.logs import configure_logging
from shared.settings import get_settings


def api(
    host: str | None = typer.Option(None, "--host", help="Address to listen on (default: NEWSMILL_API_HOST)."),
    port: int | None = typer.Option(None, "--port", help="Port to listen on (default: NEWSMILL_API_PORT)."),
) -> None:
    """Serve the HTTP API and pages until Ctrl-C. Run `newsmill migrate` first (/readyz reports it)."""
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from api.app import create_app  # noqa: PLC0415

    settings = get_settings()
    configure_logging(settings)
    # log_config=None: uvicorn's own loggers (errors, access lines) go through our handler, JSON like the rest.
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        proxy_headers=True,
        log_config=None,
        log_level=settings.log_level.lower(),
    )
