"""ServeSettings: what one server loads and the limits it keeps, one place for the CLI, the app and tests."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from pcnn_fer.data.formats import DEFAULT_MAX_PIXELS
from pcnn_fer.faces.registry import DEFAULT_DETECTOR

# How `pcnn-fer serve --workers N` hands its settings to each worker process uvicorn starts.
SETTINGS_VARIABLE = "PCNN_FER_SERVE_SETTINGS"


@dataclass(frozen=True)
class ServeSettings:
    """The model to load and the server's limits; the defaults are those of `pcnn-fer serve`."""

    model: str | None = None  # model directory, run directory or shipped name; None: the shipped default
    detector: str = DEFAULT_DETECTOR  # BlazeFace, MTCNN where it finds none
    flip_tta: bool = False  # the default of each request's flip_tta
    threads: int | None = None  # the model's CPU threads
    max_upload_bytes: int = 20 * 1024 * 1024  # photos, per request
    max_video_bytes: int = 200 * 1024 * 1024
    max_pixels: int = DEFAULT_MAX_PIXELS  # the decoder's cap, per image
    queue_size: int = 64  # images waiting for the model; 503 beyond
    batch_window_ms: float = 5.0  # how long the first image of a batch waits for others
    max_batch: int = 32
    timeout_s: float = 30.0  # per request, from upload received to answer; 504 beyond
    video_queue_size: int = 4  # video jobs waiting; 503 beyond
    kept_jobs: int = 32  # finished video jobs kept for their clients; the oldest go first
    token: str | None = field(default=None, repr=False)  # bearer token every /v1/ request must carry
    cors_origins: tuple[str, ...] = ()  # origins allowed by CORS; none by default

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_video_bytes", "max_pixels", "queue_size", "max_batch",
                     "video_queue_size", "kept_jobs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.batch_window_ms < 0 or self.timeout_s <= 0:
            raise ValueError(f"batch_window_ms must be >= 0 and timeout_s > 0, got {self.batch_window_ms} and "
                             f"{self.timeout_s}")

    def to_environment(self) -> str:
        """These settings as the JSON that `from_environment` reads back."""
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> ServeSettings:
        """The settings the parent process left in SETTINGS_VARIABLE (defaults when it left none)."""
        raw = os.environ.get(SETTINGS_VARIABLE)
        if not raw:
            return cls()
        values = json.loads(raw)
        values["cors_origins"] = tuple(values.get("cors_origins", ()))
        return cls(**values)
