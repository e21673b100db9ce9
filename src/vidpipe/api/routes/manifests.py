"""/api/manifests: create, list, read, rename, delete; photos in; processing and its progress."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from vidpipe.api.deps import file_url, get_ctx
from vidpipe.api.progress_cache import progress_cache
from vidpipe.api.received import received_file, safe_filename
from vidpipe.api.schemas import (
    Accepted,
    AssetOut,
    ErrorOut,
    HitOut,
    ManifestCreate,
    ManifestOut,
    ManifestPage,
    ManifestRename,
    MergeIn,
    MergeOut,
    ProgressOut,
    UploadAnswer,
    UploadOut,
    UploadResult,
)
from vidpipe.app import AppContext
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.exports import DEFAULT_MAX_REFS, ExportFormat
from vidpipe.pipeline.uploads import PhotoIn, parse_asset_type
from vidpipe.services import assets, manifests, runs, search

router = APIRouter(prefix="/api/manifests", tags=["manifests"])
Ctx = Annotated[AppContext, Depends(get_ctx)]
EVENT_INTERVAL_SECONDS = 0.5


@router.post("", status_code=201, response_model=ManifestOut)
def create_manifest(body: ManifestCreate, ctx: Ctx) -> ManifestOut:
    """A new, empty DRAFT manifest; photos come with `POST /api/manifests/{id}/uploads`."""
    return ManifestOut.of(manifests.create_empty_manifest(ctx, body.name))


@router.get("", response_model=ManifestPage)
def list_manifests(
    ctx: Ctx, limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0)] = 0
) -> ManifestPage:
    everything = manifests.list_manifests(ctx)
    page = everything[offset : offset + limit]
    return ManifestPage(items=[ManifestOut.of(m) for m in page], total=len(everything), limit=limit, offset=offset)


@router.get("/{manifest_id}", response_model=ManifestOut)
def get_manifest(manifest_id: str, ctx: Ctx) -> ManifestOut:
    return ManifestOut.of(manifests.show_manifest(ctx, manifest_id).summary)


@router.patch("/{manifest_id}", response_model=ManifestOut)
def rename_manifest(manifest_id: str, body: ManifestRename, ctx: Ctx) -> ManifestOut:
    return ManifestOut.of(manifests.rename_manifest(ctx, manifest_id, body.name))


@router.delete("/{manifest_id}", status_code=204)
def delete_manifest(manifest_id: str, ctx: Ctx) -> Response:
    manifests.delete_manifest(ctx, manifest_id)
    return Response(status_code=204)


@router.get("/{manifest_id}/uploads", response_model=list[UploadOut])
def list_uploads(manifest_id: str, ctx: Ctx) -> list[UploadOut]:
    view = manifests.show_manifest(ctx, manifest_id)
    return [UploadOut.of(u, file_url(u.storage_key)) for u in view.uploads]


@router.post(
    "/{manifest_id}/uploads",
    response_model=UploadAnswer,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def upload_photos(
    manifest_id: str,
    ctx: Ctx,
    files: Annotated[list[UploadFile], File(description="Photos (repeat the field)")],
    names: Annotated[list[str] | None, Form(description="A name per file, in the same order")] = None,
    types: Annotated[
        list[str] | None,
        Form(
            description="An asset type per file, in the same order; one left empty (or all, by leaving the "
            "field out) is guessed from what the detectors see, and the answer says what and why"
        ),
    ] = None,
) -> UploadAnswer | JSONResponse:
    """Add many photos at once; each is answered as accepted, duplicate or refused with the reason."""
    if names and len(names) != len(files):
        raise VidpipeError(f"{len(names)} names for {len(files)} files: give one name per file, or none")
    if types and len(types) != len(files):
        raise VidpipeError(f"{len(types)} types for {len(files)} files: give one type per file, or none")
    with tempfile.TemporaryDirectory(prefix="vidpipe-upload-") as work:
        photos = []
        guessed: dict[Path, str] = {}
        for n, upload in enumerate(files):
            folder = Path(work) / str(n)  # one folder each: two files may carry the same name
            folder.mkdir()
            path = folder / safe_filename(upload.filename, n)
            with path.open("wb") as out:
                while chunk := await upload.read(1 << 20):
                    out.write(chunk)
            kind = parse_asset_type(types[n], f"type of {path.name}") if types and types[n] else None
            if kind is None:
                # Left out: what the detectors see decides, and the answer says so.
                guess = await run_in_threadpool(manifests.guess_photo_type, ctx, path)
                if guess is not None:
                    kind, why = guess
                    guessed[path] = f"type {kind.value} guessed: {why}"
            photos.append(PhotoIn(path, kind or AssetType.PROP, names[n] if names else None))
        result = await run_in_threadpool(manifests.add_manifest_photos, ctx, manifest_id, photos, refuse_if_none=False)
        notes = {n.path: n for n in (*result.refused, *result.duplicates)}
        added = {u.original_filename: u for u in result.added}
        answers = []
        for photo in photos:
            note = notes.get(str(photo.path))
            if note is not None:
                outcome = "duplicate" if note.duplicate else "refused"
                answers.append(
                    UploadResult(
                        file=photo.path.name,
                        outcome=outcome,
                        reason=note.reason.replace(f"{photo.path.parent}{os.sep}", ""),
                    )
                )
            else:
                upload_view = added.get(photo.path.name)
                answers.append(
                    UploadResult(
                        file=photo.path.name,
                        outcome="accepted",
                        upload_id=upload_view.id if upload_view else None,
                        type=photo.asset_type.value,
                        note=guessed.get(photo.path),
                    )
                )
    answer = UploadAnswer(manifest=ManifestOut.of(result.manifest), files=answers)
    if not result.added and result.refused and not result.duplicates:
        # Nothing usable came: the status says why (413 over a limit, else 422), the body says per file.
        status = 413 if any(n.status == 413 for n in result.refused) else 422
        return JSONResponse(
            {
                "error": f"none of the {len(photos)} file(s) could be used",
                "detail": "; ".join(f"{a.file}: {a.reason}" for a in answers),
                "files": [a.model_dump(mode="json") for a in answers],
            },
            status_code=status,
        )
    return answer


@router.delete("/{manifest_id}/uploads/{upload_id}", response_model=ManifestOut)
def remove_upload(manifest_id: str, upload_id: str, ctx: Ctx) -> ManifestOut:
    """Take a photo out while the manifest is a DRAFT."""
    return ManifestOut.of(manifests.remove_upload(ctx, manifest_id, upload_id))


def _accepted(manifest_id: str, job_id: uuid.UUID) -> Accepted:
    return Accepted(
        job_id=job_id,
        status_url=f"/api/jobs/{job_id}",
        progress_url=f"/api/manifests/{manifest_id}/progress",
    )


@router.post("/{manifest_id}/process", status_code=202, response_model=Accepted)
def process(manifest_id: str, ctx: Ctx) -> Accepted:
    """Queue processing of a DRAFT manifest (409 with its state otherwise); the server's runner runs it."""
    job = runs.request_run(ctx, manifest_id)
    progress_cache.forget(manifest_id)
    return _accepted(manifest_id, job.id)


@router.post("/{manifest_id}/reprocess", status_code=202, response_model=Accepted)
def reprocess(manifest_id: str, ctx: Ctx) -> Accepted:
    """Queue processing of a READY or ERROR manifest again; corrections are kept."""
    job = runs.request_run(ctx, manifest_id, reprocess=True)
    progress_cache.forget(manifest_id)
    return _accepted(manifest_id, job.id)


@router.get("/{manifest_id}/progress", response_model=ProgressOut)
async def get_progress(manifest_id: str, ctx: Ctx) -> Response:
    """Status, current step, counters and per-step times (fresh to within a quarter second)."""
    _, body = await progress_cache.get(ctx, manifest_id)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get("/{manifest_id}/events", response_class=StreamingResponse)
async def events(manifest_id: str, ctx: Ctx) -> StreamingResponse:
    """The progress as server-sent events (`event: progress`), one when it changes, ending at READY or ERROR."""
    first = await progress_cache.get(ctx, manifest_id)  # 404 before the stream starts

    async def stream() -> AsyncIterator[str]:
        (current, body), last = first, b""
        while True:
            if body != last:
                yield f"event: progress\ndata: {body.decode()}\n\n"
                last = body
            if current.finished:
                yield f"event: end\ndata: {json.dumps({'status': current.status})}\n\n"
                return
            await asyncio.sleep(EVENT_INTERVAL_SECONDS)
            current, body = await progress_cache.get(ctx, manifest_id)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/{manifest_id}/assets", response_model=list[AssetOut])
def list_assets(
    manifest_id: str,
    ctx: Ctx,
    type: Annotated[str | None, Query(description="CHARACTER, PROP, ...")] = None,
    tag: Annotated[str | None, Query(description="A manifest tag such as CHAR_01")] = None,
    source: Annotated[str | None, Query(description="uploaded, extracted or generated")] = None,
) -> list[AssetOut]:
    view = manifests.show_manifest(ctx, manifest_id)
    chosen = [
        a
        for a in view.assets
        if (type is None or a.asset_type.value == type.upper())
        and (tag is None or (a.tag or "") == tag.upper())
        and (source is None or a.source.value == source.lower())
    ]
    return [AssetOut.of(a, file_url) for a in chosen]


@router.post("/{manifest_id}/merge", response_model=MergeOut)
def merge(manifest_id: str, body: MergeIn, ctx: Ctx) -> MergeOut:
    """Fold assets into one (tags or ids); assets of different types need force (else 400)."""
    result = assets.merge(ctx, manifest_id, body.keep, body.others, force=body.force)
    return MergeOut(kept=result.kept, merged=list(result.merged), references_moved=result.references_moved)


@router.get("/{manifest_id}/search", response_model=list[HitOut])
def search_words(
    manifest_id: str, ctx: Ctx, q: Annotated[str, Query(min_length=1, max_length=200, description="Words")]
) -> list[HitOut]:
    """Assets whose name, tags, prompt or description hold every word, best first."""
    return [
        HitOut(asset=AssetOut.of(h.asset, file_url), score=h.score) for h in search.search_text(ctx, manifest_id, q)
    ]


@router.post("/{manifest_id}/search/image", response_model=list[HitOut])
async def search_photo(
    manifest_id: str,
    ctx: Ctx,
    file: Annotated[UploadFile, File(description="A photo to look for")],
    min_score: Annotated[
        float | None,
        Query(
            ge=-1, le=1, description="Lowest similarity returned; by default the image model's same-object threshold"
        ),
    ] = None,
) -> list[HitOut]:
    """The assets whose references look like the photo (or one of the things in it), best first,
    with their similarity; an empty list when none is close."""
    async with received_file(file, "vidpipe-search-") as path:
        hits = await run_in_threadpool(search.search_image, ctx, manifest_id, path, min_score=min_score)
    return [HitOut(asset=AssetOut.of(h.asset, file_url), score=h.score) for h in hits]


@router.get(
    "/{manifest_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "json: the registry; md: the production bible; zip and pack: a zip to download",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/markdown": {"schema": {"type": "string"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
def export_manifest(
    manifest_id: str,
    ctx: Ctx,
    format: Annotated[
        ExportFormat,
        Query(
            description="json (registry), md (production bible): the document, its files linked relatively as "
            "in the zip; zip: both documents with their images; pack: per asset its best references and "
            "prompt.txt"
        ),
    ] = "json",
    max_refs: Annotated[int, Query(ge=1, le=50, description="pack: at most this many references per asset")] = (
        DEFAULT_MAX_REFS
    ),
) -> Response:
    """The registry exported: a document, or a zip sent as an attachment under a safe file name."""
    if format == "json" or format == "md":
        text = manifests.export_manifest(ctx, manifest_id, format)
        media = "application/json" if format == "json" else "text/markdown; charset=utf-8"
        return Response(text, media_type=media)
    work = tempfile.mkdtemp(prefix="vidpipe-export-")
    try:
        result = manifests.export_archive(ctx, manifest_id, format, Path(work), max_refs=max_refs)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        result.path,
        media_type="application/zip",
        filename=result.path.name,
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )
