"""Requesting runs through the engine API: what starts, what is refused, and the job it leaves."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from vidpipe.app import AppContext
from vidpipe.db.models import Manifest, Upload
from vidpipe.domain.enums import JobStatus, ManifestStatus
from vidpipe.errors import ConflictError, NotFoundError, VidpipeError
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs

pytestmark = [pytest.mark.data]


def test_a_request_queues_one_job_with_its_options(app_ctx: AppContext, production: list[PhotoIn]) -> None:
    manifest = manifests.create_manifest(app_ctx, "Options", production[2:3]).manifest
    job = runs.request_run(app_ctx, str(manifest.id), describers=["offline"], force_describe=True, submit=False)
    assert job.status is JobStatus.QUEUED and job.kind == "manifest.process" and job.target_id == manifest.id
    # What a retry after a crash needs to do the same run.
    assert job.params == {"reprocess": False, "describers": ["offline"], "force_describe": True}
    assert manifests.show_manifest(app_ctx, str(manifest.id)).summary.status is ManifestStatus.PROCESSING
    # Asking again while it waits gives the same job, not a second one.
    assert runs.request_run(app_ctx, str(manifest.id), submit=False).id == job.id
    assert len(runs.list_jobs(app_ctx, str(manifest.id))) == 1


def test_a_manifest_with_no_photo_is_not_processed(app_ctx: AppContext, production: list[PhotoIn]) -> None:
    # An older vidpipe could create one; its photos' rows may also have been removed by hand.
    manifest = manifests.create_manifest(app_ctx, "Empty", production[2:3]).manifest
    with app_ctx.transaction() as session:
        session.query(Upload).filter(Upload.manifest_id == manifest.id).delete()
        session.execute(update(Manifest).where(Manifest.id == manifest.id).values(upload_count=0))
    with pytest.raises(VidpipeError, match="has no photos"):
        runs.request_run(app_ctx, str(manifest.id), submit=False)
    assert manifests.show_manifest(app_ctx, str(manifest.id)).summary.status is ManifestStatus.DRAFT
    assert runs.list_jobs(app_ctx, str(manifest.id)) == []


def test_unknown_or_unfit_requests_are_refused(app_ctx: AppContext, production: list[PhotoIn]) -> None:
    with pytest.raises(NotFoundError, match="no manifest"):
        runs.request_run(app_ctx, "0123456789ab", submit=False)
    with pytest.raises(NotFoundError, match="no job"):
        runs.get_job(app_ctx, "0123456789ab")
    manifest = manifests.create_manifest(app_ctx, "Draft", production[2:3]).manifest
    with pytest.raises(VidpipeError, match="unknown describer"):
        runs.request_run(app_ctx, str(manifest.id), describers=["gpt-9"], submit=False)
    job = runs.request_run(app_ctx, str(manifest.id), submit=False)
    runs.cancel_job(app_ctx, str(job.id))
    with pytest.raises(ConflictError, match="already ended"):
        runs.cancel_job(app_ctx, str(job.id))
    # ERROR "cancelled" starts again only as a re-run.
    with pytest.raises(ConflictError, match="use reprocess"):
        runs.request_run(app_ctx, str(manifest.id), submit=False)
    assert runs.request_run(app_ctx, str(manifest.id), reprocess=True, submit=False).status is JobStatus.QUEUED


def test_a_describer_that_is_not_configured_is_refused_before_anything_changes(
    app_ctx: AppContext, production: list[PhotoIn], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "VIDPIPE_DESCRIBE__GEMINI__API_KEY"):
        monkeypatch.delenv(key, raising=False)
    plain = app_ctx.settings.model_copy()
    with AppContext.open(plain, toolkit=app_ctx.toolkit()) as ctx:  # no describer override: the real chain
        manifest = manifests.create_manifest(ctx, "Keys", production[2:3]).manifest
        with pytest.raises(VidpipeError, match="no describe provider is configured"):
            runs.request_run(ctx, str(manifest.id), describers=["gemini"], submit=False)
        assert manifests.show_manifest(ctx, str(manifest.id)).summary.status is ManifestStatus.DRAFT
        assert runs.list_jobs(ctx, str(manifest.id)) == []


def test_a_too_short_manifest_id_says_so(app_ctx: AppContext, production: list[PhotoIn]) -> None:
    manifest = manifests.create_manifest(app_ctx, "Short", production[2:3]).manifest
    with pytest.raises(VidpipeError, match="too short"):
        manifests.show_manifest(app_ctx, manifest.id.hex[:5])
    assert manifests.show_manifest(app_ctx, manifest.id.hex[:6]).summary.id == manifest.id
