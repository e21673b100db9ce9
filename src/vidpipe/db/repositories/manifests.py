"""Queries on manifests and their uploads."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, selectinload

from vidpipe.db.models import Asset, Manifest
from vidpipe.domain.enums import ManifestStatus
from vidpipe.errors import NotFoundError, VidpipeError

MIN_PREFIX = 6


def manifest_id_from_ref(session: Session, ref: str) -> uuid.UUID:
    """The id of the manifest ``ref`` names: its whole id, or the first 6+ characters of only one."""
    try:
        manifest_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        manifest_id = None
    if manifest_id is not None:
        if session.get(Manifest, manifest_id) is None:
            raise NotFoundError(f"no manifest with id {ref!r} (see `vidpipe manifest list`)")
        return manifest_id
    text = ref.strip().lower().replace("-", "")
    if len(text) < MIN_PREFIX and all(c in "0123456789abcdef" for c in text):
        raise VidpipeError(
            f"manifest id {ref!r} is too short: give at least {MIN_PREFIX} of its first characters "
            "(see `vidpipe manifest list`)"
        )
    matches = []
    if len(text) >= MIN_PREFIX and all(c in "0123456789abcdef" for c in text):
        # Ids only: UUIDs are 32 hex digits on SQLite and native uuid on PostgreSQL, so compare in Python.
        matches = [i for i in session.scalars(select(Manifest.id)) if i.hex.startswith(text)]
    if len(matches) > 1:
        raise VidpipeError(f"manifest id {ref!r} is ambiguous: {len(matches)} manifests start with it")
    if not matches:
        raise NotFoundError(f"no manifest with id {ref!r} (see `vidpipe manifest list`)")
    return matches[0]


def find_manifest(session: Session, ref: str) -> Manifest:
    """The manifest ``ref`` names, with its uploads, assets and references loaded."""
    manifest_id = manifest_id_from_ref(session, ref)
    found = session.scalar(
        select(Manifest)
        .where(Manifest.id == manifest_id)
        .options(selectinload(Manifest.uploads), selectinload(Manifest.assets).selectinload(Asset.references))
    )
    assert found is not None
    return found


def get_manifest(session: Session, manifest_id: uuid.UUID) -> Manifest:
    manifest = session.get(Manifest, manifest_id)
    if manifest is None:
        raise NotFoundError(f"no manifest with id {manifest_id}")
    return manifest


def list_manifests(session: Session) -> list[Manifest]:
    return list(session.scalars(select(Manifest).order_by(Manifest.created_at.desc())))


def move_status(
    session: Session,
    manifest_id: uuid.UUID,
    allowed: tuple[ManifestStatus, ...],
    status: ManifestStatus,
    error: str | None = None,
) -> bool:
    """Change the status only from one of ``allowed``; of two racing processes exactly one wins."""
    from vidpipe.db.repositories.jobs import now

    result = session.execute(
        update(Manifest)
        .where(Manifest.id == manifest_id, Manifest.status.in_(allowed))
        .values(status=status, error=error, updated_at=now())
    )
    return cast(CursorResult[Any], result).rowcount == 1


def processing_manifest_ids(session: Session) -> list[uuid.UUID]:
    return list(session.scalars(select(Manifest.id).where(Manifest.status == ManifestStatus.PROCESSING)))


def file_keys_of(session: Session, manifest_id: uuid.UUID) -> set[str]:
    """Every stored file a manifest's rows name: originals, crops, thumbnails, contact sheet."""
    from vidpipe.db.models import AssetReference, Job, Upload

    keys: set[str] = set()
    sheet = session.scalar(select(Manifest.contact_sheet).where(Manifest.id == manifest_id))
    if sheet:
        keys.add(sheet)
    keys.update(session.scalars(select(Upload.storage_key).where(Upload.manifest_id == manifest_id)))
    refs = session.execute(
        select(AssetReference.image_key, AssetReference.thumbnail_key)
        .join(Asset, AssetReference.asset_id == Asset.id)
        .where(Asset.manifest_id == manifest_id)
    )
    for image_key, thumb_key in refs:
        keys.update(k for k in (image_key, thumb_key) if k)
    # Thumbnails shown while runs went on, of views that may not have become references.
    for found in session.scalars(select(Job.found).where(Job.target_id == manifest_id)):
        keys.update(f["thumbnail"] for f in found or ())
    return keys


def keys_still_used(session: Session, keys: set[str]) -> set[str]:
    """Those of ``keys`` some row still names (files are shared by content across manifests)."""
    from vidpipe.db.models import AssetReference, Upload

    if not keys:
        return set()
    used = set(session.scalars(select(Upload.storage_key).where(Upload.storage_key.in_(keys))))
    used.update(session.scalars(select(Manifest.contact_sheet).where(Manifest.contact_sheet.in_(keys))))
    used.update(session.scalars(select(AssetReference.image_key).where(AssetReference.image_key.in_(keys))))
    used.update(
        k
        for k in session.scalars(select(AssetReference.thumbnail_key).where(AssetReference.thumbnail_key.in_(keys)))
        if k
    )
    return used
