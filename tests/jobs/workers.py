"""Real `vidpipe worker` processes for tests of the dramatiq backend (see `vidpipe.bench.worker_processes`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from vidpipe.bench import worker_processes
from vidpipe.bench.worker_processes import Worker, clear_namespace, distributed_env, start_workers, wait_ready
from vidpipe.settings import Settings

REDIS_URL = os.environ.get("VIDPIPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

__all__ = ["Worker", "clear_namespace", "distributed_env", "distributed_settings", "start_workers", "wait_ready"]


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
