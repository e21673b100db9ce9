"""A big manifest run split across workers: the per-photo work (decode, detection, embeddings, crops)
fans out in parts, and the run fans in once for grouping, planning, describing and the write.

Each part is a job of its own (`manifest.photos`, its target the run's job), so it has its heartbeat,
attempts, recovery and cancellation like any job, and any worker may take it. A part's result is a
list of store keys of its photos' records (`PhotoAnalysis` as JSON, content-addressed), written with
its success. The run waits for its parts, and while parts wait in the queue it runs them itself:
a run never idles on a worker thread that could do its work, and on a single worker the split run
still finishes. A run retried after a crash finds the parts of its earlier attempt and reuses the
finished ones. Cancelling the run cancels its parts.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.domain.enums import ACTIVE_JOB_STATUSES, JobStatus
from vidpipe.errors import VidpipeError
from vidpipe.jobs.handlers import MANIFEST_PHOTOS
from vidpipe.jobs.progress import JobTracker

if TYPE_CHECKING:
    from vidpipe.app import AppContext
    from vidpipe.pipeline.photo_analysis import PhotoAnalysis, PhotoRef

logger = logging.getLogger(__name__)

RECORDS_KIND = "records"
POLL_SECONDS = 0.2


def should_split(ctx: AppContext, photos: int) -> bool:
    jobs = ctx.settings.jobs
    return jobs.backend == "dramatiq" and jobs.split_photos > 0 and photos >= jobs.split_photos


def analyze_part(ctx: AppContext, refs: list[PhotoRef], tracker: JobTracker) -> dict[str, str]:
    """A part's work: each photo analysed and its record stored; upload id → record key."""
    from vidpipe.pipeline.photo_analysis import analyze_photo

    toolkit = ctx.toolkit()
    keys: dict[str, str] = {}
    tracker.set(uploads_total=len(refs), uploads_processed=0)
    tracker.begin("detect")
    for n, ref in enumerate(refs, 1):
        tracker.checkpoint()
        record = analyze_photo(ref, toolkit, ctx.store)
        keys[str(ref.upload_id)] = ctx.store.put_bytes(record.to_json().encode(), kind=RECORDS_KIND, suffix=".json")
        tracker.set(uploads_processed=n)
    return keys


def fan_out(ctx: AppContext, tracker: JobTracker, refs: list[PhotoRef]) -> dict[uuid.UUID, PhotoAnalysis]:
    """Run the per-photo work of ``refs`` as parts on any worker (this one included) and return the
    records by upload id, once every part has succeeded. A part that fails for good fails the run."""
    from vidpipe.pipeline.photo_analysis import PhotoAnalysis

    parent = tracker.job_id
    size = ctx.settings.jobs.split_batch
    batches = [refs[i : i + size] for i in range(0, len(refs), size)]
    with ctx.transaction() as session:
        parts = jobs_repo.parts_of(session, parent, MANIFEST_PHOTOS)
        reusable = [p for p in parts if p.status is JobStatus.SUCCEEDED or p.status in ACTIVE_JOB_STATUSES]
        if len(reusable) != len(batches) or any(
            p.params.get("refs") != [r.as_dict() for r in b] for p, b in zip(reusable, batches, strict=False)
        ):
            # First attempt, or the photos changed since: new parts (old ones, if any, are cancelled).
            for old in parts:
                if old.status in ACTIVE_JOB_STATUSES:
                    jobs_repo.request_cancel(session, old.id)
            reusable = [
                jobs_repo.add_job(
                    session,
                    MANIFEST_PHOTOS,
                    parent,
                    {"refs": [r.as_dict() for r in batch]},
                )
                for batch in batches
            ]
        part_ids = [p.id for p in reusable]
        queued = [p.id for p in reusable if p.status is JobStatus.QUEUED]
    for part_id in queued:
        ctx.job_runner.submit(part_id)
    tracker.set(uploads_total=len(refs), uploads_processed=0, parts=len(part_ids))
    try:
        results = _wait_for_parts(ctx, tracker, part_ids)
    except BaseException:
        with ctx.transaction() as session:
            for part_id in part_ids:
                jobs_repo.request_cancel(session, part_id)
        raise
    records: dict[uuid.UUID, PhotoAnalysis] = {}
    for result in results:
        for upload_id, key in result.items():
            records[uuid.UUID(upload_id)] = PhotoAnalysis.from_json(ctx.store.read_bytes(key))
    return records


def _wait_for_parts(ctx: AppContext, tracker: JobTracker, part_ids: list[uuid.UUID]) -> list[dict[str, str]]:
    from vidpipe.jobs.execution import execute_job

    while True:
        tracker.checkpoint()
        with ctx.factory() as session:
            parts = [jobs_repo.get_job(session, part_id) for part_id in part_ids]
        processed = sum(int((p.progress or {}).get("uploads_processed", 0)) for p in parts if p is not None)
        done = sum(p is not None and p.status is JobStatus.SUCCEEDED for p in parts)
        tracker.set(uploads_processed=processed, parts_done=done)
        for n, part in enumerate(parts, 1):
            if part is None or part.status in (JobStatus.FAILED, JobStatus.CANCELLED):
                reason = "gone" if part is None else (part.error or part.status.value)
                raise VidpipeError(f"part {n} of {len(parts)} of the split run ended without its photos: {reason}")
        if done == len(parts):
            return [dict((p.result or {}).get("records", {})) for p in parts if p is not None]
        waiting = next((p.id for p in parts if p is not None and p.status is JobStatus.QUEUED), None)
        if waiting is not None:
            # Nobody has taken it yet: do it here rather than wait (a parent must not starve its parts).
            execute_job(ctx, waiting)
            continue
        time.sleep(POLL_SECONDS)


def refs_of(params: dict[str, Any]) -> list[PhotoRef]:
    """The photos a part's params name."""
    from vidpipe.pipeline.photo_analysis import PhotoRef

    return [PhotoRef.from_dict(r) for r in params.get("refs", [])]
