"""The progress cache: one read shared by every watcher, stale answers only while a read is under way."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from vidpipe.api.progress_cache import ProgressCache
from vidpipe.app import AppContext
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs

pytestmark = [pytest.mark.anyio, pytest.mark.data]


def _draft(ctx: AppContext, data_dir: Path) -> str:
    photo = data_dir / "detection" / "skimage_data" / "coffee.png"
    return str(manifests.create_manifest(ctx, "watched", [PhotoIn(photo, AssetType.PROP)]).manifest.id)


async def test_watchers_get_the_last_answer_while_one_read_replaces_it(app_ctx: AppContext, data_dir: Path) -> None:
    manifest_id = _draft(app_ctx, data_dir)
    cache = ProgressCache(ttl_seconds=0.05, stale_seconds=30)
    first, _ = await cache.get(app_ctx, manifest_id)
    assert first.status == "DRAFT"
    runs.request_run(app_ctx, manifest_id)  # the manifest is PROCESSING now, behind the cache's back
    await asyncio.sleep(0.06)
    stale, _ = await cache.get(app_ctx, manifest_id)  # expired: answered at once, one read started
    assert stale.status == "DRAFT"
    deadline = time.monotonic() + 5
    while (await cache.get(app_ctx, manifest_id))[0].status == "DRAFT":
        assert time.monotonic() < deadline, "the background read never replaced the stale answer"
        await asyncio.sleep(0.01)


async def test_a_forgotten_manifest_is_read_again_before_answering(app_ctx: AppContext, data_dir: Path) -> None:
    manifest_id = _draft(app_ctx, data_dir)
    cache = ProgressCache(ttl_seconds=60, stale_seconds=60)
    assert (await cache.get(app_ctx, manifest_id))[0].status == "DRAFT"
    runs.request_run(app_ctx, manifest_id)
    assert (await cache.get(app_ctx, manifest_id))[0].status == "DRAFT"  # fresh enough by its clock
    cache.forget(manifest_id)  # what the process route does after queueing the run
    assert (await cache.get(app_ctx, manifest_id))[0].status == "PROCESSING"


async def test_an_unknown_manifest_is_an_error_for_every_caller(app_ctx: AppContext) -> None:
    cache = ProgressCache()
    unknown = "00000000-0000-0000-0000-000000000000"
    results = await asyncio.gather(*(cache.get(app_ctx, unknown) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, VidpipeError) and r.status == 404 for r in results)
