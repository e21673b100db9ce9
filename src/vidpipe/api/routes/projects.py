"""/api/projects, /api/scenes, /api/clips: films, their scenes, generated clips and their analyses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from vidpipe.api.deps import get_ctx
from vidpipe.api.received import received_file
from vidpipe.api.schemas import (
    AnalysisAccepted,
    AnalysisOut,
    AnalyzeIn,
    ClipOut,
    ErrorOut,
    FrameHitOut,
    ProjectIn,
    ProjectOut,
    SceneEdit,
    SceneIn,
    SceneOut,
)
from vidpipe.app import AppContext
from vidpipe.services import projects

router = APIRouter(tags=["projects"])
Ctx = Annotated[AppContext, Depends(get_ctx)]


@router.post("/api/projects", status_code=201, response_model=ProjectOut)
def create_project(body: ProjectIn, ctx: Ctx) -> ProjectOut:
    """A project whose scenes are checked against one manifest's registry."""
    return ProjectOut.of(projects.create_project(ctx, body.name, body.manifest_id))


@router.get("/api/projects", response_model=list[ProjectOut])
def list_projects(ctx: Ctx) -> list[ProjectOut]:
    """Projects, newest first."""
    return [ProjectOut.of(p) for p in projects.list_projects(ctx)]


@router.get("/api/projects/{project_id}", response_model=ProjectOut)
def get_project(project_id: str, ctx: Ctx) -> ProjectOut:
    return ProjectOut.of(projects.show_project(ctx, project_id))


@router.delete("/api/projects/{project_id}", status_code=204)
def delete_project(project_id: str, ctx: Ctx) -> Response:
    """Remove the project, its scenes, clips and analyses (generated references stay with their assets)."""
    projects.delete_project(ctx, project_id)
    return Response(status_code=204)


@router.post("/api/projects/{project_id}/scenes", status_code=201, response_model=SceneOut)
def add_scene(project_id: str, body: SceneIn, ctx: Ctx) -> SceneOut:
    """A scene and the assets it should show (tags of the project's registry; unknown tags: 400)."""
    return SceneOut.of(
        projects.add_scene(ctx, project_id, body.index, description=body.description, expect=body.expect)
    )


@router.patch("/api/projects/{project_id}/scenes/{index}", response_model=SceneOut)
def edit_scene(project_id: str, index: int, body: SceneEdit, ctx: Ctx) -> SceneOut:
    return SceneOut.of(projects.edit_scene(ctx, project_id, index, description=body.description, expect=body.expect))


@router.get("/api/scenes/{scene_id}", response_model=SceneOut)
def get_scene(scene_id: str, ctx: Ctx) -> SceneOut:
    return SceneOut.of(projects.get_scene(ctx, scene_id))


@router.post(
    "/api/scenes/{scene_id}/clips",
    status_code=201,
    response_model=ClipOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def upload_clip(
    scene_id: str, ctx: Ctx, file: Annotated[UploadFile, File(description="A clip: mp4, webm, mov or mkv")]
) -> ClipOut:
    """Add a generated clip to a scene; a file that is not a usable clip is refused with the reason."""
    async with received_file(file, "vidpipe-clip-", ctx.settings.max_upload_bytes) as path:
        view = await run_in_threadpool(projects.add_clip, ctx, scene_id, path)
    return ClipOut.of(view)


@router.get("/api/clips/{clip_id}", response_model=ClipOut)
def get_clip(clip_id: str, ctx: Ctx) -> ClipOut:
    """The clip, its state (NEW, ANALYZING, ANALYZED, ERROR with the reason) and its latest verdict."""
    return ClipOut.of(projects.get_clip(ctx, clip_id))


@router.post("/api/clips/{clip_id}/analyze", status_code=202, response_model=AnalysisAccepted)
def analyze(clip_id: str, ctx: Ctx, body: AnalyzeIn | None = None) -> AnalysisAccepted:
    """Queue the clip's analysis on the server's runner (409 while one runs or the registry is not READY)."""
    job = projects.request_analysis(ctx, clip_id, expect=body.expect if body else None)
    return AnalysisAccepted(job_id=job.id, status_url=f"/api/jobs/{job.id}", clip_url=f"/api/clips/{clip_id}")


@router.get("/api/clips/{clip_id}/analysis", response_model=AnalysisOut)
def get_analysis(clip_id: str, ctx: Ctx) -> AnalysisOut:
    """The latest analysis: score, gate, reasons, and the per-frame record (404 before the first)."""
    return AnalysisOut.of(projects.get_analysis(ctx, clip_id))


@router.get("/api/projects/{project_id}/search/frames", response_model=list[FrameHitOut])
def search_frames(
    project_id: str,
    ctx: Ctx,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words describing the frame")],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[FrameHitOut]:
    """Sampled frames of the project's clips that best match the words (needs a CLIP image model: 400 otherwise)."""
    return [
        FrameHitOut(
            clip_id=h.clip_id,
            clip=h.clip,
            scene_index=h.scene_index,
            frame_index=h.frame_index,
            seconds=h.seconds,
            thumbnail_url=f"/files/{h.thumbnail_key}",
            score=h.score,
        )
        for h in projects.search_frames(ctx, project_id, q, limit)
    ]
