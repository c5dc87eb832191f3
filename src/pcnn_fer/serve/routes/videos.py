"""POST /v1/videos (a video processed in the background) and GET /v1/videos/{id} (its progress and records)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pcnn_fer.inference.video import VideoError
from pcnn_fer.serve.batching import QueueFull
from pcnn_fer.serve.context import API, ServerContext, server_context
from pcnn_fer.serve.errors import ApiError
from pcnn_fer.serve.image_flow import refuse
from pcnn_fer.serve.uploads import read_uploads

router = APIRouter(prefix=f"{API}/videos", tags=["videos"])


@router.post("", status_code=202)
async def submit_video(request: Request, every: int = Query(1, ge=1, description="process every Nth frame"),
                       smooth: float | None = Query(None, gt=0, le=1, description="weight of the newest frame in "
                                                    "each tracked face's running average"),
                       context: ServerContext = Depends(server_context)) -> JSONResponse:
    """A video (a multipart file or the raw body), processed in the background: poll the URL it answers."""
    upload = (await read_uploads(request, context.settings.max_video_bytes))[0]
    try:
        job = await run_in_threadpool(context.jobs.submit, upload.data, upload.name, every=every, smooth=smooth)
    except VideoError as error:
        raise refuse(context, ApiError(422, "bad_video", str(error))) from error
    except QueueFull as error:
        raise refuse(context, ApiError(503, "busy", f"{error}; retry later", {"Retry-After": "5"})) from error
    url = f"{API}/videos/{job.id}"
    return JSONResponse({**job.to_dict(), "url": url}, status_code=202, headers={"Location": url})


@router.get("/{job_id}")
async def video_job(job_id: str, offset: int = Query(0, ge=0, description="records from this one on"),
                    context: ServerContext = Depends(server_context)) -> dict:
    """A video job's status, progress and the tracked records of its frames so far."""
    job = context.jobs.get(job_id)
    if job is None:
        raise ApiError(404, "unknown_job", f"no video job {job_id!r} (unknown, or finished long ago)")
    return job.to_dict(offset)
