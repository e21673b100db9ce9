"""Manifesting runs as durable jobs: request one, run it here and now, read its progress."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from vidpipe.app import AppContext
from vidpipe.db.models import Job
from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.db.repositories import manifests as manifests_repo
from vidpipe.domain.enums import JobStatus, ManifestStatus
from vidpipe.errors import ConflictError, NotFoundError, VidpipeError
from vidpipe.jobs.execution import execute_job
from vidpipe.jobs.handlers import MANIFEST_PROCESS, handler_for
from vidpipe.jobs.progress import ProgressSink, StopSignal
from vidpipe.services.views import JobView
from vidpipe.settings import DESCRIBE_PROVIDERS


class ManifestBusyError(ConflictError):
    """Another process is running this manifest right now."""


def _check_providers(describers: list[str] | None) -> None:
    unknown = [d for d in describers or [] if d not in DESCRIBE_PROVIDERS]
    if unknown:
        raise VidpipeError(f"unknown describer(s) {unknown}: expected some of {list(DESCRIBE_PROVIDERS)}")


def request_run(
    ctx: AppContext,
    ref: str,
    *,
    reprocess: bool = False,
    describers: list[str] | None = None,
    force_describe: bool = False,
    submit: bool = True,
) -> JobView:
    """Queue a manifesting run: the manifest goes to PROCESSING and its job row is created in the
    same transaction; after commit the job is handed to the runner (unless ``submit`` is False, for
    a caller that runs it in the foreground).

    A manifest whose run already waits in the queue (re-queued after a crash, say) gets that job
    back instead of a second one. Only a DRAFT manifest starts; ``reprocess`` runs a READY or ERROR
    one again; a manifest with no photo is not processed.
    """
    _check_providers(describers)
    # Build the describers now, so that one not configured (no key, say) is refused before the
    # manifest changes state, not as a failed run.
    ctx.describer(describers, force=force_describe)
    with ctx.transaction() as session:
        manifest_id = manifests_repo.manifest_id_from_ref(session, ref)
        active = jobs_repo.active_job_for(session, manifest_id)
        if active is not None and active.status is JobStatus.QUEUED:
            job = active
        elif active is not None:
            age = JobView.of(active).heartbeat_age_seconds()
            raise ManifestBusyError(
                f"manifest {manifest_id} is already being processed by another run (job {active.id}, "
                f"step {active.current_step or '-'}, last heartbeat {age or 0:.0f} s ago); if that process died, "
                f"the run is recovered once its heartbeat is {ctx.settings.jobs.lease_seconds:g} s old"
            )
        else:
            manifest = manifests_repo.get_manifest(session, manifest_id)
            if manifest.upload_count == 0:
                raise VidpipeError(
                    f"manifest {manifest.name!r} ({manifest_id}) has no photos to process; "
                    "add some with `vidpipe manifest add`"
                )
            allowed = (ManifestStatus.DRAFT,) + ((ManifestStatus.READY, ManifestStatus.ERROR) if reprocess else ())
            if not manifests_repo.move_status(session, manifest_id, allowed, ManifestStatus.PROCESSING):
                session.refresh(manifest)
                status = manifest.status
                if status is ManifestStatus.PROCESSING:
                    raise ManifestBusyError(f"manifest {manifest_id} is already being processed by another run")
                raise ConflictError(
                    f"manifest {manifest_id} is {status.value}; only a DRAFT manifest starts, "
                    "use reprocess to run it again"
                )
            params = {"reprocess": reprocess, "describers": describers, "force_describe": force_describe}
            job = jobs_repo.add_job(session, MANIFEST_PROCESS, manifest_id, params)
        view = JobView.of(job)
    if submit:
        ctx.job_runner.submit(view.id)
    return view


def run_here(
    ctx: AppContext, job: JobView, *, sink: ProgressSink | None = None, stop: StopSignal | None = None
) -> JobView:
    """Run a queued job in the calling thread to its end and return it (see its status).

    Foreground runs use the caller's thread rather than the pool: the models run measurably faster
    on a process's main thread (glibc serves its allocations from the main arena), and a signal
    handler can stop the run through ``stop`` at its next checkpoint. Raises `ManifestBusyError`
    if another process claimed the job first.
    """
    if not execute_job(ctx, job.id, stop=stop, sink=sink):
        raise ManifestBusyError(f"manifest {job.target_id} is already being processed by another run (job {job.id})")
    return get_job(ctx, str(job.id))


def process_manifest(
    ctx: AppContext,
    ref: str,
    *,
    reprocess: bool = False,
    describers: list[str] | None = None,
    force_describe: bool = False,
    sink: ProgressSink | None = None,
    stop: StopSignal | None = None,
) -> JobView:
    """Request a run and run it here to its end; returns the finished job (see its status)."""
    job = request_run(ctx, ref, reprocess=reprocess, describers=describers, force_describe=force_describe, submit=False)
    return run_here(ctx, job, sink=sink, stop=stop)


def get_job(ctx: AppContext, ref: str) -> JobView:
    with ctx.factory() as session:
        return JobView.of(_find_job(session, ref))


def _find_job(session: Session, ref: str) -> Job:
    try:
        job = jobs_repo.get_job(session, uuid.UUID(ref))
    except ValueError:
        matches = jobs_repo.job_ids_starting_with(session, ref) if len(ref) >= 6 else []
        if len(matches) > 1:
            raise VidpipeError(f"job id {ref!r} is ambiguous: {len(matches)} jobs start with it") from None
        job = jobs_repo.get_job(session, matches[0]) if matches else None
    if job is None:
        raise NotFoundError(f"no job with id {ref!r} (see `vidpipe jobs list`)")
    return job


def list_jobs(ctx: AppContext, manifest_ref: str | None = None, limit: int = 100) -> list[JobView]:
    with ctx.factory() as session:
        target = manifests_repo.manifest_id_from_ref(session, manifest_ref) if manifest_ref else None
        return [JobView.of(j) for j in jobs_repo.list_jobs(session, target, limit)]


def cancel_job(ctx: AppContext, ref: str) -> JobView:
    """Stop a job: a queued one ends at once; a running one stops at its next checkpoint (within
    about a second), wherever it runs; one whose process died is closed now. The target is
    released with the reason "cancelled" and the previous registry stays as it was."""
    with ctx.transaction() as session:
        job = _find_job(session, ref)
        view = JobView.of(job)
        if not view.active:
            raise ConflictError(f"job {job.id} has already ended ({job.status.value}); nothing to cancel")
        age = view.heartbeat_age_seconds(datetime.now(UTC))
        dead = view.status is JobStatus.RUNNING and (age is None or age > ctx.settings.jobs.lease_seconds)
        if view.status is JobStatus.QUEUED or dead:
            froms = (JobStatus.QUEUED,) if view.status is JobStatus.QUEUED else (JobStatus.RUNNING,)
            if jobs_repo.close_unowned(session, job.id, froms, JobStatus.CANCELLED, "cancelled") and job.target_id:
                handler_for(job.kind).settle(session, job.target_id, "cancelled")
        else:
            jobs_repo.request_cancel(session, job.id)
    ctx.job_runner.cancel(view.id)  # at once if it runs in this process; else the run reads the flag
    return get_job(ctx, str(view.id))


@dataclass(frozen=True)
class StepProgress:
    name: str
    state: str  # "pending", "running", "done" or "failed"
    seconds: float | None


@dataclass(frozen=True)
class ProgressView:
    """Where a manifest's processing stands, for a progress bar or an event stream."""

    manifest_id: uuid.UUID
    status: ManifestStatus
    step: str | None
    counters: dict[str, int]
    steps: tuple[StepProgress, ...]
    error: str | None
    job: JobView | None

    @property
    def finished(self) -> bool:
        return self.status in (ManifestStatus.READY, ManifestStatus.ERROR)


def progress(ctx: AppContext, ref: str) -> ProgressView:
    """The manifest's status with its current (or last) run's step, counters and per-step times."""
    from vidpipe.pipeline.manifesting import STEPS

    # Polled often while a run goes on: the manifest row and one job row, nothing else.
    with ctx.factory() as session:
        manifest_id = manifests_repo.manifest_id_from_ref(session, ref)
        manifest = manifests_repo.get_manifest(session, manifest_id)
        active = jobs_repo.active_job_for(session, manifest_id)
        latest = active or next(iter(jobs_repo.list_jobs(session, manifest_id, limit=1)), None)
        job = JobView.of(latest) if latest is not None else None
        status, error, stats = manifest.status, manifest.error, dict(manifest.stats or {})
    counters = {k: v for k, v in (job.progress if job else {}).items() if not k.startswith("ms_")}
    timings = {k[3:]: v / 1000 for k, v in (job.progress if job else {}).items() if k.startswith("ms_")}
    timings.update(stats.get("seconds", {}) if status is ManifestStatus.READY else {})
    current = job.step if job is not None else None
    steps = []
    seen_current = False
    for name in STEPS:
        if status is ManifestStatus.READY and job is not None and job.status is JobStatus.SUCCEEDED:
            state = "done"
        elif name == current and job is not None and job.active:
            state, seen_current = "running", True
        elif name == current and job is not None and job.status is JobStatus.FAILED:
            state, seen_current = "failed", True
        elif name in timings and not seen_current:
            state = "done"
        else:
            state = "pending"
        steps.append(StepProgress(name, state, timings.get(name)))
    return ProgressView(manifest_id, status, current, counters, tuple(steps), error, job)
