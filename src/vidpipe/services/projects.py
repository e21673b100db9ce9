"""Projects, scenes and clips, and the analysis of each clip against the project's registry."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from vidpipe.app import AppContext
from vidpipe.db.models import Clip, Project, Scene
from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.db.repositories import manifests as manifests_repo
from vidpipe.db.repositories import projects as projects_repo
from vidpipe.domain.detections import Detections
from vidpipe.domain.enums import ClipStatus, ManifestStatus
from vidpipe.errors import ConflictError, NotFoundError, VidpipeError
from vidpipe.imaging.draw import draw_detections
from vidpipe.imaging.loading import load_image
from vidpipe.jobs.handlers import CLIP_ANALYZE
from vidpipe.jobs.progress import ProgressSink, StopSignal
from vidpipe.pipeline.clip_analysis import limits_of
from vidpipe.pipeline.uploads import clean_name
from vidpipe.services.runs import get_job, run_here
from vidpipe.services.views import AnalysisView, AppearanceView, ClipView, JobView, ProjectView, SceneView
from vidpipe.video.decoding import probe_clip

CLIP_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv")
TAG_PATTERN = re.compile(r"^[A-Z]+_\d{2,}$")


def _project_view(session: Session, project: Project) -> ProjectView:
    manifest = manifests_repo.get_manifest(session, project.manifest_id)
    return ProjectView.of(project, manifest.name)


def create_project(ctx: AppContext, name: str, manifest_ref: str) -> ProjectView:
    """A project whose scenes are checked against the registry of ``manifest_ref``."""
    title = clean_name(name, "")
    if not title:
        raise VidpipeError(f"a project needs a name with at least one printable character, got {name!r}")
    with ctx.transaction() as session:
        manifest_id = manifests_repo.manifest_id_from_ref(session, manifest_ref)
        project = Project(name=title[:200], manifest_id=manifest_id)
        session.add(project)
        session.flush()
        session.refresh(project, ["scenes"])
        return _project_view(session, project)


def list_projects(ctx: AppContext) -> list[ProjectView]:
    with ctx.factory() as session:
        return [_project_view(session, p) for p in projects_repo.list_projects(session)]


def show_project(ctx: AppContext, ref: str) -> ProjectView:
    with ctx.factory() as session:
        return _project_view(session, projects_repo.find_project(session, ref))


def delete_project(ctx: AppContext, ref: str) -> str:
    """Remove a project with its scenes, clips, analyses and appearances; clip files no other
    project uses are removed too. Generated references stay with their assets."""
    with ctx.transaction() as session:
        project = projects_repo.find_project(session, ref)
        name = project.name
        keys = projects_repo.clip_keys_of_project(session, project.id)
        for scene in project.scenes:
            for clip in scene.clips:
                if jobs_repo.active_job_for(session, clip.id) is not None:
                    raise ConflictError(
                        f"clip {clip.original_filename!r} of {name!r} is being analysed; wait or cancel"
                    )
        session.delete(project)
    with ctx.factory() as session:
        unused = keys - projects_repo.clips_with_key(session, keys)
    for key in unused:
        ctx.store.delete(key)
    return name


def parse_tags(text: str | Sequence[str] | None) -> list[str]:
    """Tags such as CHAR_01 from "CHAR_01, PROP_02" or a list; upper-cased, in order, once each."""
    if text is None:
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    tags = [t.strip().upper() for t in items if t.strip()]
    bad = [t for t in tags if not TAG_PATTERN.fullmatch(t)]
    if bad:
        raise VidpipeError(f"not an asset tag: {', '.join(repr(b) for b in bad)}; tags look like CHAR_01 or PROP_02")
    return list(dict.fromkeys(tags))


def _check_tags(session: Session, project: Project, tags: list[str]) -> None:
    manifest = manifests_repo.find_manifest(session, str(project.manifest_id))
    known = {a.manifest_tag for a in manifest.assets}
    unknown = [t for t in tags if t not in known]
    if unknown:
        have = ", ".join(sorted(t for t in known if t)) or "none yet"
        raise VidpipeError(f"manifest {manifest.name!r} has no {', '.join(unknown)} (it has: {have})")


def add_scene(
    ctx: AppContext, project_ref: str, index: int, *, description: str | None = None, expect: Sequence[str] = ()
) -> SceneView:
    """A scene numbered ``index`` that expects the assets ``expect`` (tags of the project's registry)."""
    if index < 0:
        raise VidpipeError(f"a scene index is 0 or more, got {index}")
    tags = parse_tags(list(expect))
    with ctx.transaction() as session:
        project = projects_repo.find_project(session, project_ref)
        if any(s.index == index for s in project.scenes):
            raise ConflictError(f"project {project.name!r} already has a scene {index}")
        _check_tags(session, project, tags)
        scene = Scene(project_id=project.id, index=index, description=description, expected_tags=tags)
        session.add(scene)
        session.flush()
        session.refresh(scene, ["clips"])
        return SceneView.of(scene)


def edit_scene(
    ctx: AppContext,
    project_ref: str,
    index: int,
    *,
    description: str | None = None,
    expect: Sequence[str] | None = None,
) -> SceneView:
    with ctx.transaction() as session:
        project = projects_repo.find_project(session, project_ref)
        scene = projects_repo.scene_by_index(session, project.id, index)
        if expect is not None:
            tags = parse_tags(list(expect))
            _check_tags(session, project, tags)
            scene.expected_tags = tags
        if description is not None:
            scene.description = description.strip() or None
        session.flush()
        return SceneView.of(scene)


def get_scene(ctx: AppContext, scene_id: str) -> SceneView:
    with ctx.factory() as session:
        return SceneView.of(projects_repo.get_scene(session, _uuid(scene_id, "scene")))


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundError(f"no {what} with id {value!r}") from None


def add_clip(ctx: AppContext, scene_id: str, path: Path, filename: str | None = None) -> ClipView:
    """Check that ``path`` is a usable clip (the reason named if not) and keep it by content hash."""
    name = filename or path.name
    if Path(name).suffix.lower() not in CLIP_SUFFIXES:
        raise VidpipeError(f"{name!r} is not a clip vidpipe takes: expected {', '.join(CLIP_SUFFIXES)}")
    settings = ctx.settings.cv_analysis
    info = probe_clip(path, limits_of(settings, ctx.settings.max_upload_bytes))
    with ctx.factory() as session:
        projects_repo.get_scene(session, _uuid(scene_id, "scene"))  # 404 before the file is stored
    key, _, size = ctx.store.put_file(path, kind="clips")
    with ctx.transaction() as session:
        scene = projects_repo.get_scene(session, _uuid(scene_id, "scene"))
        clip = Clip(
            scene_id=scene.id,
            storage_key=key,
            original_filename=clean_name(name, "clip")[:300],
            size_bytes=size,
            width=info.width,
            height=info.height,
            fps=info.fps,
            duration_seconds=info.duration_seconds,
            codec=info.codec,
            status=ClipStatus.NEW,
        )
        session.add(clip)
        session.flush()
        return ClipView.of(clip, None)


def scene_for(ctx: AppContext, project_ref: str, index: int) -> SceneView:
    with ctx.factory() as session:
        project = projects_repo.find_project(session, project_ref)
        return SceneView.of(projects_repo.scene_by_index(session, project.id, index))


def ad_hoc_scene(ctx: AppContext, manifest_ref: str) -> SceneView:
    """For a clip checked against a manifest alone: the scene of the manifest's own "ad hoc" project."""
    with ctx.transaction() as session:
        manifest = manifests_repo.find_manifest(session, manifest_ref)
        name = f"{manifest.name} (ad hoc)"
        project = next(
            (p for p in projects_repo.list_projects(session) if p.manifest_id == manifest.id and p.name == name), None
        )
        if project is None:
            project = Project(name=name[:200], manifest_id=manifest.id)
            session.add(project)
            session.flush()
            session.add(Scene(project_id=project.id, index=0, description="clips checked with `vidpipe analyze`"))
            session.flush()
        return SceneView.of(projects_repo.scene_by_index(session, project.id, 0))


def get_clip(ctx: AppContext, clip_id: str) -> ClipView:
    with ctx.factory() as session:
        clip = projects_repo.get_clip(session, _uuid(clip_id, "clip"))
        return ClipView.of(clip, projects_repo.latest_analysis(session, clip.id))


def request_analysis(
    ctx: AppContext, clip_id: str, *, expect: Sequence[str] | None = None, submit: bool = True
) -> JobView:
    """Queue the analysis of a clip (the clip goes to ANALYZING with its job, in one transaction)."""
    tags = parse_tags(list(expect)) if expect is not None else None
    with ctx.transaction() as session:
        clip = projects_repo.get_clip(session, _uuid(clip_id, "clip"))
        scene = projects_repo.get_scene(session, clip.scene_id)
        project = projects_repo.find_project(session, str(scene.project_id))
        manifest = manifests_repo.get_manifest(session, project.manifest_id)
        if manifest.status is not ManifestStatus.READY:
            raise ConflictError(
                f"manifest {manifest.name!r} is {manifest.status.value}; clips are analysed against a READY registry"
            )
        if tags:
            _check_tags(session, project, tags)
        active = jobs_repo.active_job_for(session, clip.id)
        if active is not None:
            raise ConflictError(f"clip {clip.original_filename!r} is already being analysed (job {active.id})")
        clip.status, clip.error = ClipStatus.ANALYZING, None
        job = jobs_repo.add_job(session, CLIP_ANALYZE, clip.id, {"expect": tags})
        view = JobView.of(job)
    if submit:
        ctx.job_runner.submit(view.id)
    return view


def analyze_here(
    ctx: AppContext,
    clip_id: str,
    *,
    expect: Sequence[str] | None = None,
    sink: ProgressSink | None = None,
    stop: StopSignal | None = None,
) -> JobView:
    """Analyse a clip in the calling thread to the end; returns the finished job (see its status)."""
    job = request_analysis(ctx, clip_id, expect=expect, submit=False)
    return run_here(ctx, job, sink=sink, stop=stop)


def get_analysis(ctx: AppContext, clip_id: str) -> AnalysisView:
    with ctx.factory() as session:
        clip = projects_repo.get_clip(session, _uuid(clip_id, "clip"))
        analysis = projects_repo.latest_analysis(session, clip.id)
        if analysis is None:
            state = f"{clip.status.lower()}" + (f": {clip.error}" if clip.error else "")
            raise NotFoundError(f"clip {clip.original_filename!r} has no analysis yet ({state})")
        return AnalysisView.of(analysis)


def clip_job(ctx: AppContext, clip_id: str) -> JobView | None:
    """The clip's current or latest analysis job."""
    with ctx.factory() as session:
        target = _uuid(clip_id, "clip")
        job = jobs_repo.active_job_for(session, target) or next(
            iter(jobs_repo.list_jobs(session, target, limit=1)), None
        )
        return get_job(ctx, str(job.id)) if job is not None else None


def annotated_frames(ctx: AppContext, clip_id: str) -> list[tuple[str, np.ndarray[Any, Any]]]:
    """The sampled frames of a clip's analysis with what was found drawn on them (tags with their
    similarity; "unexpected person" boxes), each with a file name telling its time."""
    analysis = get_analysis(ctx, clip_id)
    pictures = []
    for frame in analysis.record.get("frames", []):
        image = load_image(ctx.store.read_bytes(frame["image"]), name=f"frame {frame['index']}")
        boxes, labels, classes = [], [], []
        for s in frame["sightings"]:
            boxes.append(s["box"])
            similarity = f" {s['similarity']:.2f}" if s["similarity"] is not None else ""
            labels.append(f"{s['tag']}{similarity}")
            classes.append(0)
        for p in frame["strangers"]:
            boxes.append(p["box"])
            labels.append("unexpected person")
            classes.append(3)
        found = Detections(
            xyxy=np.asarray(boxes, np.float32).reshape(-1, 4),
            confidence=np.ones(len(boxes), np.float32),
            class_id=np.asarray(classes, np.int64),
        )
        name = f"frame_{frame['index']:05d}_{frame['seconds']:07.3f}s.jpg"
        pictures.append((name, draw_detections(image, found, labels=labels)))
    return pictures


def appearances_of_clip(ctx: AppContext, clip_id: str) -> list[dict[str, Any]]:
    """Every AssetAppearance of the clip's latest analysis, in time order, as plain values."""
    with ctx.factory() as session:
        rows = projects_repo.appearances_of_clip(session, _uuid(clip_id, "clip"))
        return [
            {
                "asset_id": str(row.asset_id),
                "tag": tag,
                "frame_index": row.frame_index,
                "seconds": row.timestamp_seconds,
                "bbox": row.bbox,
                "confidence": row.confidence,
                "source": row.source,
                "reference_id": str(row.reference_id) if row.reference_id else None,
                "similarity": row.similarity,
            }
            for row, tag in rows
        ]


def appearances_of_asset(ctx: AppContext, asset_id: str) -> list[AppearanceView]:
    with ctx.factory() as session:
        return [AppearanceView.of(r) for r in projects_repo.appearances_of_asset(session, _uuid(asset_id, "asset"))]


@dataclass(frozen=True)
class FrameHit:
    clip_id: uuid.UUID
    clip: str
    scene_index: int
    frame_index: int
    seconds: float
    thumbnail_key: str
    score: float


def search_frames(ctx: AppContext, project_ref: str, text: str, limit: int = 20) -> list[FrameHit]:
    """Sampled frames of the project's analysed clips that match the words best (cosine between the
    text and each frame's image embedding). Needs an image model with a text tower (CLIP)."""
    words = " ".join(text.split())
    if not words:
        raise VidpipeError("give some words to search the frames for")
    embedder = ctx.toolkit().embedder
    if not embedder.supports_text:
        raise VidpipeError(
            f"searching frames by words needs an image model with a text tower (an OpenCLIP model, set with "
            f"VIDPIPE_VISION__IMAGE_EMBEDDER); the configured {embedder.name!r} has none"
        )
    query = np.asarray(embedder.embed_text([words])[0], np.float32)
    hits: list[FrameHit] = []
    with ctx.factory() as session:
        project = projects_repo.find_project(session, project_ref)
        for scene in project.scenes:
            for clip in scene.clips:
                analysis = projects_repo.latest_analysis(session, clip.id)
                if analysis is None or analysis.frame_embeddings is None:
                    continue
                if analysis.frame_embedding_model != embedder.name:
                    continue
                frames = analysis.record.get("frames", [])
                vectors = np.frombuffer(analysis.frame_embeddings, np.float32).reshape(len(frames), -1)
                scores = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query) + 1e-12)
                for frame, score in zip(frames, scores.tolist(), strict=True):
                    hits.append(
                        FrameHit(
                            clip.id,
                            clip.original_filename,
                            scene.index,
                            int(frame["index"]),
                            float(frame["seconds"]),
                            str(frame["thumbnail"]),
                            round(float(score), 4),
                        )
                    )
    return sorted(hits, key=lambda h: -h.score)[:limit]
