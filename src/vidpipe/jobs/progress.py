"""A running job's side of the conversation: progress out, "stop now?" in."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.domain.enums import JobStatus
from vidpipe.errors import CancelledError

ProgressSink = Callable[[str, dict[str, int]], None]

FOUND_KEPT = 24  # views a job row keeps for the processing page (the newest)

CANCELLED = "cancelled"
LOST = "lost"  # the job was taken over (recovered as stale) while this process still ran it
RELEASED = "released"  # a stopping worker hands the job back to the queue
STOP_MESSAGES = {
    CANCELLED: "cancelled",
    LOST: "the job was taken over by another process",
    RELEASED: "the worker stopped; the job is queued again",
}


class JobStoppedError(CancelledError):
    """The run must stop: the user cancelled it, or another process now owns the job."""

    def __init__(self, reason: str) -> None:
        super().__init__(STOP_MESSAGES.get(reason, reason))
        self.reason = reason


class StopSignal:
    """Why a job must stop, set from any thread (signal handler, heartbeat, another runner call)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def set(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


class JobTracker:
    """Writes the run's step and counters to its job row (at most every ``interval`` seconds) and
    raises `JobStoppedError` at each checkpoint once a stop was asked for.

    A cancel asked for in this process (Ctrl-C, the runner) is seen at the next checkpoint; one
    asked for in another process is read from the row at a checkpoint, at most every
    ``cancel_poll_seconds``. Polling at checkpoints rather than on a timer costs nothing between
    them, and a run can only stop at a checkpoint anyway.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        job_id: uuid.UUID,
        owner: str,
        stop: StopSignal,
        sink: ProgressSink | None = None,
        interval: float = 0.25,
        cancel_poll_seconds: float = 0.5,
    ) -> None:
        self.factory = factory
        self.job_id = job_id
        self.owner = owner
        self.stop = stop
        self.sink = sink
        self.interval = interval
        self.cancel_poll_seconds = cancel_poll_seconds
        self.step = ""
        self.counters: dict[str, int] = {}
        self.found: list[dict[str, str]] = []
        self._found_changed = False
        self._last = 0.0
        self._last_poll = time.monotonic()
        self._step_started = time.monotonic()

    def begin(self, step: str) -> None:
        self.checkpoint()
        now = time.monotonic()
        if self.step:
            # Each finished step's milliseconds, so progress can show per-step times as it goes.
            self.counters[f"ms_{self.step}"] = round((now - self._step_started) * 1000)
        self.step, self._step_started = step, now
        self._flush(force=True)

    def set(self, **counters: int) -> None:
        self.counters.update(counters)
        self._flush()
        self.checkpoint()

    def found_view(self, kind: str, label: str, thumbnail_key: str) -> None:
        # The latest few only: the page shows them as they come, the registry has them all after.
        self.found = [*self.found, {"kind": kind, "label": label, "thumbnail": thumbnail_key}][-FOUND_KEPT:]
        self._found_changed = True
        self._flush()

    def checkpoint(self) -> None:
        if not self.stop.is_set() and time.monotonic() - self._last_poll >= self.cancel_poll_seconds:
            self._last_poll = time.monotonic()
            with self.factory() as session:
                if jobs_repo.cancel_requested(session, self.job_id):
                    self.stop.set(CANCELLED)
        if self.stop.is_set():
            raise JobStoppedError(self.stop.reason)

    def commit(self, session: Session) -> None:
        self.checkpoint()
        if not jobs_repo.finish(session, self.job_id, self.owner, JobStatus.SUCCEEDED, step="done"):
            raise JobStoppedError(LOST)

    def _flush(self, force: bool = False) -> None:
        if self.sink:
            self.sink(self.step, dict(self.counters))
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        with self.factory() as session, session.begin():
            found = self.found if self._found_changed else None
            owned = jobs_repo.report_progress(session, self.job_id, self.owner, self.step, self.counters, found)
            self._found_changed = False
            if owned and jobs_repo.cancel_requested(session, self.job_id):
                self.stop.set(CANCELLED)
        self._last_poll = now
        if not owned:
            self.stop.set(LOST)
