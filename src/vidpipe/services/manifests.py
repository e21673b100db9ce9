"""Manifests: create with photos, add photos, read, list, delete, export."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from vidpipe.app import AppContext
from vidpipe.db.models import Job, Manifest
from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.db.repositories import manifests as manifests_repo
from vidpipe.db.repositories import projects as projects_repo
from vidpipe.domain.enums import AssetType, ManifestStatus
from vidpipe.errors import ConflictError, NotFoundError, VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.pipeline import rules
from vidpipe.pipeline.exports import (
    DEFAULT_MAX_REFS,
    EXPORT_FORMATS,
    ExportFormat,
    ExportResult,
    archive_name,
    build_bundle,
    write_bundle,
    write_into,
)
from vidpipe.pipeline.registry import registry_json, registry_markdown
from vidpipe.pipeline.uploads import PhotoIn, Refusal, add_photos
from vidpipe.services.views import IntakeResult, ManifestSummary, ManifestView, PhotoNote, UploadView

MAX_MANIFEST_NAME_CHARS = 200


def _notes(refusals: Sequence[Refusal]) -> tuple[tuple[PhotoNote, ...], tuple[PhotoNote, ...]]:
    notes = [PhotoNote(str(r.path), r.reason, duplicate=r.duplicate_of is not None, status=r.status) for r in refusals]
    return tuple(n for n in notes if not n.duplicate), tuple(n for n in notes if n.duplicate)


def _no_usable_photo(what: str, refusals: Sequence[Refusal]) -> VidpipeError:
    reasons = "; ".join(f"{r.path}: {r.reason}" for r in refusals) or "no photo was given"
    return VidpipeError(f"{what}: none of the photos can be used ({reasons})")


def _title(name: str) -> str:
    title = name.strip()[:MAX_MANIFEST_NAME_CHARS]
    if not title:
        raise VidpipeError(f"a manifest name needs at least one visible character, got {name!r}")
    return title


def create_manifest(ctx: AppContext, name: str, photos: Sequence[PhotoIn]) -> IntakeResult:
    """A new DRAFT manifest holding the usable photos. A manifest with no usable photo is not created."""
    title = name.strip()[:MAX_MANIFEST_NAME_CHARS] or "Untitled"
    with ctx.transaction() as session:
        manifest = Manifest(name=title)
        session.add(manifest)
        session.flush()
        added, refused = add_photos(session, ctx.store, manifest, list(photos), ctx.settings)
        if not added:
            # Raising rolls the new manifest back: nothing is written.
            raise _no_usable_photo(f"manifest {title!r} was not created", refused)
        bad, duplicates = _notes(refused)
        return IntakeResult(
            ManifestSummary.of(manifest), tuple(UploadView.of(u, u.sort_order) for u in added), bad, duplicates
        )


def create_empty_manifest(ctx: AppContext, name: str) -> ManifestSummary:
    """A new DRAFT manifest with no photos yet (the web app adds them next); it is not processed
    until it has some."""
    title = _title(name)
    with ctx.transaction() as session:
        manifest = Manifest(name=title)
        session.add(manifest)
        session.flush()
        return ManifestSummary.of(manifest)


def add_manifest_photos(
    ctx: AppContext, ref: str, photos: Sequence[PhotoIn], *, refuse_if_none: bool = True
) -> IntakeResult:
    """Add photos to a manifest; the same bytes twice are added once (and reported as duplicates).
    When no photo could be added because all were bad, that is an error unless ``refuse_if_none``
    is False (a shell that reports each file on its own)."""
    with ctx.transaction() as session:
        manifest = manifests_repo.find_manifest(session, ref)
        refuse_while_active(session, manifest.id, "add photos")
        added, refused = add_photos(session, ctx.store, manifest, list(photos), ctx.settings)
        bad, duplicates = _notes(refused)
        if refuse_if_none and not added and bad:
            raise _no_usable_photo(f"no photo was added to {manifest.name!r}", refused)
        return IntakeResult(
            ManifestSummary.of(manifest), tuple(UploadView.of(u, u.sort_order) for u in added), bad, duplicates
        )


def guess_photo_type(ctx: AppContext, photo: Path) -> tuple[AssetType, str] | None:
    """What a photo whose type was left out most likely shows, with the reason; None when the file
    is not a usable image (adding it then refuses it with the reason)."""
    try:
        image = load_image(photo, max_pixels=ctx.settings.vision.max_image_pixels)
    except VidpipeError:
        return None
    toolkit = ctx.toolkit()
    objects = toolkit.detector.detect(image)
    faces = toolkit.faces.detect(image, objects)
    areas = [
        (objects.names[i], float((x2 - x1) * (y2 - y1))) for i, (x1, y1, x2, y2) in enumerate(objects.xyxy.tolist())
    ]
    boxes = [(x1, y1, x2, y2) for x1, y1, x2, y2 in faces.xyxy.tolist()]
    height, width = image.shape[:2]
    return rules.guess_type((width, height), boxes, areas)


def refuse_while_active(session: Session, manifest_id: uuid.UUID, action: str) -> None:
    """Refuse a change while a run (queued or running) may still write the manifest."""
    job = jobs_repo.active_job_for(session, manifest_id)
    if job is not None:
        raise ConflictError(
            f"cannot {action}: manifest {manifest_id} has a {job.status.value.lower()} run (job {job.id}); "
            "wait for it to finish or cancel it"
        )


def _latest_job(session: Session, manifest: Manifest) -> Job | None:
    active = jobs_repo.active_job_for(session, manifest.id)
    if active is not None:
        return active
    jobs = jobs_repo.list_jobs(session, manifest.id, limit=1)
    return jobs[0] if jobs else None


def show_manifest(ctx: AppContext, ref: str) -> ManifestView:
    """The manifest with its photos, assets, references, statistics and current (or last) job."""
    with ctx.factory() as session:
        manifest = manifests_repo.find_manifest(session, ref)
        return ManifestView.of(manifest, _latest_job(session, manifest))


def list_manifests(ctx: AppContext) -> list[ManifestSummary]:
    with ctx.factory() as session:
        return [ManifestSummary.of(m) for m in manifests_repo.list_manifests(session)]


def delete_manifest(ctx: AppContext, ref: str) -> ManifestSummary:
    """Remove a manifest with its photos' records, assets and decisions (not while a run may write
    it), then the stored files no other manifest uses (files are shared by content)."""
    with ctx.transaction() as session:
        manifest = manifests_repo.find_manifest(session, ref)
        refuse_while_active(session, manifest.id, "delete it")
        users = projects_repo.projects_using(session, manifest.id)
        if users:
            listed = ", ".join(repr(u) for u in users)
            raise ConflictError(f"manifest {manifest.name!r} is the registry of project(s) {listed}; delete them first")
        summary = ManifestSummary.of(manifest)
        keys = manifests_repo.file_keys_of(session, manifest.id)
        session.delete(manifest)
    with ctx.factory() as session:
        unused = keys - manifests_repo.keys_still_used(session, keys)
    for key in unused:
        ctx.store.delete(key)
    return summary


def rename_manifest(ctx: AppContext, ref: str, name: str) -> ManifestSummary:
    title = _title(name)
    with ctx.transaction() as session:
        manifest = manifests_repo.find_manifest(session, ref)
        manifest.name = title
        session.flush()
        return ManifestSummary.of(manifest)


def remove_upload(ctx: AppContext, ref: str, upload_id: str) -> ManifestSummary:
    """Take a photo out of a manifest that has not been processed yet."""
    with ctx.transaction() as session:
        manifest = manifests_repo.find_manifest(session, ref)
        if manifest.status is not ManifestStatus.DRAFT:
            raise ConflictError(
                f"manifest {manifest.name!r} is {manifest.status.value}: photos are removed only before processing"
            )
        try:
            wanted = uuid.UUID(upload_id)
        except ValueError:
            raise NotFoundError(f"no photo {upload_id!r} in manifest {manifest.name!r}") from None
        upload = next((u for u in manifest.uploads if u.id == wanted), None)
        if upload is None:
            raise NotFoundError(f"no photo {upload_id!r} in manifest {manifest.name!r}")
        key = upload.storage_key
        manifest.uploads.remove(upload)  # delete-orphan removes the row
        manifest.upload_count = len(manifest.uploads)
        session.flush()
        summary = ManifestSummary.of(manifest)
    with ctx.factory() as session:
        if not manifests_repo.keys_still_used(session, {key}):
            ctx.store.delete(key)
    return summary


def export_manifest(ctx: AppContext, ref: str, fmt: Literal["json", "md"]) -> str:
    """The registry as JSON (for other tools) or as a Markdown production bible, its files linked by
    paths relative to the document, as they lie in the bundle `export_bundle` writes."""
    if fmt not in ("json", "md"):
        raise VidpipeError(f"export format must be json or md, not {fmt!r}")
    with ctx.factory() as session:
        manifest = manifests_repo.find_manifest(session, ref)
        if fmt == "json":
            return json.dumps(registry_json(manifest, ctx.store), indent=2, ensure_ascii=False)
        return registry_markdown(manifest, ctx.store)


def export_bundle(
    ctx: AppContext,
    ref: str,
    fmt: ExportFormat,
    output: Path,
    *,
    max_refs: int = DEFAULT_MAX_REFS,
    force: bool = False,
    into: bool = False,
) -> ExportResult:
    """Write the registry where it can travel (see `vidpipe.pipeline.exports` for the formats): ``md`` or
    ``json`` a folder with the document and its images, ``zip`` one zip with both documents, ``pack`` a
    folder per asset with its best ``max_refs`` references and ``prompt.txt`` (a zip if ``output`` ends in
    .zip). An existing ``output`` is refused unless ``force``; nothing is left half-written. With ``into``
    (folder formats only) the files go into ``output`` beside what is there, replacing their namesakes."""
    if fmt not in EXPORT_FORMATS:
        raise VidpipeError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    with ctx.factory() as session:
        manifest = manifests_repo.find_manifest(session, ref)
        bundle = build_bundle(manifest, ctx.store, fmt, max_refs=max_refs)
    if into:
        if fmt == "zip":
            raise VidpipeError("a zip export is one file: it cannot be written into a folder")
        return write_into(bundle, ctx.store, output)
    return write_bundle(bundle, ctx.store, output, force=force)


def export_archive(
    ctx: AppContext, ref: str, fmt: Literal["zip", "pack"], folder: Path, *, max_refs: int = DEFAULT_MAX_REFS
) -> ExportResult:
    """The registry (``zip``) or the reference pack (``pack``) as a zip in ``folder``, named after the
    manifest in a file-name-safe alphabet (for a download)."""
    if fmt not in ("zip", "pack"):
        raise VidpipeError(f"an archive export is zip or pack, not {fmt!r}")
    with ctx.factory() as session:
        manifest = manifests_repo.find_manifest(session, ref)
        bundle = build_bundle(manifest, ctx.store, fmt, max_refs=max_refs)
    return write_bundle(bundle, ctx.store, folder / archive_name(bundle.title, fmt))
