"""A full manifesting run on a folder of photos, timed step by step, in a throwaway registry."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from vidpipe.app import AppContext
from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.describe.describer import DescribeRequest
from vidpipe.describe.describers.offline import OfflineDescriber
from vidpipe.domain.enums import AssetType, JobStatus
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.manifesting import ManifestRunner
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs
from vidpipe.settings import Settings

SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic"}


def warm_up(toolkit: VisionToolkit) -> float:
    """Load every model once (sessions are cached per process); returns the seconds it took."""
    start = time.perf_counter()
    probe = np.full((64, 64, 3), 127, np.uint8)
    toolkit.detector.detect(probe)
    toolkit.faces.detect(probe)
    toolkit.faces.embedder.ensure_loaded()
    toolkit.embedder.embed([probe])
    if toolkit.classifier is not None:
        toolkit.classifier.classify(probe)
    return time.perf_counter() - start


def model_seconds(toolkit: VisionToolkit) -> float:
    models = [toolkit.detector, toolkit.faces.detector, toolkit.faces.embedder, toolkit.embedder]
    if toolkit.classifier is not None:
        models.append(toolkit.classifier)
    return sum(m.seconds for m in models)


class EngineOnly:
    """A run tracker that does nothing: the engine alone, to measure what the job machinery costs."""

    def begin(self, step: str) -> None:
        pass

    def set(self, **counters: int) -> None:
        pass

    def checkpoint(self) -> None:
        pass

    def found_view(self, kind: str, label: str, thumbnail_key: str) -> None:
        pass

    def commit(self, session: Session) -> None:
        pass


@contextmanager
def timing_job_store() -> Iterator[list[float]]:
    """Adds up the seconds spent in the job store (claim, progress, heartbeat, cancel polls, finish,
    recovery), in any thread, while inside: the job machinery's own cost, measured directly
    rather than as the difference of two noisy wall-clock times."""
    spent = [0.0]
    originals = {name: getattr(jobs_repo, name) for name in JOB_STORE_CALLS}

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start

        return call

    for name, fn in originals.items():
        setattr(jobs_repo, name, timed(fn))
    try:
        yield spent
    finally:
        for name, fn in originals.items():
            setattr(jobs_repo, name, fn)


JOB_STORE_CALLS = (
    "add_job",
    "active_job_for",
    "claim",
    "get_job",
    "report_progress",
    "cancel_requested",
    "beat",
    "finish",
    "stale_jobs",
)


def run_manifest_bench(
    images_dir: Path, settings: Settings, asset_type: AssetType, *, ocr: bool = True, rounds: int = 7
) -> dict[str, Any]:
    """Process the photos as a job ``rounds`` times, alternating with the bare engine on a twin
    manifest (same photos, no job, no heartbeat, no progress writes), in a throwaway SQLite registry.

    The first job run is the one reported step by step. The job machinery's cost is reported three
    ways: the difference of the medians and the median of each round's difference (both noisy: runs
    on a shared 2-core machine vary by several per cent), and the seconds measured inside the job
    store per run (claim, progress, heartbeat, cancel polls, finish).
    """
    photos = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in SUFFIXES)
    if not photos:
        raise VidpipeError(f"no photos in {str(images_dir)!r} (looked for {', '.join(sorted(SUFFIXES))})")
    toolkit = VisionToolkit.create(settings)
    describer = OfflineDescriber(classifier=toolkit.classifier, ocr=ocr)
    load_seconds = warm_up(toolkit)
    start = time.perf_counter()
    # Loads the OCR models too, so their start-up is not counted as describe time.
    describer.describe(DescribeRequest(np.full((64, 64, 3), 127, np.uint8), AssetType.OBJECT))
    load_seconds += time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as folder:
        bench_settings = settings.model_copy(update={"data_dir": Path(folder), "database_url": None})
        with AppContext.open(bench_settings, toolkit=toolkit, describer=describer) as ctx:
            inputs = [PhotoIn(p, asset_type) for p in photos]
            job_manifest = manifests.create_manifest(ctx, f"bench {images_dir.name}", inputs)
            twin = manifests.create_manifest(ctx, f"bench {images_dir.name} (engine only)", inputs)
            engine = ManifestRunner(ctx.factory, ctx.store, toolkit, describer)
            job_walls: list[float] = []
            engine_walls: list[float] = []
            store_seconds: list[float] = []
            first: dict[str, Any] = {}

            def as_job(round_: int) -> None:
                before = model_seconds(toolkit) + describer.ocr_seconds
                with timing_job_store() as spent:
                    start = time.perf_counter()
                    job = runs.process_manifest(ctx, str(job_manifest.manifest.id), reprocess=round_ > 0)
                    job_walls.append(time.perf_counter() - start)
                store_seconds.append(spent[0])
                if job.status is not JobStatus.SUCCEEDED:
                    raise VidpipeError(f"bench run failed: {job.error}")
                if not first:
                    view = manifests.show_manifest(ctx, str(job_manifest.manifest.id))
                    assert view.stats is not None
                    first.update(stats=view.stats, inference=model_seconds(toolkit) + describer.ocr_seconds - before)

            def bare() -> None:
                start = time.perf_counter()
                engine.run(twin.manifest.id, EngineOnly())
                engine_walls.append(time.perf_counter() - start)

            for round_ in range(rounds):
                # Alternate which goes first, so that neither always runs on a warmer machine.
                if round_ % 2 == 0:
                    as_job(round_)
                    bare()
                else:
                    bare()
                    as_job(round_)
    stats = first["stats"]
    job_median, engine_median = statistics.median(job_walls), statistics.median(engine_walls)
    store_median = statistics.median(store_seconds)
    # Each round's job run against the bare run beside it: less exposed to the machine's drift.
    paired = statistics.median(j - e for j, e in zip(job_walls, engine_walls, strict=True))
    return {
        "photos": len(job_manifest.added),
        "refused": [note.path for note in job_manifest.refused],
        "seconds_total": round(job_walls[0], 3),
        "seconds_per_step": stats.seconds,
        "model_load_seconds": round(load_seconds, 3),
        "model_inference_seconds": round(first["inference"], 3),
        "other_seconds": round(job_walls[0] - first["inference"], 3),
        "assets": stats.assets,
        "assets_per_type": stats.assets_per_type,
        "describer": describer.name,
        "ocr": describer.ocr_available,
        "rounds": rounds,
        "job_seconds": [round(v, 3) for v in job_walls],
        "engine_only_seconds": [round(v, 3) for v in engine_walls],
        "job_median_seconds": round(job_median, 3),
        "engine_only_median_seconds": round(engine_median, 3),
        "job_overhead_wall_percent": round(100.0 * (job_median - engine_median) / engine_median, 2),
        "job_overhead_paired_percent": round(100.0 * paired / engine_median, 2),
        "job_store_seconds_per_run": round(store_median, 4),
        "job_store_percent": round(100.0 * store_median / engine_median, 2),
    }
