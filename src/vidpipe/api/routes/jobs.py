"""/api/jobs: read and cancel background runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from vidpipe.api.deps import get_ctx
from vidpipe.api.progress_cache import progress_cache
from vidpipe.api.schemas import JobOut
from vidpipe.app import AppContext
from vidpipe.services import runs

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
Ctx = Annotated[AppContext, Depends(get_ctx)]


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, ctx: Ctx) -> JobOut:
    return JobOut.of(runs.get_job(ctx, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: str, ctx: Ctx) -> JobOut:
    """Stop a job: a queued one at once, a running one at its next checkpoint (about a second)."""
    job = runs.cancel_job(ctx, job_id)
    progress_cache.forget(str(job.target_id) if job.target_id else None)
    return JobOut.of(job)
