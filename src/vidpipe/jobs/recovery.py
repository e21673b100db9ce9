"""Finding work that lost its process, and putting it right.

A running job proves it is alive by its heartbeat. One whose heartbeat is older than the lease was
interrupted (its process was killed, its machine died): it is queued again while it has attempts
left, else it fails with the reason "interrupted". Its steps are idempotent and the registry is only
written at the very end, so a retry starts cleanly and the previous registry is still intact.
A manifest left PROCESSING with no job that could still finish it is set to ERROR.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.db.repositories import manifests as manifests_repo
from vidpipe.domain.enums import JobStatus, ManifestStatus
from vidpipe.jobs.handlers import handler_for
from vidpipe.settings import JobSettings

logger = logging.getLogger(__name__)

INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Recovery:
    job_id: uuid.UUID | None
    target_id: uuid.UUID | None
    action: str  # "requeued", "failed", "cancelled" or "orphan" (a PROCESSING manifest without a job)
    attempts: int = 0


def recover_stale_jobs(factory: sessionmaker[Session], settings: JobSettings) -> list[Recovery]:
    """Requeue or fail every stale job, and release manifests no job will finish; returns what was done."""
    done: list[Recovery] = []
    with factory() as session:
        stale = [
            (j.id, j.kind, j.target_id, j.attempts, j.cancel_requested)
            for j in jobs_repo.stale_jobs(session, settings.lease_seconds)
        ]
    for job_id, kind, target_id, attempts, cancelled in stale:
        with factory() as session, session.begin():
            if not cancelled and attempts < settings.max_attempts:
                if jobs_repo.requeue_stale(session, job_id, settings.lease_seconds):
                    done.append(Recovery(job_id, target_id, "requeued", attempts))
                continue
            # A cancel asked for while its process was already dead is carried out now.
            status = JobStatus.CANCELLED if cancelled else JobStatus.FAILED
            message = (
                "cancelled"
                if cancelled
                else f"{INTERRUPTED} (no heartbeat for {settings.lease_seconds:g} s, {attempts} attempt(s) made)"
            )
            if jobs_repo.end_stale(session, job_id, settings.lease_seconds, status, message):
                if target_id is not None:
                    handler_for(kind).settle(session, target_id, message)
                done.append(Recovery(job_id, target_id, "cancelled" if cancelled else "failed", attempts))
    with factory() as session, session.begin():
        for manifest_id in manifests_repo.processing_manifest_ids(session):
            if jobs_repo.active_job_for(session, manifest_id) is None:
                manifests_repo.move_status(
                    session, manifest_id, (ManifestStatus.PROCESSING,), ManifestStatus.ERROR, INTERRUPTED
                )
                done.append(Recovery(None, manifest_id, "orphan"))
    for item in done:
        logger.info("recovered job %s (target %s): %s", item.job_id, item.target_id, item.action)
    return done
