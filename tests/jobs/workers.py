"""Real `vidpipe worker` processes for tests of the dramatiq backend (see `vidpipe.bench.worker_processes`)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from vidpipe.app import AppContext
from vidpipe.bench import worker_processes
from vidpipe.bench.worker_processes import Worker, clear_namespace, distributed_env, start_workers, wait_ready
from vidpipe.domain.enums import JobStatus
from vidpipe.services import runs
from vidpipe.services.views import JobView
from vidpipe.settings import Settings

REDIS_URL = os.environ.get("VIDPIPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

__all__ = [
    "Worker",
    "clear_namespace",
    "distributed_env",
    "distributed_settings",
    "ended",
    "mid_run",
    "start_workers",
    "wait_for",
    "wait_ready",
]


def distributed_settings(base: Settings, data_dir: Path, database_url: str, **jobs: object) -> Settings:
    """``base`` on the dramatiq backend with the test Redis, its own namespace and short times."""
    require_redis()
    return worker_processes.distributed_settings(base, data_dir, database_url, REDIS_URL, **jobs)


def require_redis() -> None:
    """Skip where no Redis answers (a developer's laptop); CI always has one, so fail there."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()


def wait_for(ctx: AppContext, job_id: uuid.UUID, done: Callable[[JobView], bool], timeout: float = 90) -> JobView:
    """The job once ``done`` holds for it; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        job = runs.get_job(ctx, str(job_id))
        if done(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not get there in {timeout} s: {job}")
        time.sleep(0.02)


def mid_run(job: JobView) -> bool:
    return job.status is JobStatus.RUNNING and job.step in ("detect", "people", "embed")


def ended(job: JobView) -> bool:
    return not job.active
