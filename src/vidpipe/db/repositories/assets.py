"""Queries on assets: found by their tag within a manifest, or by their id."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vidpipe.db.models import Asset
from vidpipe.errors import NotFoundError


def find_asset(session: Session, manifest_id: uuid.UUID, ref: str) -> Asset:
    """The asset ``ref`` names in the manifest: its tag (CHAR_01, any letter case) or its id."""
    options = [selectinload(Asset.references)]
    in_manifest = Asset.manifest_id == manifest_id
    asset = session.scalar(
        select(Asset).where(in_manifest, Asset.manifest_tag == ref.strip().upper()).options(*options)
    )
    if asset is None:
        try:
            asset_id: uuid.UUID | None = uuid.UUID(ref.strip())
        except ValueError:
            asset_id = None
        if asset_id is not None:
            asset = session.scalar(select(Asset).where(in_manifest, Asset.id == asset_id).options(*options))
    if asset is None:
        tags = sorted(t for t in session.scalars(select(Asset.manifest_tag).where(in_manifest)) if t)
        raise NotFoundError(
            f"no asset {ref!r} in manifest {manifest_id}; its tags are {', '.join(tags) or 'none'} "
            "(an asset id works too)"
        )
    return asset


def manifest_of_asset(session: Session, asset_id: uuid.UUID) -> uuid.UUID:
    manifest_id = session.scalar(select(Asset.manifest_id).where(Asset.id == asset_id))
    if manifest_id is None:
        raise NotFoundError(f"no asset with id {asset_id}")
    return manifest_id
