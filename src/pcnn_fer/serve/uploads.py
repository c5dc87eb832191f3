"""The files of one request, read within a size cap: multipart parts or the raw body, held in memory only.

The body is counted while it streams in, so a client that declares no length (or a false one) is stopped at
the cap too, and multipart parts are kept in memory: nothing a client sends reaches the disk here. Whatever the
client, an oversized upload is answered with the JSON 413 (see DRAIN_LIMIT).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser

from pcnn_fer.serve.errors import ApiError

MAX_FILES = 64  # parts of one multipart request
# A body over the cap is read to its end (and dropped) before the 413, up to this many bytes: a client that sends
# the whole body before it reads the answer (urllib, requests) then reads the 413 instead of a connection reset.
# Beyond it the connection is closed; a client that asked "Expect: 100-continue" (curl) is answered at once.
DRAIN_LIMIT = 256 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name as the client gave it (for records only, never a path) and its bytes."""

    name: str
    data: bytes


async def read_uploads(request: Request, limit: int) -> list[Upload]:
    """The non-empty files of `request`; 413 beyond `limit` bytes, 422 when there is none."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        await _drain(request, int(declared))
        raise _too_large(limit)
    body = bytearray()
    stream = request.stream()
    async for chunk in stream:
        body += chunk
        if len(body) > limit:
            await _drain(request, None, stream)
            raise _too_large(limit)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        uploads = await _parts(request, bytes(body), limit)
    else:
        uploads = [Upload(request.query_params.get("name") or "upload", bytes(body))]
    uploads = [upload for upload in uploads if upload.data]
    if not uploads:
        raise ApiError(422, "no_file", "no file in the request: send it as a multipart file or as the request body")
    return uploads


async def _parts(request: Request, body: bytes, limit: int) -> list[Upload]:
    class InMemory(MultiPartParser):
        spool_max_size = limit  # the whole body is under the limit, so no part rolls over to a file

    async def replay():
        yield body

    try:
        form = await InMemory(request.headers, replay(), max_files=MAX_FILES, max_fields=MAX_FILES).parse()
    except Exception as error:  # noqa: BLE001 - python-multipart and Starlette raise several kinds
        raise ApiError(422, "bad_multipart", f"unreadable multipart body ({error})") from error
    uploads = []
    for index, (_, item) in enumerate(form.multi_items()):
        if isinstance(item, UploadFile):
            uploads.append(Upload(item.filename or f"file{index}", await item.read()))
    await form.close()
    return uploads


async def _drain(request: Request, declared: int | None, stream=None) -> None:
    """Read and drop the rest of an oversized body, so that its client hears the answer; see DRAIN_LIMIT."""
    if request.headers.get("expect", "").lower() == "100-continue" or (declared or 0) > DRAIN_LIMIT:
        return
    dropped = 0
    async for chunk in stream if stream is not None else request.stream():
        dropped += len(chunk)
        if dropped > DRAIN_LIMIT:
            return


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the upload exceeds the limit of {limit:,} bytes")
