"""Taking reference photos into a manifest: validated, stored by content, never duplicated."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vidpipe.db.models import Manifest, Upload
from vidpipe.domain.enums import AssetType, ManifestStatus
from vidpipe.errors import ImageLoadError, VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.settings import Settings
from vidpipe.storage import FileStore

MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class PhotoIn:
    """A photo a user brings: where it is, what they call it and what it is."""

    path: Path
    asset_type: AssetType
    name: str | None = None


@dataclass(frozen=True)
class Refusal:
    path: Path
    reason: str


def clean_name(raw: str | None, fallback: str) -> str:
    """The user's name as given (Unicode kept), without control characters, never empty.

    Names are only ever stored as text; files are named by content hash, so a name such as
    ``../x`` is harmless.
    """
    text = "".join(ch for ch in (raw or "") if ch.isprintable()).strip()
    return (text or fallback)[:MAX_NAME_CHARS]


def add_photos(
    session: Session, store: FileStore, manifest: Manifest, photos: list[PhotoIn], settings: Settings
) -> tuple[list[Upload], list[Refusal]]:
    """Validate and store each photo; return the uploads added and the photos refused, with reasons.

    A photo already in the manifest (same bytes) is not added again. A refused photo changes nothing.
    """
    if manifest.status is ManifestStatus.PROCESSING:
        raise VidpipeError(f"manifest {manifest.id} is being processed; add photos when it has finished")
    existing = {u.sha256: u for u in manifest.uploads}
    next_order = (session.scalar(select(func.max(Upload.sort_order)).where(Upload.manifest_id == manifest.id)) or 0) + 1
    added: list[Upload] = []
    refused: list[Refusal] = []
    for photo in photos:
        try:
            size = photo.path.stat().st_size if photo.path.is_file() else None
            if size is not None and size > settings.max_upload_bytes:
                raise ImageLoadError(
                    photo.path, f"file is {size} bytes, above the limit of {settings.max_upload_bytes} bytes"
                )
            # A full decode, not just the header: truncated files must be refused now, not mid-run.
            image = load_image(photo.path, max_pixels=settings.vision.max_image_pixels)
        except VidpipeError as exc:
            refused.append(Refusal(photo.path, str(exc)))
            continue
        key, sha, size_bytes = store.put_file(photo.path, kind="originals")
        if sha in existing:
            continue
        upload = Upload(
            id=uuid.uuid4(),
            storage_key=key,
            original_filename=clean_name(photo.path.name, "photo"),
            name=clean_name(photo.name, photo.path.stem),
            asset_type=photo.asset_type,
            sort_order=next_order,
            sha256=sha,
            size_bytes=size_bytes,
            width=int(image.shape[1]),
            height=int(image.shape[0]),
        )
        next_order += 1
        manifest.uploads.append(upload)
        existing[sha] = upload
        added.append(upload)
    manifest.upload_count = len(existing)
    return added, refused
