"""Progress answers shared by every client watching a manifest (polling or on the event stream)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from vidpipe.api.schemas import ProgressOut
from vidpipe.app import AppContext
from vidpipe.services import runs


@dataclass(frozen=True, slots=True)
class _Entry:
    read_at: float
    progress: ProgressOut
    body: bytes


class ProgressCache:
    """Recent progress per manifest, shared by every client watching it, kept as the JSON sent.

    A run writes its progress at most every 0.25 s, so answering many watchers from one read per
    ``ttl_seconds`` loses nothing and keeps the database and the CPU for the run. When an answer is
    older than that, one background read replaces it while watchers keep getting the previous one
    (for at most ``stale_seconds``), so no poll waits on the database except the very first.
    """

    def __init__(self, ttl_seconds: float = 0.25, stale_seconds: float = 2.0) -> None:
        self.ttl_seconds = ttl_seconds
        self.stale_seconds = stale_seconds
        self._entries: dict[str, _Entry] = {}
        self._reads: dict[str, asyncio.Task[_Entry]] = {}

    def forget(self, manifest_id: str | None = None) -> None:
        """Drop what a write just made stale (one manifest, or all when a job is addressed alone)."""
        if manifest_id is None:
            self._entries.clear()
            self._reads.clear()
        else:
            self._entries.pop(manifest_id, None)
            self._reads.pop(manifest_id, None)  # a read started before the write must not be kept

    async def get(self, ctx: AppContext, manifest_id: str) -> tuple[ProgressOut, bytes]:
        entry = self._entries.get(manifest_id)
        if entry is not None:
            age = time.monotonic() - entry.read_at
            if age < self.ttl_seconds or (age < self.stale_seconds and not entry.progress.finished):
                if age >= self.ttl_seconds:
                    self._read(ctx, manifest_id)
                return entry.progress, entry.body
        # Nothing recent enough: wait for the read (shielded, as others may be waiting on it too).
        fresh = await asyncio.shield(self._read(ctx, manifest_id))
        return fresh.progress, fresh.body

    def _read(self, ctx: AppContext, manifest_id: str) -> asyncio.Task[_Entry]:
        running = self._reads.get(manifest_id)
        if running is not None:
            return running
        task = asyncio.create_task(self._fetch(ctx, manifest_id))
        self._reads[manifest_id] = task
        task.add_done_callback(lambda done: self._settle(manifest_id, done))
        return task

    async def _fetch(self, ctx: AppContext, manifest_id: str) -> _Entry:
        progress = ProgressOut.of(await run_in_threadpool(runs.progress, ctx, manifest_id))
        return _Entry(time.monotonic(), progress, progress.model_dump_json().encode())

    def _settle(self, manifest_id: str, task: asyncio.Task[_Entry]) -> None:
        # Looked at even when nobody waits, so a failed background read is not reported as lost;
        # the callers waiting on it get the error themselves (an unknown manifest is a 404).
        failed = task.cancelled() or task.exception() is not None
        if self._reads.get(manifest_id) is not task:
            return  # forgotten meanwhile: a write made this read stale
        del self._reads[manifest_id]
        if failed:
            return
        if len(self._entries) > 1000:
            self._entries.clear()
        self._entries[manifest_id] = task.result()


progress_cache = ProgressCache()
