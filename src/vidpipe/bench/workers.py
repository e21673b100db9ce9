"""Throughput of the job backends side by side: a batch of manifest runs and a batch of clip
analyses on the embedded runner (one process, its thread pool) and on the dramatiq backend with 1
and with 2 `vidpipe worker` processes, each on a throw-away PostgreSQL database; and the queueing
overhead per job (from the committed job to its start on an idle worker)."""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vidpipe.app import AppContext
from vidpipe.bench.analyze import excerpt
from vidpipe.bench.manifest import SUFFIXES
from vidpipe.bench.worker_processes import Worker, clear_namespace, distributed_settings, start_workers
from vidpipe.db.throwaway import throwaway_postgres
from vidpipe.domain.enums import AssetType, JobStatus
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, projects, runs
from vidpipe.services.views import JobView
from vidpipe.settings import Settings

MODES = ("embedded", "dramatiq-1", "dramatiq-2")


def _wait(ctx: AppContext, ids: list[uuid.UUID], timeout: float) -> list[JobView]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = [runs.get_job(ctx, str(i)) for i in ids]
        if all(not j.active for j in jobs):
            failed = [j for j in jobs if j.status is not JobStatus.SUCCEEDED]
            if failed:
                raise VidpipeError(f"{len(failed)} bench job(s) did not succeed: {failed[0].error}")
            return jobs
        if time.monotonic() > deadline:
            raise VidpipeError(f"bench jobs not done in {timeout:.0f} s")
        time.sleep(0.05)


def _batch(ctx: AppContext, submit: Callable[[], list[uuid.UUID]], timeout: float) -> dict[str, Any]:
    start = time.perf_counter()
    ids = submit()
    jobs = _wait(ctx, ids, timeout)
    seconds = time.perf_counter() - start
    return {
        "jobs": len(jobs),
        "seconds": round(seconds, 2),
        "per_minute": round(60 * len(jobs) / seconds, 1),
        "processes": len({(j.owner or "").split(":")[1] for j in jobs if j.owner and j.owner.count(":") == 2}),
        "attempts_max": max(j.attempts for j in jobs),
    }


def _overhead(ctx: AppContext, manifest_ids: list[uuid.UUID], timeout: float) -> dict[str, Any]:
    """One job at a time on idle workers: from the committed job (its created_at) to its start."""
    waits = []
    for manifest_id in manifest_ids:
        job = runs.request_run(ctx, str(manifest_id), reprocess=True)
        (done,) = _wait(ctx, [job.id], timeout)
        assert done.started_at is not None
        waits.append((done.started_at - done.created_at).total_seconds() * 1000)
    return {"samples": len(waits), "median_ms": round(statistics.median(waits), 1), "max_ms": round(max(waits), 1)}


def run_workers_bench(
    photos_dir: Path,
    video: Path,
    settings: Settings,
    *,
    postgres_admin_url: str,
    redis_url: str,
    manifests_count: int = 8,
    photos_per_manifest: int = 4,
    clips_count: int = 8,
    clip_seconds: float = 4.0,
    modes: tuple[str, ...] = MODES,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    photos = sorted(p for p in photos_dir.iterdir() if p.suffix.lower() in SUFFIXES)
    if len(photos) < photos_per_manifest:
        raise VidpipeError(f"{str(photos_dir)!r} has {len(photos)} photo(s); {photos_per_manifest} needed")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise VidpipeError(f"unknown mode(s) {unknown}: expected some of {', '.join(MODES)}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-workers-") as folder_name:
        folder = Path(folder_name)
        clip = folder / "clip.mp4"
        width, height, frames = excerpt(video, clip, clip_seconds, 720)
        for mode in modes:
            if progress:
                progress(mode)
            with throwaway_postgres(postgres_admin_url) as database_url:
                results[mode] = _one_mode(
                    mode,
                    settings,
                    folder / mode,
                    database_url,
                    redis_url,
                    photos,
                    clip,
                    manifests_count,
                    photos_per_manifest,
                    clips_count,
                )
    base = results.get("embedded")
    summary: dict[str, Any] = {}
    for mode, found in results.items():
        summary[mode] = {
            "manifests_per_minute": found["manifests"]["per_minute"],
            "clips_per_minute": found["clips"]["per_minute"],
            "overhead_median_ms": found["overhead"]["median_ms"],
        }
        if base is not None and mode != "embedded":
            summary[mode]["manifests_vs_embedded"] = round(
                found["manifests"]["per_minute"] / base["manifests"]["per_minute"], 2
            )
            summary[mode]["clips_vs_embedded"] = round(found["clips"]["per_minute"] / base["clips"]["per_minute"], 2)
    return {
        "manifests": manifests_count,
        "photos_per_manifest": photos_per_manifest,
        "clips": clips_count,
        "clip": {"seconds": clip_seconds, "width": width, "height": height, "frames": frames},
        "modes": results,
        "summary": summary,
    }


def _one_mode(
    mode: str,
    settings: Settings,
    folder: Path,
    database_url: str,
    redis_url: str,
    photos: list[Path],
    clip: Path,
    manifests_count: int,
    per_manifest: int,
    clips_count: int,
) -> dict[str, Any]:
    distributed = mode != "embedded"
    # One inference thread per job everywhere: 2 cores, 2 jobs at a time in every mode.
    runtime = settings.runtime.model_copy(update={"intra_op_threads": 1, "inter_op_threads": 1})
    base = settings.model_copy(update={"runtime": runtime})
    here = distributed_settings(base, folder / "data", database_url, redis_url, lease_seconds=30.0)
    if not distributed:
        jobs = here.jobs.model_copy(update={"backend": "embedded", "workers": 2})
        here = here.model_copy(update={"jobs": jobs})
    workers: list[Worker] = []
    try:
        with AppContext.open(here) as ctx:
            cast = manifests.create_manifest(
                ctx, "cast", [PhotoIn(p, AssetType.CHARACTER) for p in photos[:per_manifest]]
            ).manifest
            runs.process_manifest(ctx, str(cast.id))
            project = projects.create_project(ctx, "bench", str(cast.id))
            scene = projects.add_scene(ctx, str(project.id), 1)
            clip_ids = [projects.add_clip(ctx, str(scene.id), clip).id for _ in range(clips_count)]
            made = []
            for i in range(manifests_count):
                chosen = [photos[(i * per_manifest + k) % len(photos)] for k in range(per_manifest)]
                made.append(manifests.create_manifest(ctx, f"m{i}", [PhotoIn(p, AssetType.CHARACTER) for p in chosen]))
            manifest_ids = [m.manifest.id for m in made]
            if distributed:
                workers = start_workers(here, folder, int(mode.split("-")[1]), "--threads", "1")
            else:
                ctx.toolkit()  # the embedded runner's models, loaded before the clock starts
            timeout = 1800.0
            batch_m = _batch(ctx, lambda: [runs.request_run(ctx, str(m)).id for m in manifest_ids], timeout)
            batch_c = _batch(ctx, lambda: [projects.request_analysis(ctx, str(c)).id for c in clip_ids], timeout)
            overhead = _overhead(ctx, manifest_ids[:5], timeout)
            return {"manifests": batch_m, "clips": batch_c, "overhead": overhead}
    finally:
        for worker in workers:
            worker.stop()
        if distributed:
            clear_namespace(here)
