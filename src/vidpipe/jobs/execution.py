"""Running one job to its end: claim it, keep it alive, run its handler, record how it ended."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING

from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.domain.enums import JobStatus
from vidpipe.jobs.handlers import handler_for
from vidpipe.jobs.heartbeat import Heartbeat
from vidpipe.jobs.progress import CANCELLED, RELEASED, JobStoppedError, JobTracker, ProgressSink, StopSignal

if TYPE_CHECKING:
    from vidpipe.app import AppContext

logger = logging.getLogger(__name__)


def new_owner() -> str:
    """Names this holder of a job: host, process and a random part (one process may hold several)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def execute_job(
    ctx: AppContext, job_id: uuid.UUID, *, stop: StopSignal | None = None, sink: ProgressSink | None = None
) -> bool:
    """Run the queued job ``job_id`` here. Returns False if another process claimed it first.

    Every way out is recorded: success (with the work's own transaction), failure (with the step and
    reason), cancellation ("cancelled"); and the target is released (a manifest leaves PROCESSING).
    A process killed outright leaves the job RUNNING with a heartbeat that stops: recovery finds it.
    """
    owner = new_owner()
    stop = stop or StopSignal()
    with ctx.transaction() as session:
        if not jobs_repo.claim(session, job_id, owner):
            return False
        job = jobs_repo.get_job(session, job_id)
        assert job is not None and job.target_id is not None
        kind, target_id, params = job.kind, job.target_id, dict(job.params or {})
        cancel_first = job.cancel_requested
    handler = handler_for(kind)
    if cancel_first:
        stop.set(CANCELLED)
    tracker = JobTracker(
        ctx.factory, job_id, owner, stop, sink, cancel_poll_seconds=ctx.settings.jobs.cancel_poll_seconds
    )

    def end(status: JobStatus, message: str) -> None:
        # Only while this process still holds the job: after a takeover the row is someone else's.
        with ctx.transaction() as session:
            if jobs_repo.finish(session, job_id, owner, status, error=message):
                handler.settle(session, target_id, message)

    try:
        with Heartbeat(ctx.factory, job_id, owner, stop, ctx.settings.jobs):
            tracker.checkpoint()
            handler.run(ctx, target_id, params, tracker)
    except JobStoppedError as exc:
        if exc.reason == CANCELLED:
            end(JobStatus.CANCELLED, "cancelled")
        elif exc.reason == RELEASED:
            with ctx.transaction() as session:
                jobs_repo.release(session, job_id, owner)
        else:
            logger.warning("job %s was taken over by another process; this run's work is dropped", job_id)
    except KeyboardInterrupt:
        # A second Ctrl-C in a foreground run: the user wants out now; the run ends as cancelled.
        end(JobStatus.CANCELLED, "cancelled")
        raise
    except BaseException as exc:
        # BaseException: a SystemExit in this thread must still record the end.
        message = handler.failure_message(exc)
        end(JobStatus.FAILED, message)
        if not isinstance(exc, Exception):
            raise
        logger.warning("job %s (%s) failed: %s", job_id, kind, message)
    return True
