"""/files/{key}: stored files (originals, crops, thumbnails, contact sheets, clips) by content key.

The key names the content (its sha256), so a response never changes: it is cached for a year and
its ETag is the hash. The store refuses anything but a well-formed key, so no request can name a
path of its own. The bytes are streamed from whichever store keeps them, with byte ranges (a video
element seeks with them); or, with ``store.presign`` on an object store, the browser is sent on to a
presigned URL and fetches them from the store itself.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from vidpipe.api.deps import get_ctx
from vidpipe.app import AppContext
from vidpipe.storage import media_type, sha_of

router = APIRouter(tags=["files"])
Ctx = Annotated[AppContext, Depends(get_ctx)]
CACHE = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@router.get("/files/{key:path}", response_class=StreamingResponse)
def get_file(key: str, request: Request, ctx: Ctx) -> Response:
    etag = f'"{sha_of(key)}"'  # refuses anything that is not a store key
    headers = {"ETag": etag, "Cache-Control": CACHE}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    config = ctx.settings.store
    if config.presign and (url := ctx.store.presigned_url(key, config.presign_seconds)) is not None:
        # The address expires, so the redirect is kept for less than its life, and by this browser only.
        keep = f"private, max-age={config.presign_seconds // 2}"
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": keep})
    size = ctx.store.size(key)  # a missing file is a 404 here, before any byte is sent
    headers["Accept-Ranges"] = "bytes"
    span = _byte_range(request.headers.get("range"), size)
    if span is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(ctx.store.iter_bytes(key), media_type=media_type(key), headers=headers)
    start, end = span
    if start >= end:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        ctx.store.iter_bytes(key, start=start, end=end), status_code=206, media_type=media_type(key), headers=headers
    )


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range a Range header asks for, as [start, end); None for the whole file (no header,
    several ranges, or one we do not understand: RFC 9110 lets a server ignore those). An empty span
    means it cannot be satisfied."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or match[1] == match[2] == "":
        return None
    if match[1] == "":  # the last N bytes
        return max(size - int(match[2]), 0), size
    start = int(match[1])
    end = size if match[2] == "" else min(int(match[2]) + 1, size)
    if match[2] != "" and end <= start and start < size:
        return None  # last before first: not a valid range, so ignored
    return (start, end) if start < size else (size, size)
