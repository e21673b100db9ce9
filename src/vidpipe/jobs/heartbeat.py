"""The thread that keeps a running job alive in the database and listens for a cancel request."""

from __future__ import annotations

import logging
import threading
import uuid

from sqlalchemy.orm import Session, sessionmaker

from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.jobs.progress import CANCELLED, LOST, StopSignal
from vidpipe.settings import JobSettings

logger = logging.getLogger(__name__)


class Heartbeat:
    """Beats every ``heartbeat_seconds``, whatever the run is doing (a long model call included).

    A lost ownership, or a cancel flag found on the row, sets the job's stop signal; the run stops
    at its next checkpoint (which also reads the flag itself, more often: see `JobTracker`).
    """

    def __init__(
        self, factory: sessionmaker[Session], job_id: uuid.UUID, owner: str, stop: StopSignal, settings: JobSettings
    ) -> None:
        self.factory = factory
        self.job_id = job_id
        self.owner = owner
        self.stop = stop
        self.settings = settings
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{job_id.hex[:8]}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._done.wait(self.settings.heartbeat_seconds):
            try:
                with self.factory() as session, session.begin():
                    if not jobs_repo.beat(session, self.job_id, self.owner):
                        self.stop.set(LOST)
                    elif jobs_repo.cancel_requested(session, self.job_id):
                        self.stop.set(CANCELLED)
            except Exception as exc:  # a database hiccup must not kill the run; the lease covers long ones
                logger.warning("heartbeat of job %s failed: %s", self.job_id, exc)
