"""The embedded runner: a thread pool in the calling process (the default, no broker needed)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.jobs.execution import execute_job
from vidpipe.jobs.progress import CANCELLED, RELEASED, ProgressSink, StopSignal
from vidpipe.jobs.recovery import recover_stale_jobs

if TYPE_CHECKING:
    from vidpipe.app import AppContext

logger = logging.getLogger(__name__)


class RunHandle:
    """A job running in this process: wait for it, or stop it."""

    def __init__(self, job_id: uuid.UUID, future: Future[bool], stop: StopSignal) -> None:
        self.job_id = job_id
        self.future = future
        self.stop = stop

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job has ended (its outcome is in its row); re-raises what escaped the run."""
        try:
            self.future.result(timeout)
        except TimeoutError:
            return False
        return True

    @property
    def claimed(self) -> bool:
        """Whether this process ran the job (False: another process had claimed it first)."""
        return self.future.result()

    def cancel(self) -> None:
        self.stop.set(CANCELLED)


class EmbeddedRunner:
    """Runs jobs on ``settings.jobs.workers`` threads of this process.

    ``serve()`` makes it a long-lived worker: every ``sweep_seconds`` it recovers stale jobs and picks
    up queued ones, so work queued by short-lived commands (or left by a crashed process) gets done.
    """

    def __init__(self, ctx: AppContext, on_event: Callable[[str, uuid.UUID], None] | None = None) -> None:
        self.ctx = ctx
        # Told "started" and "ended" for each job this runner runs (a worker's log lines).
        self.on_event = on_event
        self.workers = ctx.settings.jobs.workers
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="vidpipe-job")
        self._running: dict[uuid.UUID, RunHandle] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sweeper: threading.Thread | None = None

    def start(self, job_id: uuid.UUID, sink: ProgressSink | None = None) -> RunHandle:
        """Run the job on the pool now; the handle waits for it or stops it."""
        stop = StopSignal()
        future = self._pool.submit(self._execute, job_id, stop, sink)
        handle = RunHandle(job_id, future, stop)
        with self._lock:
            self._running[job_id] = handle
        return handle

    def submit(self, job_id: uuid.UUID) -> None:
        self.start(job_id)

    def cancel(self, job_id: uuid.UUID) -> None:
        with self._lock:
            handle = self._running.get(job_id)
        if handle is not None:
            handle.cancel()

    def running(self) -> list[uuid.UUID]:
        with self._lock:
            return list(self._running)

    def _execute(self, job_id: uuid.UUID, stop: StopSignal, sink: ProgressSink | None) -> bool:
        if self.on_event:
            self.on_event("started", job_id)
        try:
            return execute_job(self.ctx, job_id, stop=stop, sink=sink)
        finally:
            with self._lock:
                self._running.pop(job_id, None)
            if self.on_event:
                self.on_event("ended", job_id)

    # ------------------------------------------------------------------------- long-lived processes

    def sweep(self) -> list[uuid.UUID]:
        """Recover stale jobs, then start queued ones while threads are free; returns those started."""
        recover_stale_jobs(self.ctx.factory, self.ctx.settings.jobs)
        free = self.workers - len(self.running())
        if free <= 0:
            return []
        with self.ctx.factory() as session:
            queued = [
                j
                for j in jobs_repo.queued_job_ids(session, limit=free + len(self.running()))
                if j not in self.running()
            ]
        started = queued[:free]
        for job_id in started:
            self.start(job_id)
        return started

    def serve(self) -> None:
        """Sweep periodically on a daemon thread until ``close``."""

        def loop() -> None:
            while not self._closed.is_set():
                try:
                    self.sweep()
                except Exception as exc:  # a passing database error must not end the worker
                    logger.warning("job sweep failed: %s", exc)
                self._closed.wait(self.ctx.settings.jobs.sweep_seconds)

        self._sweeper = threading.Thread(target=loop, name="vidpipe-sweeper", daemon=True)
        self._sweeper.start()

    def close(self, release: bool = False) -> None:
        """Stop taking work and wait for the running jobs: to finish, or with ``release`` to stop at
        their next checkpoint and go back to the queue for another worker (or a later start)."""
        self._closed.set()
        if release:
            with self._lock:
                handles = list(self._running.values())
            for handle in handles:
                handle.stop.set(RELEASED)
        if self._sweeper is not None:
            self._sweeper.join()
        self._pool.shutdown(wait=True)
