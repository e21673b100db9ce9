"""Queries for projects, their scenes and clips, clip analyses and asset appearances."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vidpipe.db.models import AssetAppearance, Clip, ClipAnalysis, Project, Scene
from vidpipe.errors import NotFoundError, VidpipeError

MIN_PREFIX = 6


def find_project(session: Session, ref: str) -> Project:
    """The project ``ref`` names: its id, the first 6+ characters of only one id, or its exact name."""
    try:
        project = session.get(Project, uuid.UUID(ref))
    except ValueError:
        project = None
    if project is None:
        named = list(session.scalars(select(Project).where(Project.name == ref.strip())))
        if len(named) > 1:
            raise VidpipeError(f"{len(named)} projects are named {ref!r}; give the id instead")
        project = named[0] if named else None
    if project is None:
        text = ref.strip().lower().replace("-", "")
        if len(text) >= MIN_PREFIX and all(c in "0123456789abcdef" for c in text):
            hits = [p for p in session.scalars(select(Project)) if p.id.hex.startswith(text)]
            if len(hits) > 1:
                raise VidpipeError(f"project id prefix {ref!r} names {len(hits)} projects; give more of it")
            project = hits[0] if hits else None
    if project is None:
        raise NotFoundError(f"no project {ref!r} (see `vidpipe project list`)")
    return project


def list_projects(session: Session) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.created_at.desc())))


def scene_by_index(session: Session, project_id: uuid.UUID, index: int) -> Scene:
    scene = session.scalar(select(Scene).where(Scene.project_id == project_id, Scene.index == index))
    if scene is None:
        raise NotFoundError(f"project {project_id} has no scene {index}")
    return scene


def get_scene(session: Session, scene_id: uuid.UUID) -> Scene:
    scene = session.get(Scene, scene_id)
    if scene is None:
        raise NotFoundError(f"no scene with id {scene_id}")
    return scene


def get_clip(session: Session, clip_id: uuid.UUID) -> Clip:
    clip = session.scalar(select(Clip).where(Clip.id == clip_id).options(selectinload(Clip.analyses)))
    if clip is None:
        raise NotFoundError(f"no clip with id {clip_id}")
    return clip


def latest_analysis(session: Session, clip_id: uuid.UUID) -> ClipAnalysis | None:
    return session.scalar(
        select(ClipAnalysis).where(ClipAnalysis.clip_id == clip_id).order_by(ClipAnalysis.created_at.desc()).limit(1)
    )


def appearances_of_asset(session: Session, asset_id: uuid.UUID, limit: int = 200) -> list[AssetAppearance]:
    return list(
        session.scalars(
            select(AssetAppearance)
            .where(AssetAppearance.asset_id == asset_id)
            .order_by(AssetAppearance.created_at.desc(), AssetAppearance.timestamp_seconds)
            .limit(limit)
        )
    )


def projects_using(session: Session, manifest_id: uuid.UUID) -> list[str]:
    return list(session.scalars(select(Project.name).where(Project.manifest_id == manifest_id)))


def clip_keys_of_project(session: Session, project_id: uuid.UUID) -> set[str]:
    return set(
        session.scalars(
            select(Clip.storage_key).join(Scene, Clip.scene_id == Scene.id).where(Scene.project_id == project_id)
        )
    )


def clips_with_key(session: Session, keys: set[str]) -> set[str]:
    if not keys:
        return set()
    return set(session.scalars(select(Clip.storage_key).where(Clip.storage_key.in_(keys))))


def appearances_of_clip(session: Session, clip_id: uuid.UUID) -> list[tuple[AssetAppearance, str | None]]:
    """The clip's appearances with their asset's tag, in time order."""
    from vidpipe.db.models import Asset

    rows = session.execute(
        select(AssetAppearance, Asset.manifest_tag)
        .join(Asset, AssetAppearance.asset_id == Asset.id)
        .where(AssetAppearance.clip_id == clip_id)
        .order_by(AssetAppearance.timestamp_seconds, Asset.manifest_tag)
    )
    return [(row, tag) for row, tag in rows]
