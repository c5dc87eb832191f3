"""GET /healthz and /metrics: what operators and Prometheus read."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from pcnn_fer.serve.context import ServerContext, server_context

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz(context: ServerContext = Depends(server_context)) -> dict:
    """Alive, with the number of images and video jobs waiting."""
    return {"status": "ok", "queue": context.batcher.depth, "video_jobs_waiting": context.jobs.waiting}


@router.get("/metrics")
async def prometheus(context: ServerContext = Depends(server_context)) -> Response:
    """Prometheus text exposition: requests, latency histogram, faces, errors, batch sizes, queue depths."""
    return Response(context.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
