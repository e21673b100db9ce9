"""Files a request brings: written to a temporary folder under the client's own (cleaned) file name,
so that messages about them name that file and never a server path."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import UploadFile

from vidpipe.errors import FileTooLargeError, VidpipeError


def safe_filename(raw: str | None, index: int = 0) -> str:
    """Only the last part of whatever the client sent, in a harmless alphabet: it names a temporary
    file and is kept as text; files are stored by content."""
    base = re.split(r"[\\/]", raw or "")[-1]
    cleaned = re.sub(r"[^\w.\- ]", "_", base).strip(" .")
    return cleaned[:150] or f"photo-{index + 1}"


@asynccontextmanager
async def received_file(upload: UploadFile, prefix: str, max_bytes: int | None = None) -> AsyncIterator[Path]:
    """The upload on disk for the block; a `VidpipeError` raised inside names the file only. Over
    ``max_bytes`` it is refused (413) as soon as the limit is passed, not after the whole file."""
    with tempfile.TemporaryDirectory(prefix=prefix) as work:
        path = Path(work) / safe_filename(upload.filename)
        written = 0
        with path.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise FileTooLargeError(
                        f"{path.name!r} is over the upload limit of {max_bytes / 1e6:.0f} MB (VIDPIPE_MAX_UPLOAD_BYTES)"
                    )
                out.write(chunk)
        try:
            yield path
        except VidpipeError as exc:
            exc.message = exc.message.replace(f"{work}{os.sep}", "")
            raise
