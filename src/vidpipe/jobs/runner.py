"""The runner interface: how requested work gets executed. The job row is the truth; a runner only
carries job ids (submit after the transaction that created the job has committed)."""

from __future__ import annotations

import uuid
from typing import Protocol


class JobRunner(Protocol):
    def submit(self, job_id: uuid.UUID) -> None:
        """Have the queued job run, here or elsewhere, soon."""

    def cancel(self, job_id: uuid.UUID) -> None:
        """Stop the job at its next checkpoint if this runner runs it (the row's cancel flag reaches
        runners in other processes)."""

    def close(self, release: bool = False) -> None:
        """Stop taking work; let running jobs finish (or, with ``release``, hand them back)."""


class QueueOnlyRunner:
    """For a process that only queues work another process runs (the web server beside its
    worker): the job row is the queue, so submitting needs nothing more, and a cancel reaches the
    worker through the row's flag."""

    def submit(self, job_id: uuid.UUID) -> None:
        pass

    def cancel(self, job_id: uuid.UUID) -> None:
        pass

    def close(self, release: bool = False) -> None:
        pass
