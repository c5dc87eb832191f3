"""create_app: the Recognizer behind FastAPI. Images from every client are decoded on worker threads, batched
into the model on one thread, and answered with the records `pcnn-fer predict` writes."""

from __future__ import annotations

import asyncio
import hmac
import shutil
import tempfile
import time
from concurrent.futures import Future
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.inference.results import merge_back, split_readable
from pcnn_fer.inference.video import VideoError
from pcnn_fer.models.organs import ORGANS
from pcnn_fer.serve.answers import AnalyzeOptions, decode_upload, detection_error, image_answer
from pcnn_fer.serve.batching import BatchAnswer, Batcher, QueueFull
from pcnn_fer.serve.errors import ApiError, install_error_handlers
from pcnn_fer.serve.metrics import ServerMetrics
from pcnn_fer.serve.settings import ServeSettings
from pcnn_fer.serve.uploads import Upload, read_uploads
from pcnn_fer.serve.videos import VideoJobs

STATIC = Path(__file__).parent / "static"
API = "/v1"


def create_app(recognizer: Recognizer, settings: ServeSettings | None = None) -> FastAPI:
    """The app serving `recognizer` within `settings`' limits (the model fields of `settings` are not used)."""
    settings = settings or ServeSettings()
    folder = Path(tempfile.mkdtemp(prefix="pcnn-fer-serve-"))
    jobs = VideoJobs(recognizer, folder, queue_size=settings.video_queue_size, kept=settings.kept_jobs)
    batcher = Batcher(recognizer, queue_size=settings.queue_size, window_s=settings.batch_window_ms / 1000,
                      max_batch=settings.max_batch)
    metrics = ServerMetrics(lambda: batcher.depth, lambda: jobs.waiting)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        batcher.close()
        jobs.close()
        shutil.rmtree(folder, ignore_errors=True)

    app = FastAPI(title="pcnn-fer", version="1", lifespan=lifespan,
                  description="Facial expressions of every face in an image or video, with each sense organ's share.")
    app.state.batcher, app.state.jobs, app.state.metrics, app.state.folder = batcher, jobs, metrics, folder
    install_error_handlers(app)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    expected = f"Bearer {settings.token}".encode() if settings.token else None

    @app.middleware("http")
    async def guard_and_count(request: Request, call_next) -> Response:
        start = time.perf_counter()
        given = request.headers.get("authorization", "").encode()
        if expected and request.url.path.startswith(f"{API}/") and not hmac.compare_digest(given, expected):
            response = ApiError(401, "unauthorized", "this server needs 'Authorization: Bearer <token>'",
                                {"WWW-Authenticate": "Bearer"}).response()
        else:
            response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "unmatched")
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
        return response

    def options_of(flip_tta: bool | None, explain: bool, annotate: bool, min_score: float) -> AnalyzeOptions:
        return AnalyzeOptions(settings.flip_tta if flip_tta is None else flip_tta, explain, annotate, min_score)

    def refuse(error: ApiError) -> ApiError:
        metrics.image_errors.labels(error.code).inc()
        return error

    async def decode(upload: Upload) -> tuple[object, float]:
        start = time.perf_counter()
        try:
            image = await run_in_threadpool(decode_upload, upload, recognizer.max_pixels)
        except ApiError as error:
            raise refuse(error) from error
        return image, time.perf_counter() - start

    def submit(images: list, uploads: list[Upload], options: AnalyzeOptions) -> list[Future]:
        futures: list[Future] = []
        try:
            for image, upload in zip(images, uploads):
                futures.append(batcher.submit(image, upload.name, explain=options.explain, flip_tta=options.flip_tta))
        except QueueFull as error:
            for future in futures:
                future.cancel()
            raise refuse(ApiError(503, "busy", f"{error}; retry shortly", {"Retry-After": "1"})) from error
        return futures

    async def answers_of(futures: list[Future]) -> list[BatchAnswer]:
        try:
            return await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, futures)), settings.timeout_s)
        except asyncio.TimeoutError as cause:
            for future in futures:
                future.cancel()
            raise refuse(ApiError(504, "timeout", f"no answer within {settings.timeout_s:g} s")) from cause

    async def finish(upload: Upload, image, answer: BatchAnswer, options: AnalyzeOptions, decode_s: float) -> dict:
        if (error := detection_error(answer)) is not None:
            raise refuse(error)
        result = await run_in_threadpool(image_answer, upload, image, answer, options, decode_s)
        metrics.faces.inc(len(result["faces"]))
        return result

    flip_query = Query(None, description="average each face with its mirror image (default: the server's)")
    explain_query = Query(False, description="add a Grad-CAM layer, an RGBA PNG of the image's size, in base64")
    annotate_query = Query(False, description="add the image with its faces drawn, a JPEG in base64")
    score_query = Query(0.0, ge=0.0, le=1.0, description="drop faces the detector scored below this")

    @app.post(f"{API}/analyze", tags=["images"])
    async def analyze(request: Request, flip_tta: bool | None = flip_query, explain: bool = explain_query,
                      annotate: bool = annotate_query, min_score: float = score_query) -> dict:
        """One image (a multipart file or the raw body): the records of its faces, its size and timings."""
        start = time.perf_counter()
        uploads = await read_uploads(request, settings.max_upload_bytes)
        if len(uploads) > 1:
            raise ApiError(422, "several_files", f"{len(uploads)} files sent; {API}/analyze/batch takes several")
        options = options_of(flip_tta, explain, annotate, min_score)
        image, decode_s = await decode(uploads[0])
        (answer,) = await answers_of(submit([image], uploads, options))
        result = await finish(uploads[0], image, answer, options, decode_s)
        result["timings_ms"]["total"] = round((time.perf_counter() - start) * 1000, 2)
        return result

    @app.post(f"{API}/analyze/batch", tags=["images"])
    async def analyze_batch(request: Request, flip_tta: bool | None = flip_query, explain: bool = explain_query,
                            annotate: bool = annotate_query, min_score: float = score_query) -> dict:
        """Several images (multipart files): one answer per image in their order; a bad image gets its own error."""
        uploads = await read_uploads(request, settings.max_upload_bytes)
        options = options_of(flip_tta, explain, annotate, min_score)
        decoded: list = await asyncio.gather(*(decode(upload) for upload in uploads), return_exceptions=True)
        for item in decoded:
            if isinstance(item, BaseException) and not isinstance(item, ApiError):
                raise item
        positions, readable = split_readable(decoded, lambda item: not isinstance(item, BaseException))
        answers = await answers_of(submit([image for image, _ in readable], [uploads[i] for i in positions],
                                          options))
        finished = []
        for i, answer in zip(positions, answers):
            try:
                finished.append(await finish(uploads[i], decoded[i][0], answer, options, decoded[i][1]))
            except ApiError as error:
                finished.append({"input": uploads[i].name, **error.body()})
        errors = [{"input": upload.name, **item.body()} if isinstance(item, ApiError) else {}
                  for upload, item in zip(uploads, decoded)]
        return {"results": merge_back(errors, positions, finished)}

    @app.post(f"{API}/videos", tags=["videos"], status_code=202)
    async def submit_video(request: Request, every: int = Query(1, ge=1, description="process every Nth frame"),
                           smooth: float | None = Query(None, gt=0, le=1, description="weight of the newest frame "
                                                        "in each tracked face's running average")) -> JSONResponse:
        """A video (a multipart file or the raw body), processed in the background: poll the URL it answers."""
        upload = (await read_uploads(request, settings.max_video_bytes))[0]
        try:
            job = await run_in_threadpool(jobs.submit, upload.data, upload.name, every=every, smooth=smooth)
        except VideoError as error:
            raise refuse(ApiError(422, "bad_video", str(error))) from error
        except QueueFull as error:
            raise refuse(ApiError(503, "busy", f"{error}; retry later", {"Retry-After": "5"})) from error
        url = f"{API}/videos/{job.id}"
        return JSONResponse({**job.to_dict(), "url": url}, status_code=202, headers={"Location": url})

    @app.get(f"{API}/videos/{{job_id}}", tags=["videos"])
    async def video_job(job_id: str, offset: int = Query(0, ge=0, description="records from this one on")) -> dict:
        """A video job's status, progress and the tracked records of its frames so far."""
        job = jobs.get(job_id)
        if job is None:
            raise ApiError(404, "unknown_job", f"no video job {job_id!r} (unknown, or finished long ago)")
        return job.to_dict(offset)

    @app.get(f"{API}/models", tags=["models"])
    async def models() -> dict:
        """The loaded model: its classes, the input it expects and what it was measured at."""
        preprocessing = recognizer.preprocessing
        return {"backbone": recognizer.config.backbone, "classes": list(recognizer.class_names),
                "organs": list(ORGANS),
                "input": {"size": recognizer.config.input_size, "mean": list(preprocessing.mean),
                          "std": list(preprocessing.std), "framing": recognizer.framing.to_dict()},
                "temperature": recognizer.temperature, "flip_tta_default": settings.flip_tta,
                "metadata": recognizer.model.metadata.to_dict()}

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict:
        """Alive, with the number of images and video jobs waiting."""
        return {"status": "ok", "queue": batcher.depth, "video_jobs_waiting": jobs.waiting}

    @app.get("/metrics", tags=["operations"])
    async def prometheus() -> Response:
        """Prometheus text exposition: requests, latency histogram, faces, errors, batch sizes, queue depths."""
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def app_from_environment() -> FastAPI:
    """The app one of `pcnn-fer serve --workers N`'s processes serves (uvicorn calls this in each)."""
    settings = ServeSettings.from_environment()
    return create_app(load_recognizer(settings), settings)


def load_recognizer(settings: ServeSettings) -> Recognizer:
    """The Recognizer `settings` names."""
    return Recognizer.from_pretrained(settings.model, settings.detector, flip_tta=settings.flip_tta,
                                      threads=settings.threads, max_pixels=settings.max_pixels)
