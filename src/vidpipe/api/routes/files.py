"""/files/{key}: stored files (originals, crops, thumbnails, contact sheets) by content key.

The key names the content (its sha256), so a response never changes: it is cached for a year and
its ETag is the hash. The store refuses anything but a well-formed key, so no request can name a
path of its own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse

from vidpipe.api.deps import get_ctx
from vidpipe.app import AppContext
from vidpipe.errors import NotFoundError

router = APIRouter(tags=["files"])
Ctx = Annotated[AppContext, Depends(get_ctx)]
CACHE = "public, max-age=31536000, immutable"
MEDIA_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@router.get("/files/{key:path}", response_class=FileResponse)
def get_file(key: str, request: Request, ctx: Ctx) -> Response:
    path = ctx.store.path(key)  # refuses anything that is not a store key
    etag = f'"{path.stem}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": CACHE})
    if not path.is_file():
        raise NotFoundError(f"no stored file {key!r}")
    media = MEDIA_TYPES.get(path.suffix.lstrip("."), "application/octet-stream")
    return FileResponse(path, media_type=media, headers={"ETag": etag, "Cache-Control": CACHE})
