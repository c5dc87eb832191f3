"""The files of one request, read within a size cap: multipart parts or the raw body, held in memory only.

The body is counted while it streams in, so a client that declares no length (or a false one) is stopped at
the cap too, and multipart parts are kept in memory: nothing a client sends reaches the disk here.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser

from pcnn_fer.serve.errors import ApiError

MAX_FILES = 64  # parts of one multipart request


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name as the client gave it (for records only, never a path) and its bytes."""

    name: str
    data: bytes


async def read_uploads(request: Request, limit: int) -> list[Upload]:
    """The non-empty files of `request`; 413 beyond `limit` bytes, 422 when there is none."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
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


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the upload exceeds the limit of {limit:,} bytes")
