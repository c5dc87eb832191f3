"""POST /v1/analyze (one image) and /v1/analyze/batch (several): the records of their faces."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Query, Request

from pcnn_fer.inference.results import merge_back, split_readable
from pcnn_fer.serve.answers import AnalyzeOptions
from pcnn_fer.serve.context import API, ServerContext, server_context
from pcnn_fer.serve.errors import ApiError
from pcnn_fer.serve.image_flow import answers_of, decode, finish, submit
from pcnn_fer.serve.uploads import read_uploads

router = APIRouter(prefix=API, tags=["images"])


def analyze_options(
        context: ServerContext = Depends(server_context),
        flip_tta: bool | None = Query(None, description="average each face with its mirror image (default: the "
                                                        "server's)"),
        explain: bool = Query(False, description="add a Grad-CAM layer, an RGBA PNG of the image's size, in base64"),
        annotate: bool = Query(False, description="add the image with its faces drawn, a JPEG in base64"),
        min_score: float = Query(0.0, ge=0.0, le=1.0, description="leave out faces the detector scored below this "
                                                                  "(before the model, as predict --min-score)"),
) -> AnalyzeOptions:
    """The query parameters of both image routes, with the server's flip_tta as the default."""
    return AnalyzeOptions(context.settings.flip_tta if flip_tta is None else flip_tta, explain, annotate, min_score)


@router.post("/analyze")
async def analyze(request: Request, options: AnalyzeOptions = Depends(analyze_options),
                  context: ServerContext = Depends(server_context)) -> dict:
    """One image (a multipart file or the raw body): the records of its faces, its size and timings."""
    start = time.perf_counter()
    uploads = await read_uploads(request, context.settings.max_upload_bytes)
    if len(uploads) > 1:
        raise ApiError(422, "several_files", f"{len(uploads)} files sent; {API}/analyze/batch takes several")
    image, decode_s = await decode(context, uploads[0])
    (answer,) = await answers_of(context, submit(context, [image], uploads, options))
    result = await finish(context, uploads[0], image, answer, options, decode_s)
    result["timings_ms"]["total"] = round((time.perf_counter() - start) * 1000, 2)
    return result


@router.post("/analyze/batch")
async def analyze_batch(request: Request, options: AnalyzeOptions = Depends(analyze_options),
                        context: ServerContext = Depends(server_context)) -> dict:
    """Several images (multipart files): one answer per image in their order; a bad image gets its own error."""
    uploads = await read_uploads(request, context.settings.max_upload_bytes)
    decoded: list = await asyncio.gather(*(decode(context, upload) for upload in uploads), return_exceptions=True)
    for item in decoded:
        if isinstance(item, BaseException) and not isinstance(item, ApiError):
            raise item
    positions, readable = split_readable(decoded, lambda item: not isinstance(item, BaseException))
    answers = await answers_of(context, submit(context, [image for image, _ in readable],
                                               [uploads[i] for i in positions], options))
    finished = []
    for i, answer in zip(positions, answers):
        try:
            finished.append(await finish(context, uploads[i], decoded[i][0], answer, options, decoded[i][1]))
        except ApiError as error:
            finished.append({"input": uploads[i].name, **error.body()})
    errors = [{"input": upload.name, **item.body()} if isinstance(item, ApiError) else {}
              for upload, item in zip(uploads, decoded)]
    return {"results": merge_back(errors, positions, finished)}
