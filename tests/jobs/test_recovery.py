"""Recovery of work whose process died: stale jobs queued again or failed, orphaned manifests released."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from vidpipe.app import AppContext
from vidpipe.db.models import Job, Manifest
from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.domain.enums import JobStatus, ManifestStatus
from vidpipe.jobs.recovery import recover_stale_jobs
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs
from vidpipe.settings import JobSettings

pytestmark = [pytest.mark.data]


def _queued_run(ctx: AppContext, photos: list[PhotoIn]) -> tuple[uuid.UUID, uuid.UUID]:
    manifest = manifests.create_manifest(ctx, "Recovery", photos).manifest
    job = runs.request_run(ctx, str(manifest.id), submit=False)
    return manifest.id, job.id


def _running_in_a_dead_process(ctx: AppContext, job_id: uuid.UUID, heartbeat_age_seconds: float) -> None:
    """What a process killed mid-run leaves behind: a RUNNING job whose heartbeat stopped."""
    with ctx.transaction() as session:
        assert jobs_repo.claim(session, job_id, "host:4242:dead")
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(heartbeat_at=jobs_repo.now() - timedelta(seconds=heartbeat_age_seconds))
        )


def _state(ctx: AppContext, manifest_id: uuid.UUID, job_id: uuid.UUID) -> tuple[JobStatus, ManifestStatus, str | None]:
    with ctx.factory() as session:
        job = session.get(Job, job_id)
        manifest = session.get(Manifest, manifest_id)
        assert job is not None and manifest is not None
        return job.status, manifest.status, manifest.error


def test_a_stale_job_is_queued_again_and_a_live_one_is_left_alone(
    app_ctx: AppContext, production: list[PhotoIn]
) -> None:
    jobs = JobSettings(lease_seconds=30, heartbeat_seconds=5, max_attempts=3)
    stale_manifest, stale_job = _queued_run(app_ctx, production[2:3])
    live_manifest, live_job = _queued_run(app_ctx, production[3:4])
    _running_in_a_dead_process(app_ctx, stale_job, heartbeat_age_seconds=31)
    _running_in_a_dead_process(app_ctx, live_job, heartbeat_age_seconds=10)

    done = recover_stale_jobs(app_ctx.factory, jobs)

    assert [(r.job_id, r.action) for r in done] == [(stale_job, "requeued")]
    assert _state(app_ctx, stale_manifest, stale_job)[:2] == (JobStatus.QUEUED, ManifestStatus.PROCESSING)
    assert _state(app_ctx, live_manifest, live_job)[:2] == (JobStatus.RUNNING, ManifestStatus.PROCESSING)
    # A second sweep finds nothing more to do.
    assert recover_stale_jobs(app_ctx.factory, jobs) == []


def test_a_job_out_of_attempts_fails_as_interrupted_and_releases_its_manifest(
    app_ctx: AppContext, production: list[PhotoIn]
) -> None:
    jobs = JobSettings(lease_seconds=30, heartbeat_seconds=5, max_attempts=1)
    manifest_id, job_id = _queued_run(app_ctx, production[2:3])
    _running_in_a_dead_process(app_ctx, job_id, heartbeat_age_seconds=60)

    (done,) = recover_stale_jobs(app_ctx.factory, jobs)

    assert done.action == "failed"
    status, manifest_status, error = _state(app_ctx, manifest_id, job_id)
    assert status is JobStatus.FAILED and manifest_status is ManifestStatus.ERROR
    assert error is not None and error.startswith("interrupted")
    assert "interrupted" in (runs.get_job(app_ctx, str(job_id)).error or "")


def test_a_processing_manifest_without_a_job_is_released(app_ctx: AppContext, production: list[PhotoIn]) -> None:
    # What a run of an older vidpipe, killed mid-run, left behind: PROCESSING and no live job.
    manifest = manifests.create_manifest(app_ctx, "Legacy", production[2:3]).manifest
    with app_ctx.transaction() as session:
        session.execute(update(Manifest).where(Manifest.id == manifest.id).values(status=ManifestStatus.PROCESSING))

    (done,) = recover_stale_jobs(app_ctx.factory, app_ctx.settings.jobs)

    assert done.action == "orphan" and done.target_id == manifest.id
    view = manifests.show_manifest(app_ctx, str(manifest.id))
    assert view.summary.status is ManifestStatus.ERROR and view.summary.error == "interrupted"


def test_opening_the_registry_recovers(app_ctx: AppContext, production: list[PhotoIn]) -> None:
    manifest_id, job_id = _queued_run(app_ctx, production[2:3])
    _running_in_a_dead_process(app_ctx, job_id, heartbeat_age_seconds=app_ctx.settings.jobs.lease_seconds + 1)

    with AppContext.open(app_ctx.settings, toolkit=app_ctx.toolkit()) as other:
        assert [(r.job_id, r.action) for r in other.recovered] == [(job_id, "requeued")]
    # A short-lived process does not run it: it waits in the queue for `process` or a worker.
    assert _state(app_ctx, manifest_id, job_id)[0] is JobStatus.QUEUED


def test_a_cancel_asked_of_a_dead_run_is_carried_out_by_recovery(
    app_ctx: AppContext, production: list[PhotoIn]
) -> None:
    """`jobs cancel` right after a kill -9: the flag cannot reach the dead process, so recovery ends
    the job as cancelled instead of queueing it again."""
    manifest_id, job_id = _queued_run(app_ctx, production[2:3])
    _running_in_a_dead_process(app_ctx, job_id, heartbeat_age_seconds=1)
    assert runs.cancel_job(app_ctx, str(job_id)).status is JobStatus.RUNNING  # still within its lease
    with app_ctx.transaction() as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(heartbeat_at=jobs_repo.now() - timedelta(seconds=60))
        )

    (done,) = recover_stale_jobs(app_ctx.factory, JobSettings(lease_seconds=30, heartbeat_seconds=5))

    assert done.action == "cancelled"
    assert _state(app_ctx, manifest_id, job_id) == (JobStatus.CANCELLED, ManifestStatus.ERROR, "cancelled")
