"""The pages: the manifest list, the three stages of the Manifest Creator, an asset's page, and the
projects whose generated clips are checked against a registry, with each clip's report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from vidpipe.api.deps import get_ctx
from vidpipe.app import AppContext
from vidpipe.domain.enums import AssetType, ClipStatus, ManifestStatus
from vidpipe.pipeline.manifesting import STEPS
from vidpipe.services import assets, manifests, projects, search
from vidpipe.services.views import AnalysisView, ClipView

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
Ctx = Annotated[AppContext, Depends(get_ctx)]

STEP_WORDS = {
    "contact_sheet": "Making the contact sheet",
    "detect": "Finding people, faces and objects",
    "people": "Telling people apart by face",
    "embed": "Comparing what was found",
    "select": "Choosing the assets",
    "describe": "Describing each asset",
    "tag": "Tagging",
    "write": "Writing the registry",
}

CLIP_STEP_WORDS = {
    "sample": "Sampling frames from the clip",
    "match": "Finding registry assets in the frames",
    "score": "Scoring continuity",
    "write": "Writing the report",
}

# Why a frame was sampled, in words (see vidpipe.video.sampling.REASONS).
SAMPLE_WORDS = {
    "first": "first frame",
    "last": "last frame",
    "shot": "new shot",
    "motion": "strong motion",
    "2s": "2 s mark",
    "4s": "4 s mark",
    "6s": "6 s mark",
}

SOURCE_WORDS = {"face_match": "face", "clip_match": "look", "yolo": "class only"}


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


@router.get("/", response_class=HTMLResponse)
def manifest_list(request: Request, ctx: Ctx) -> HTMLResponse:
    return page(request, "manifests.html", manifests=manifests.list_manifests(ctx))


@router.get("/manifests/new", response_class=HTMLResponse)
def new_manifest(request: Request) -> HTMLResponse:
    return page(request, "upload.html", manifest=None, types=[t.value for t in AssetType])


@router.get("/manifests/{manifest_id}", response_class=HTMLResponse)
def manifest_page(manifest_id: str, request: Request, ctx: Ctx, q: str | None = None) -> Response:
    """The stage the manifest is in: photos to add, a run to watch, or a registry to review."""
    view = manifests.show_manifest(ctx, manifest_id)
    if view.summary.status is ManifestStatus.DRAFT:
        return RedirectResponse(f"/manifests/{view.summary.id}/upload", status_code=303)
    if view.summary.status is ManifestStatus.PROCESSING:
        return RedirectResponse(f"/manifests/{view.summary.id}/processing", status_code=303)
    query = (q or "").strip()
    shown = view.assets
    if query:
        hits = search.search_text(ctx, str(view.summary.id), query)
        shown = tuple(h.asset for h in hits)
    return page(request, "review.html", view=view, assets=shown, query=query)


@router.get("/manifests/{manifest_id}/upload", response_class=HTMLResponse)
def upload_page(manifest_id: str, request: Request, ctx: Ctx) -> HTMLResponse:
    view = manifests.show_manifest(ctx, manifest_id)
    return page(request, "upload.html", manifest=view, types=[t.value for t in AssetType])


@router.get("/manifests/{manifest_id}/processing", response_class=HTMLResponse)
def processing_page(manifest_id: str, request: Request, ctx: Ctx) -> HTMLResponse:
    view = manifests.show_manifest(ctx, manifest_id)
    return page(request, "processing.html", view=view, steps=STEPS, words=STEP_WORDS)


@router.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(asset_id: str, request: Request, ctx: Ctx) -> HTMLResponse:
    manifest_id = assets.manifest_of(ctx, asset_id)
    view = manifests.show_manifest(ctx, manifest_id)
    asset = assets.get_asset(ctx, manifest_id, asset_id)
    uploads = {u.name: u for u in view.uploads}
    found = projects.appearances_of_asset(ctx, asset_id)  # the newest analyses first
    clips = {c: projects.get_clip(ctx, str(c)) for c in dict.fromkeys(a.clip_id for a in found)}
    order = {c: n for n, c in enumerate(clips)}
    appearances = sorted(found, key=lambda a: (order[a.clip_id], a.seconds))  # each clip in time order
    return page(
        request,
        "asset.html",
        manifest=view,
        asset=asset,
        uploads=uploads,
        appearances=appearances,
        clips=clips,
        source_words=SOURCE_WORDS,
    )


# ------------------------------------------------------------------------------------ projects and clips


@router.get("/projects", response_class=HTMLResponse)
def project_list(request: Request, ctx: Ctx) -> HTMLResponse:
    ready = [m for m in manifests.list_manifests(ctx) if m.status is ManifestStatus.READY]
    return page(request, "projects.html", projects=projects.list_projects(ctx), manifests=ready)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_page(project_id: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """The scenes with what each expects, their clips with status and verdict, uploads, live analyses."""
    project = projects.show_project(ctx, project_id)
    manifest = manifests.show_manifest(ctx, str(project.manifest_id))
    registry = [(a.tag, a.name) for a in manifest.assets if a.tag]
    jobs = {
        str(c.id): job.id
        for s in project.scenes
        for c in s.clips
        if c.status == ClipStatus.ANALYZING and (job := projects.clip_job(ctx, str(c.id))) is not None
    }
    next_index = max((s.index for s in project.scenes), default=0) + 1
    return page(
        request,
        "project.html",
        project=project,
        manifest=manifest.summary,
        registry=registry,
        names=dict(registry),
        jobs=jobs,
        next_index=next_index,
        words=CLIP_STEP_WORDS,
    )


@dataclass(frozen=True)
class Chart:
    """A small similarity-per-frame line chart, drawn by the template as inline SVG."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    grid: tuple[tuple[float, str], ...]  # y, label: the scale's lines
    lines: tuple[str, ...]  # polyline points, one run of frames with a similarity each
    dots: tuple[tuple[float, float, str], ...]  # x, y, tooltip
    misses: tuple[tuple[float, str], ...]  # x, tooltip: frames without a similarity
    threshold: tuple[float, str] | None  # y, label
    span: str  # the time at the right end


def similarity_chart(
    similarities: list[float | None], seconds: list[float], duration: float, threshold: float | None
) -> Chart:
    """Similarity (up the side) against time in the clip (along), one dot per sampled frame; a frame
    where the asset was not found breaks the line and is marked below it. The scale starts a little under
    the lowest similarity or the threshold, so that the differences that matter can be seen."""
    width, height, left, right, top, bottom = 420, 110, 34, 410, 8, 90
    span = max(duration, seconds[-1] if seconds else 0.0, 1e-6)
    known = [v for v in similarities if v is not None] + ([threshold] if threshold is not None else [])
    floor = max(0.0, math.floor((min(known, default=0.0) - 0.05) * 10) / 10)

    def x(t: float) -> float:
        return round(left + (right - left) * t / span, 1)

    def y(v: float) -> float:
        share = (max(floor, min(1.0, v)) - floor) / (1.0 - floor)
        return round(bottom - (bottom - top) * share, 1)

    lines: list[str] = []
    run: list[str] = []
    dots: list[tuple[float, float, str]] = []
    misses: list[tuple[float, str]] = []
    for value, t in zip(similarities, seconds, strict=False):
        if value is None:
            if run:
                lines.append(" ".join(run))
            run = []
            misses.append((x(t), f"{t:.1f} s: not found"))
            continue
        run.append(f"{x(t)},{y(value)}")
        dots.append((x(t), y(value), f"{t:.1f} s: similarity {value:.2f}"))
    if run:
        lines.append(" ".join(run))
    grid = tuple((y(v), f"{v:g}") for v in (floor, round((floor + 1) / 2, 2), 1.0))
    line = (y(threshold), f"match {threshold:.2f}") if threshold is not None else None
    return Chart(
        width, height, left, right, top, bottom, grid, tuple(lines), tuple(dots), tuple(misses), line, f"{span:.1f} s"
    )


def _match_threshold(frames: list[dict[str, Any]], tag: str, thresholds: dict[str, Any]) -> float | None:
    """The threshold the asset's similarities are held to: its faces' or its look's, by how it was found."""
    sources = [s.get("source") for f in frames for s in f.get("sightings", []) if s.get("tag") == tag]
    key = "image" if sources and sources.count("clip_match") > sources.count("face_match") else "face"
    value = thresholds.get(key)
    return float(value) if isinstance(value, int | float) else None


def _report(analysis: AnalysisView, clip: ClipView) -> dict[str, Any]:
    record = analysis.record
    frames: list[dict[str, Any]] = list(record.get("frames", []))
    seconds = [float(f.get("seconds", 0.0)) for f in frames]
    info = record.get("clip", {})
    duration = float(info.get("duration_seconds") or clip.duration_seconds or (seconds[-1] if seconds else 0.0))
    thresholds = record.get("thresholds", {})
    rows: list[dict[str, Any]] = list(record.get("assets", []))
    # Registry assets found but not scored (the scene expects others): shown too, as not expected.
    scored = {a["tag"] for a in rows}
    for tag in dict.fromkeys(s["tag"] for f in frames for s in f.get("sightings", [])):
        if tag in scored:
            continue
        similarities = [next((s.get("similarity") for s in f["sightings"] if s["tag"] == tag), None) for f in frames]
        present = sum(any(s["tag"] == tag for s in f["sightings"]) for f in frames)
        rows.append(
            {"tag": tag, "expected": False, "frames_present": present, "identity": None, "stability": None,
             "score": None, "similarities": similarities, "unscored": True}
        )  # fmt: skip
    charts = {
        a["tag"]: similarity_chart(
            list(a.get("similarities", [])), seconds, duration, _match_threshold(frames, a["tag"], thresholds)
        )
        for a in rows
    }
    return {"record": record, "frames": frames, "info": info, "rows": rows, "charts": charts}


@router.get("/clips/{clip_id}", response_class=HTMLResponse)
def clip_page(clip_id: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """The scene report: the verdict, the sampled frames with what was found, a timeline per asset,
    similarity charts, the references the clip added, and the clip itself."""
    clip = projects.get_clip(ctx, clip_id)
    scene = projects.get_scene(ctx, str(clip.scene_id))
    project = projects.show_project(ctx, str(scene.project_id))
    manifest = manifests.show_manifest(ctx, str(project.manifest_id))
    analysis = projects.get_analysis(ctx, clip_id) if clip.analysis is not None else None
    job = projects.clip_job(ctx, clip_id)
    return page(
        request,
        "clip.html",
        clip=clip,
        scene=scene,
        project=project,
        analysis=analysis,
        report=_report(analysis, clip) if analysis is not None else None,
        job=job,
        asset_ids={a.tag: a.id for a in manifest.assets if a.tag},
        names={a.tag: a.name for a in manifest.assets if a.tag},
        references={str(r.id): r for a in manifest.assets for r in a.references},
        words=CLIP_STEP_WORDS,
        sample_words=SAMPLE_WORDS,
        source_words=SOURCE_WORDS,
    )
