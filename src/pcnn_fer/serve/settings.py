"""ServeSettings: what one server loads and the limits it keeps, one place for the CLI, the app and tests."""

from __future__ import annotations

import json
import os
from typing import Literal

from pydantic import ConfigDict, Field

from pcnn_fer.data.formats import DEFAULT_MAX_PIXELS
from pcnn_fer.faces.registry import DEFAULT_DETECTOR
from pcnn_fer.inference.backends import BACKEND_CHOICES
from pcnn_fer.validation import Checked, Float

# How `pcnn-fer serve --workers N` hands its settings to each worker process uvicorn starts.
SETTINGS_VARIABLE = "PCNN_FER_SERVE_SETTINGS"


class ServeSettings(Checked):
    """The model to load and the server's limits; the defaults are those of `pcnn-fer serve`."""

    model_config = ConfigDict(frozen=True)

    model: str | None = None  # model directory, run directory or shipped name; None: the shipped default
    detector: str = DEFAULT_DETECTOR
    backend: Literal[BACKEND_CHOICES] = "auto"  # who runs the model (Recognizer.from_pretrained)
    flip_tta: bool = False  # the default of each request's flip_tta
    prior_correction: Float | None = Field(None, ge=0.0)  # the prior correction's weight; None: the model's own
    threads: int | None = Field(None, ge=1)  # torch's CPU threads in each server process
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1)  # photos, per request
    max_video_bytes: int = Field(200 * 1024 * 1024, ge=1)
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1)  # the decoder's cap, per image
    queue_size: int = Field(64, ge=1)  # images inside (faces being found or waiting for the model); 503 beyond
    detect_threads: int | None = Field(None, ge=1)  # threads finding faces at once; None: one per CPU core
    batch_window_ms: Float = Field(5.0, ge=0.0)  # how long the first image of a batch waits for others
    max_batch: int = Field(32, ge=1)
    timeout_s: Float = Field(30.0, gt=0.0)  # per request, from upload received to answer; 504 beyond
    video_queue_size: int = Field(4, ge=1)  # video jobs waiting; 503 beyond
    kept_jobs: int = Field(32, ge=1)  # finished video jobs kept for their clients; the oldest go first
    token: str | None = Field(None, repr=False)  # bearer token every /v1/ request must carry
    cors_origins: tuple[str, ...] = ()  # origins allowed by CORS; none by default

    def to_environment(self) -> str:
        """These settings as the JSON that `from_environment` reads back."""
        return self.model_dump_json()

    @classmethod
    def from_environment(cls) -> ServeSettings:
        """The settings the parent process left in SETTINGS_VARIABLE (defaults when it left none)."""
        raw = os.environ.get(SETTINGS_VARIABLE)
        if not raw:
            return cls()
        values = json.loads(raw)
        values["cors_origins"] = tuple(values.get("cors_origins", ()))
        return cls(**values)
