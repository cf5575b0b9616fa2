"""`newsmill api`: serve the HTTP service (topic feeds, read API, pages) with uvicorn."""

from __future__ import annotations

import socket

import typer

from cli.errors import CommandError
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
    host, port = host or settings.api_host, port or settings.api_port
    _require_free(host, port)
    configure_logging(settings)
    # log_config=None: uvicorn's own loggers (errors, access lines) go through our handler, JSON like the rest.
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        proxy_headers=True,
        log_config=None,
        log_level=settings.log_level.lower(),
    )


def _require_free(host: str, port: int) -> None:
    """Say in one line that the address is taken, before the server starts and logs it among its own lines."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            hint = "choose another with --port or NEWSMILL_API_PORT"
            raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror}): {hint}") from exc
