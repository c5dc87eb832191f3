"""The way of an uploaded image through a server: decoded on a worker thread, queued for the model thread,
awaited within the request's timeout, answered as `pcnn-fer predict`'s records. Each refusal is counted."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future

from starlette.concurrency import run_in_threadpool

from pcnn_fer.serve.answers import AnalyzeOptions, decode_upload, detection_error, image_answer
from pcnn_fer.serve.batching import BatchAnswer, QueueFull
from pcnn_fer.serve.context import ServerContext
from pcnn_fer.serve.errors import ApiError
from pcnn_fer.serve.uploads import Upload


def refuse(context: ServerContext, error: ApiError) -> ApiError:
    """`error`, counted among the server's image errors."""
    context.metrics.image_errors.labels(error.code).inc()
    return error


async def decode(context: ServerContext, upload: Upload) -> tuple[object, float]:
    """(RGB pixels, seconds) of an upload, decoded on a worker thread; ApiError 413/422 when it cannot be."""
    start = time.perf_counter()
    try:
        image = await run_in_threadpool(decode_upload, upload, context.recognizer.max_pixels)
    except ApiError as error:
        raise refuse(context, error) from error
    return image, time.perf_counter() - start


def submit(context: ServerContext, images: list, uploads: list[Upload], options: AnalyzeOptions) -> list[Future]:
    """Queue the images for the model thread; 503 (nothing queued) when the queue has no room for all."""
    futures: list[Future] = []
    try:
        for image, upload in zip(images, uploads):
            futures.append(context.batcher.submit(image, upload.name, explain=options.explain,
                                                  flip_tta=options.flip_tta, min_score=options.min_score))
    except QueueFull as error:
        for future in futures:
            future.cancel()
        raise refuse(context, ApiError(503, "busy", f"{error}; retry shortly", {"Retry-After": "1"})) from error
    return futures


async def answers_of(context: ServerContext, futures: list[Future]) -> list[BatchAnswer]:
    """The model thread's answers, within the server's timeout (504 after it, the images dropped)."""
    timeout = context.settings.timeout_s
    try:
        return await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, futures)), timeout)
    except asyncio.TimeoutError as cause:
        for future in futures:
            future.cancel()
        raise refuse(context, ApiError(504, "timeout", f"no answer within {timeout:g} s")) from cause


async def finish(context: ServerContext, upload: Upload, image, answer: BatchAnswer, options: AnalyzeOptions,
                 decode_s: float) -> dict:
    """The JSON answer of one image (drawn on a worker thread when asked); 422 when its detection failed."""
    if (error := detection_error(answer)) is not None:
        raise refuse(context, error)
    result = await run_in_threadpool(image_answer, upload, image, answer, options, decode_s)
    context.metrics.faces.inc(len(result["faces"]))
    return result
