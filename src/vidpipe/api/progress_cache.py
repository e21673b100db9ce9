"""Progress answers shared by every client watching a manifest (polling or on the event stream)."""

from __future__ import annotations

import asyncio
import time

from fastapi.concurrency import run_in_threadpool

from vidpipe.api.schemas import ProgressOut
from vidpipe.app import AppContext
from vidpipe.services import runs


class ProgressCache:
    """Recent progress per manifest, shared by every client watching it, kept as the JSON sent.

    A run writes its progress at most every 0.25 s, so answering many watchers from one read per
    ``ttl_seconds`` loses nothing, and keeps the database and the CPU for the run itself.
    """

    def __init__(self, ttl_seconds: float = 0.25) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[str, tuple[float, ProgressOut, bytes]] = {}
        self._lock = asyncio.Lock()

    def forget(self, manifest_id: str | None = None) -> None:
        """Drop what a write just made stale (one manifest, or all when a job is addressed alone)."""
        if manifest_id is None:
            self._entries.clear()
        else:
            self._entries.pop(manifest_id, None)

    async def get(self, ctx: AppContext, manifest_id: str) -> tuple[ProgressOut, bytes]:
        entry = self._entries.get(manifest_id)
        if entry is not None and time.monotonic() - entry[0] < self.ttl_seconds:
            return entry[1], entry[2]
        async with self._lock:  # one read for everyone waiting on the same expiry
            entry = self._entries.get(manifest_id)
            if entry is not None and time.monotonic() - entry[0] < self.ttl_seconds:
                return entry[1], entry[2]
            fresh = ProgressOut.of(await run_in_threadpool(runs.progress, ctx, manifest_id))
            body = fresh.model_dump_json().encode()
            if len(self._entries) > 1000:
                self._entries.clear()
            self._entries[manifest_id] = (time.monotonic(), fresh, body)
            return fresh, body


progress_cache = ProgressCache()
