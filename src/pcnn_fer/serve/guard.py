"""The middleware in front of every route: the bearer token of the /v1/ API, and each request counted and timed."""

from __future__ import annotations

import hmac
import time

from fastapi import FastAPI, Request, Response

from pcnn_fer.serve.context import API, ServerContext
from pcnn_fer.serve.errors import ApiError


def install_guard(app: FastAPI, context: ServerContext) -> None:
    """Refuse /v1/ requests without the server's token (when it has one) and record every request's metrics."""
    token = context.settings.token
    expected = f"Bearer {token}".encode() if token else None

    @app.middleware("http")
    async def guard_and_count(request: Request, call_next) -> Response:
        start = time.perf_counter()
        given = request.headers.get("authorization", "").encode()
        if expected and request.url.path.startswith(f"{API}/") and not hmac.compare_digest(given, expected):
            response = ApiError(401, "unauthorized", "this server needs 'Authorization: Bearer <token>'",
                                {"WWW-Authenticate": "Bearer"}).response()
        else:
            response = await call_next(request)
        endpoint = getattr(request.scope.get("route"), "path", "unmatched")
        context.metrics.requests.labels(endpoint, str(response.status_code)).inc()
        context.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
        return response
