"""Request counts and latency of the HTTP service, labelled by route template (never the raw path)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

router = APIRouter(tags=["health"])


class ApiMetrics:
    """One registry per app, so two apps in one process (tests) do not clash on metric names."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "newsmill_api_requests_total", "HTTP requests, by method, route template and status.",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.seconds = Histogram(
            "newsmill_api_request_seconds", "Time to answer an HTTP request, by method and route template.",
            ["method", "route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip


def _route_template(request: Request) -> str:
    # The router leaves the route it chose in the scope; its path is the template ("/articles/{article_id}").
    # Unknown paths share one label: a scanner probing random URLs must not create a series per URL.
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def install(app: FastAPI) -> None:
    """Time every request and serve ``GET /metrics``."""
    metrics = ApiMetrics()
    app.state.metrics = metrics

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = _route_template(request)
            metrics.requests.labels(request.method, route, str(status)).inc()
            metrics.seconds.labels(request.method, route).observe(time.perf_counter() - started)

    app.include_router(router)


@router.get("/metrics", include_in_schema=False)
def metrics_endpoint(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
