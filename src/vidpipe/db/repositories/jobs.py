"""Queries on the jobs table. Every state change is a conditional UPDATE, so that two processes
racing for one job (a claim, a heartbeat, a recovery) never both win."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Update, or_, select, update
from sqlalchemy.orm import Session

from vidpipe.db.models import Job
from vidpipe.domain.enums import ACTIVE_JOB_STATUSES, JobStatus


def now() -> datetime:
    return datetime.now(UTC)


def _changed(session: Session, statement: Update) -> bool:
    return cast(CursorResult[Any], session.execute(statement)).rowcount == 1


def add_job(session: Session, kind: str, target_id: uuid.UUID, params: dict[str, Any]) -> Job:
    job = Job(kind=kind, target_id=target_id, status=JobStatus.QUEUED, params=params, progress={}, attempts=0)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: uuid.UUID) -> Job | None:
    return session.get(Job, job_id)


def job_ids_starting_with(session: Session, prefix: str) -> list[uuid.UUID]:
    text = prefix.lower().replace("-", "")
    # UUIDs are 32 hex digits on SQLite and native uuid on PostgreSQL, so compare in Python.
    return [i for i in session.scalars(select(Job.id)) if i.hex.startswith(text)]


def list_jobs(session: Session, target_id: uuid.UUID | None = None, limit: int = 100) -> list[Job]:
    query = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if target_id is not None:
        query = query.where(Job.target_id == target_id)
    return list(session.scalars(query))


def active_job_for(session: Session, target_id: uuid.UUID) -> Job | None:
    """The newest job that may still change ``target_id`` (queued or running), if any."""
    return session.scalar(
        select(Job)
        .where(Job.target_id == target_id, Job.status.in_(ACTIVE_JOB_STATUSES))
        .order_by(Job.created_at.desc())
        .limit(1)
    )


def queued_job_ids(session: Session, limit: int) -> list[uuid.UUID]:
    return list(
        session.scalars(select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.created_at).limit(limit))
    )


def queued_jobs_waiting(session: Session, seconds: float) -> list[tuple[uuid.UUID, str]]:
    """(id, kind) of jobs QUEUED and unchanged for ``seconds`` or more, oldest first."""
    cutoff = now() - timedelta(seconds=seconds)
    rows = session.execute(
        select(Job.id, Job.kind)
        .where(Job.status == JobStatus.QUEUED, Job.updated_at <= cutoff)
        .order_by(Job.created_at)
    )
    return [(row.id, row.kind) for row in rows]


def parts_of(session: Session, parent_id: uuid.UUID, kind: str) -> list[Job]:
    """The parts a split job fanned out (jobs of ``kind`` whose target is the parent job), in order."""
    return list(
        session.scalars(
            select(Job).where(Job.target_id == parent_id, Job.kind == kind).order_by(Job.created_at, Job.id)
        )
    )


def set_result(session: Session, job_id: uuid.UUID, owner: str, result: dict[str, Any]) -> bool:
    """What a job hands on, written while ``owner`` still holds it (in its success transaction)."""
    return _changed(session, update(Job).where(_owned(job_id, owner)).values(result=result))


def kind_of(session: Session, job_id: uuid.UUID) -> str | None:
    return session.scalar(select(Job.kind).where(Job.id == job_id))


def claim(session: Session, job_id: uuid.UUID, owner: str) -> bool:
    """QUEUED → RUNNING for ``owner``, counting one more attempt; False if someone else got it."""
    stamp = now()
    return _changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            owner=owner,
            attempts=Job.attempts + 1,
            heartbeat_at=stamp,
            started_at=stamp,
            finished_at=None,
            error=None,
            updated_at=stamp,
        ),
    )


def _owned(job_id: uuid.UUID, owner: str) -> Any:
    return (Job.id == job_id) & (Job.status == JobStatus.RUNNING) & (Job.owner == owner)


def beat(session: Session, job_id: uuid.UUID, owner: str) -> bool:
    """Write the heartbeat; False if the job is no longer ours (recovered, cancelled, finished)."""
    return _changed(session, update(Job).where(_owned(job_id, owner)).values(heartbeat_at=now()))


def cancel_requested(session: Session, job_id: uuid.UUID) -> bool:
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def report_progress(
    session: Session,
    job_id: uuid.UUID,
    owner: str,
    step: str,
    counters: dict[str, int],
    found: list[dict[str, str]] | None = None,
) -> bool:
    values: dict[str, Any] = {"current_step": step, "progress": dict(counters), "heartbeat_at": now()}
    if found is not None:
        values["found"] = list(found)
    return _changed(session, update(Job).where(_owned(job_id, owner)).values(**values, updated_at=now()))


def finish(
    session: Session,
    job_id: uuid.UUID,
    owner: str,
    status: JobStatus,
    *,
    error: str | None = None,
    step: str | None = None,
) -> bool:
    """RUNNING (held by ``owner``) → a final status; False if the job was no longer ours."""
    values: dict[str, Any] = {"status": status, "error": error, "finished_at": now(), "updated_at": now()}
    if step is not None:
        values["current_step"] = step
    return _changed(session, update(Job).where(_owned(job_id, owner)).values(**values))


def release(session: Session, job_id: uuid.UUID, owner: str) -> bool:
    """RUNNING (held by ``owner``) back to QUEUED: a worker shutting down hands the job on. The
    attempt is not counted: nothing went wrong with the job."""
    return _changed(
        session,
        update(Job)
        .where(_owned(job_id, owner))
        .values(
            status=JobStatus.QUEUED,
            owner=None,
            attempts=Job.attempts - 1,
            error="released by a stopping worker; queued again",
            updated_at=now(),
        ),
    )


def request_cancel(session: Session, job_id: uuid.UUID) -> bool:
    return _changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB_STATUSES))
        .values(cancel_requested=True, updated_at=now()),
    )


def close_unowned(
    session: Session, job_id: uuid.UUID, from_statuses: Sequence[JobStatus], status: JobStatus, error: str
) -> bool:
    """A final status for a job nobody runs (queued, or running in a dead process)."""
    return _changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.status.in_(from_statuses))
        .values(status=status, error=error, finished_at=now(), updated_at=now()),
    )


def _stale(lease_seconds: float) -> Any:
    """RUNNING with a heartbeat older than the lease (or, for rows from before heartbeats, no
    heartbeat and no change for that long)."""
    cutoff = now() - timedelta(seconds=lease_seconds)
    return (Job.status == JobStatus.RUNNING) & or_(
        Job.heartbeat_at < cutoff, Job.heartbeat_at.is_(None) & (Job.updated_at < cutoff)
    )


def stale_jobs(session: Session, lease_seconds: float) -> list[Job]:
    """Running jobs whose process stopped proving it is alive."""
    return list(session.scalars(select(Job).where(_stale(lease_seconds))))


def requeue_stale(session: Session, job_id: uuid.UUID, lease_seconds: float) -> bool:
    """A stale job back to QUEUED, if it is still stale (its owner may have come back meanwhile) and
    nobody asked to cancel it."""
    return _changed(
        session,
        update(Job)
        .where(Job.id == job_id, _stale(lease_seconds), Job.cancel_requested.is_(False))
        .values(status=JobStatus.QUEUED, owner=None, error="interrupted; queued again", updated_at=now()),
    )


def end_stale(session: Session, job_id: uuid.UUID, lease_seconds: float, status: JobStatus, error: str) -> bool:
    """A stale job ends (FAILED out of attempts, CANCELLED when asked to), if it is still stale."""
    return _changed(
        session,
        update(Job)
        .where(Job.id == job_id, _stale(lease_seconds))
        .values(status=status, owner=None, error=error, finished_at=now(), updated_at=now()),
    )
