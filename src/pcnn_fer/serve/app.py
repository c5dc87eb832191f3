"""create_app: the Recognizer behind FastAPI, put together from the routes of serve/routes/. Images from every
client are decoded on worker threads, batched into the model on one thread, and answered with the records
`pcnn-fer predict` writes."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.serve.context import ServerContext
from pcnn_fer.serve.errors import install_error_handlers
from pcnn_fer.serve.guard import install_guard
from pcnn_fer.serve.routes import images, models, operations, page, videos
from pcnn_fer.serve.settings import ServeSettings

ROUTERS = (images.router, videos.router, models.router, operations.router, page.router)


def create_app(recognizer: Recognizer, settings: ServeSettings | None = None) -> FastAPI:
    """The app serving `recognizer` within `settings`' limits (the model fields of `settings` are not used)."""
    context = ServerContext.start(recognizer, settings or ServeSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        context.close()

    app = FastAPI(title="pcnn-fer", version="1", lifespan=lifespan,
                  description="Facial expressions of every face in an image or video, with each sense organ's share.")
    app.state.context = context
    install_error_handlers(app)
    if context.settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(context.settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    install_guard(app, context)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")
    return app


def app_from_environment() -> FastAPI:
    """The app one of `pcnn-fer serve --workers N`'s processes serves (uvicorn calls this in each)."""
    settings = ServeSettings.from_environment()
    return create_app(load_recognizer(settings), settings)


def load_recognizer(settings: ServeSettings) -> Recognizer:
    """The Recognizer `settings` names, in a server process whose torch thread count is set here, once."""
    if settings.threads is not None:
        import torch

        torch.set_num_threads(settings.threads)
    return Recognizer.from_pretrained(settings.model, settings.detector, backend=settings.backend,
                                      flip_tta=settings.flip_tta, threads=settings.threads,
                                      max_pixels=settings.max_pixels, prior_correction=settings.prior_correction)
