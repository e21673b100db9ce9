"""`vidpipe worker` processes started and watched from Python, for the workers bench and the tests
of the dramatiq backend: each is its own Dramatiq process manager with its worker process(es), on
the caller's database, data folder and Redis namespace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from vidpipe.jobs.distributed import messaging_for
from vidpipe.settings import Settings


def distributed_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a worker process ``settings`` (what a deployment's env would say)."""
    jobs = settings.jobs
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDPIPE_")}
    env.update(
        {
            "VIDPIPE_MODEL_DIR": str(settings.model_dir),
            "VIDPIPE_DATA_DIR": str(settings.data_dir),
            "VIDPIPE_DATABASE_URL": settings.resolved_database_url,
            "VIDPIPE_REDIS_URL": settings.redis_url,
            "VIDPIPE_DESCRIBE__PROVIDERS": ",".join(settings.describe.providers),
            "VIDPIPE_DESCRIBE__OCR": str(settings.describe.ocr).lower(),
            # One inference thread per worker: two workers share these 2 cores.
            "VIDPIPE_RUNTIME__INTRA_OP_THREADS": "1",
            "OMP_NUM_THREADS": "1",
        }
    )
    # Every job setting as it is here (backend, namespace, queues, times, splitting).
    for name, value in jobs.model_dump().items():
        env[f"VIDPIPE_JOBS__{name.upper()}"] = str(value)
    return env


def distributed_settings(base: Settings, data_dir: Path, database_url: str, redis_url: str, **jobs: object) -> Settings:
    """``base`` on the dramatiq backend, with a Redis namespace of its own and short times."""
    times: dict[str, object] = {"lease_seconds": 4.0, "sweep_seconds": 0.5, "resend_after_seconds": 2.0}
    times.update(jobs)
    job_settings = base.jobs.model_copy(
        update={"backend": "dramatiq", "redis_namespace": f"vidpipe-test-{uuid.uuid4().hex[:10]}", **times}
    )
    job_settings = type(job_settings).model_validate(job_settings.model_dump(exclude={"heartbeat_seconds"}))
    describe = base.describe.model_copy(update={"providers": ["offline"]})
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "database_url": database_url,
            "redis_url": redis_url,
            "jobs": job_settings,
            "describe": describe,
        }
    )


class Worker:
    """One `vidpipe worker` command: a Dramatiq manager process and its worker process(es)."""

    def __init__(self, settings: Settings, log: Path, *extra: str) -> None:
        self.log = log
        self.handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vidpipe", "worker", *extra],
            env=distributed_env(settings),
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[int]:
        """The worker processes Dramatiq forked (they run the jobs)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    found.append(int(entry.name))
        return found

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as a service manager stops it; returns its exit code."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait(10)
        self.handle.close()
        return code

    def kill(self) -> None:
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.handle.close()


def start_workers(settings: Settings, folder: Path, count: int, *extra: str, timeout: float = 90) -> list[Worker]:
    """``count`` workers, returned once each has loaded its models and reached the broker."""
    started = [Worker(settings, folder / f"worker-{i}-{uuid.uuid4().hex[:6]}.log", *extra) for i in range(count)]
    wait_ready(started, timeout)
    return started


def wait_ready(workers: list[Worker], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    for worker in workers:
        while "worker ready" not in worker.text():
            if not worker.alive:
                raise AssertionError(f"worker exited with {worker.process.returncode}:\n{worker.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not ready in {timeout} s:\n{worker.text()[-3000:]}")
            time.sleep(0.1)


def clear_namespace(settings: Settings) -> None:
    """Remove every Redis key of the test's namespace."""
    client = messaging_for(settings).client
    keys = list(client.scan_iter(match=f"{settings.jobs.redis_namespace}:*"))
    if keys:
        client.delete(*keys)
