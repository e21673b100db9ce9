"""The contract every job runner keeps, run against each runner (the embedded thread pool today;
the distributed runner later runs the same tests). Real runs: real photos, models and databases."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from tests.jobs.workers import Worker, clear_namespace, distributed_settings, ended, mid_run, start_workers, wait_for

from vidpipe.app import AppContext
from vidpipe.db.models import Job
from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.describe.describers.offline import OfflineDescriber
from vidpipe.domain.enums import JobStatus, ManifestStatus
from vidpipe.jobs.recovery import recover_stale_jobs
from vidpipe.jobs.runner import JobRunner
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.slow]


class Harness:
    """A runner under test, the context its jobs are requested through, and what only the test
    needs to do to it (see what runs, stop its workers)."""

    def __init__(self, ctx: AppContext, workers: list[Worker] | None = None) -> None:
        self.ctx = ctx
        self.runner: JobRunner = ctx.job_runner
        self.workers = workers

    def idle(self) -> bool:
        """Nothing runs any more in the runner's own threads or processes."""
        if self.workers is None:
            return self.ctx.runner.running() == []
        return all(not jobs_repo_running_in(self.ctx, w) for w in self.workers)

    def stop_releasing(self) -> None:
        """Stop the runner as its process manager would; running jobs go back to the queue."""
        if self.workers is None:
            self.ctx.runner.close(release=True)
        else:
            for worker in self.workers:
                assert worker.stop() == 0, worker.text()[-2000:]


def jobs_repo_running_in(ctx: AppContext, worker: Worker) -> bool:
    pids = {str(pid) for pid in worker.children()}
    with ctx.factory() as session:
        owners = [j.owner or "" for j in jobs_repo.list_jobs(session) if j.status is JobStatus.RUNNING]
    return any(owner.split(":")[1] in pids for owner in owners if owner.count(":") == 2)


@pytest.fixture(params=["embedded-sqlite", "embedded-postgresql", "dramatiq"])
def h(request: pytest.FixtureRequest, tmp_path: Path, toolkit: VisionToolkit, settings: Settings) -> Iterator[Harness]:
    """Each runner: the embedded thread pool (on SQLite and on PostgreSQL) and the dramatiq backend
    (real Redis, a real `vidpipe worker` process, PostgreSQL)."""
    describer = OfflineDescriber(classifier=toolkit.classifier)
    if request.param == "embedded-sqlite":
        database_url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        database_url = request.getfixturevalue("postgres_url")
    if request.param.startswith("embedded"):
        here = settings.model_copy(update={"data_dir": tmp_path / "data", "database_url": database_url})
        with AppContext.open(here, toolkit=toolkit, describer=describer) as ctx:
            yield Harness(ctx)
        return
    here = distributed_settings(settings, tmp_path / "data", database_url, resend_after_seconds=60.0)
    with AppContext.open(here, toolkit=toolkit, describer=describer) as ctx:
        workers = start_workers(here, tmp_path, 1)
        try:
            yield Harness(ctx, workers)
        finally:
            for worker in workers:
                worker.kill()
            clear_namespace(here)


def _snapshot(ctx: AppContext, manifest_id: uuid.UUID) -> list[tuple[uuid.UUID, str | None, str, int]]:
    view = manifests.show_manifest(ctx, str(manifest_id))
    return sorted((a.id, a.tag, a.name, len(a.references)) for a in view.assets)


def test_a_submitted_job_runs_to_success(h: Harness, production: list[PhotoIn]) -> None:
    manifest = manifests.create_manifest(h.ctx, "Contract", production[2:4]).manifest
    job = runs.request_run(h.ctx, str(manifest.id), submit=False)
    assert job.status is JobStatus.QUEUED and job.attempts == 0
    h.runner.submit(job.id)
    finished = wait_for(h.ctx, job.id, ended)
    assert finished.status is JobStatus.SUCCEEDED and finished.attempts == 1 and finished.step == "done"
    assert finished.progress["uploads_processed"] == 2
    view = manifests.show_manifest(h.ctx, str(manifest.id))
    assert view.summary.status is ManifestStatus.READY and len(view.assets) >= 2


def test_cancelling_a_running_job_stops_it_within_a_second_and_keeps_the_registry(
    h: Harness, production: list[PhotoIn]
) -> None:
    manifest = manifests.create_manifest(h.ctx, "Contract", production).manifest
    runs.process_manifest(h.ctx, str(manifest.id))
    before = _snapshot(h.ctx, manifest.id)

    job = runs.request_run(h.ctx, str(manifest.id), reprocess=True)  # submitted to the runner
    wait_for(h.ctx, job.id, mid_run)
    asked = time.monotonic()
    runs.cancel_job(h.ctx, str(job.id))
    stopped = wait_for(h.ctx, job.id, ended, timeout=10)
    took = time.monotonic() - asked

    assert stopped.status is JobStatus.CANCELLED and stopped.error == "cancelled"
    assert took < 1.5, f"the run took {took:.2f} s to stop"
    view = manifests.show_manifest(h.ctx, str(manifest.id))
    assert view.summary.status is ManifestStatus.ERROR and view.summary.error == "cancelled"
    assert _snapshot(h.ctx, manifest.id) == before
    # The manifest can be run again afterwards.
    again = runs.process_manifest(h.ctx, str(manifest.id), reprocess=True)
    assert again.status is JobStatus.SUCCEEDED and _snapshot(h.ctx, manifest.id) == before


def test_a_cancel_from_another_process_reaches_the_run(h: Harness, production: list[PhotoIn]) -> None:
    manifest = manifests.create_manifest(h.ctx, "Contract", production).manifest
    job = runs.request_run(h.ctx, str(manifest.id))
    wait_for(h.ctx, job.id, mid_run)
    # Another process knows the job only by its row: it can only set the cancel flag.
    with AppContext.open(h.ctx.settings, toolkit=h.ctx.toolkit()) as other, other.transaction() as session:
        assert jobs_repo.request_cancel(session, job.id)
    asked = time.monotonic()
    stopped = wait_for(h.ctx, job.id, ended, timeout=10)
    assert stopped.status is JobStatus.CANCELLED and time.monotonic() - asked < 1.5
    assert manifests.show_manifest(h.ctx, str(manifest.id)).summary.error == "cancelled"


def test_a_queued_job_is_cancelled_at_once(h: Harness, production: list[PhotoIn]) -> None:
    manifest = manifests.create_manifest(h.ctx, "Contract", production[2:3]).manifest
    job = runs.request_run(h.ctx, str(manifest.id), submit=False)
    cancelled = runs.cancel_job(h.ctx, str(job.id))
    assert cancelled.status is JobStatus.CANCELLED
    view = manifests.show_manifest(h.ctx, str(manifest.id))
    assert view.summary.status is ManifestStatus.ERROR and view.summary.error == "cancelled"
    h.runner.submit(job.id)  # a cancelled job is never run
    time.sleep(0.5)
    assert runs.get_job(h.ctx, str(job.id)).attempts == 0


def test_a_run_taken_over_after_its_lease_does_not_write(h: Harness, production: list[PhotoIn]) -> None:
    """If a live process is wrongly thought dead (a very long pause), its run must not write the
    registry beside the retry: ownership is checked in the write transaction."""
    manifest = manifests.create_manifest(h.ctx, "Contract", production).manifest
    job = runs.request_run(h.ctx, str(manifest.id))
    wait_for(h.ctx, job.id, mid_run)
    with h.ctx.transaction() as session:  # its heartbeat looks 10 minutes old...
        session.execute(
            update(Job).where(Job.id == job.id).values(heartbeat_at=jobs_repo.now() - timedelta(minutes=10))
        )
    (recovered,) = recover_stale_jobs(h.ctx.factory, h.ctx.settings.jobs)  # ...so it is queued again
    assert recovered.action == "requeued"
    time.sleep(2.0)  # the first run notices it lost the job at its next progress write or heartbeat
    assert h.idle()
    assert runs.get_job(h.ctx, str(job.id)).status is JobStatus.QUEUED
    assert manifests.show_manifest(h.ctx, str(manifest.id)).assets == ()
    retried = runs.process_manifest(h.ctx, str(manifest.id))
    assert retried.id == job.id and retried.status is JobStatus.SUCCEEDED and retried.attempts == 2


def test_a_stopping_runner_hands_its_running_jobs_back_to_the_queue(h: Harness, production: list[PhotoIn]) -> None:
    """A worker restart must not throw durable work away: its runs go back to the queue, uncounted."""
    manifest = manifests.create_manifest(h.ctx, "Contract", production).manifest
    job = runs.request_run(h.ctx, str(manifest.id))
    wait_for(h.ctx, job.id, mid_run)
    h.stop_releasing()
    back = runs.get_job(h.ctx, str(job.id))
    assert back.status is JobStatus.QUEUED and back.attempts == 0 and "released" in (back.error or "")
    assert manifests.show_manifest(h.ctx, str(manifest.id)).summary.status is ManifestStatus.PROCESSING
    # The next `process` (or worker) runs that same job.
    with AppContext.open(h.ctx.settings, toolkit=h.ctx.toolkit()) as other:
        finished = runs.process_manifest(other, str(manifest.id))
    assert finished.id == job.id and finished.status is JobStatus.SUCCEEDED and finished.attempts == 1
