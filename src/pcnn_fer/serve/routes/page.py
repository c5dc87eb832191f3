"""GET /: the web page, with its assets under /static, all from the package."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    """The page that sends a photo, a video or the webcam to the API and draws the answers."""
    return FileResponse(STATIC / "index.html")
