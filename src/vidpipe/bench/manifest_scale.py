"""How a manifesting run's time and memory grow with its photos: N distinct photos, one run each.

The photos are made from the shared test data (faces, VOC, COCO8, scikit-image samples), each source
reused under different flips, trims and slight rescales so that every file's bytes differ (the
store keeps identical bytes once, and a manifest refuses a duplicate). For each N, a fresh registry
(SQLite) gets one manifest of the first N photos, and a child process runs it as a job with the
offline describer: the child's peak resident memory is that run's alone (models included).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vidpipe.app import AppContext
from vidpipe.bench.manifest import SUFFIXES, warm_up
from vidpipe.domain.enums import AssetType, JobStatus
from vidpipe.errors import VidpipeError
from vidpipe.imaging.loading import load_pil
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests
from vidpipe.settings import Settings

# Where the sources are in the shared data, and the type their photos get (a mix, as in a production).
SOURCES: tuple[tuple[str, AssetType], ...] = (
    ("faces", AssetType.CHARACTER),
    ("detection/voc_100/images", AssetType.OBJECT),
    ("detection/coco8/images", AssetType.ENVIRONMENT),
    ("detection/skimage_data", AssetType.PROP),
)
JPEG_QUALITY = 90


@dataclass(frozen=True)
class BenchPhoto:
    path: Path
    asset_type: AssetType


def source_photos(data_dir: Path) -> list[tuple[Path, AssetType]]:
    """Every source photo, the folders interleaved in proportion (so that any first N is a mix)."""
    found: list[tuple[float, Path, AssetType]] = []
    for folder, kind in SOURCES:
        paths = sorted(p for p in (data_dir / folder).rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        found.extend(((i + 0.5) / len(paths), path, kind) for i, path in enumerate(paths))
    if not found:
        raise VidpipeError(f"no photos under {str(data_dir)!r} (looked in {', '.join(f for f, _ in SOURCES)})")
    return [(path, kind) for _, path, kind in sorted(found, key=lambda item: (item[0], str(item[1])))]


def variant(picture: Image.Image, number: int) -> Image.Image:
    """The ``number``-th variant of a photo: 0 is the photo itself; then flipped or not, trimmed by a
    few per cent at one corner or another, and from the fourth on slightly smaller."""
    if number == 0:
        return picture
    out = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if number % 2 else picture
    w, h = out.size
    trim = 0.03 * (1 + (number - 1) // 2 % 5)  # 3 to 15 per cent
    dx, dy = round(w * trim), round(h * trim)
    corner = (number // 2) % 4
    left, top = (dx if corner in (1, 3) else 0), (dy if corner in (2, 3) else 0)
    out = out.crop((left, top, w - (dx - left), h - (dy - top)))
    scale = 1.0 - 0.04 * (number // 4)
    if scale < 1.0:
        out = out.resize(
            (max(16, round(out.width * scale)), max(16, round(out.height * scale))), Image.Resampling.BILINEAR
        )
    return out


def build_photos(data_dir: Path, count: int, folder: Path) -> list[BenchPhoto]:
    """``count`` JPEGs with distinct bytes in ``folder``, cycling through the sources (every source
    once before any twice), each a new variant of its source."""
    sources = source_photos(data_dir)
    seen: set[str] = set()
    used = [0] * len(sources)
    photos: list[BenchPhoto] = []
    i = 0
    while len(photos) < count:
        index = i % len(sources)
        i += 1
        path, kind = sources[index]
        picture = load_pil(path)
        while True:  # a variant identical to one made already (a flip of a symmetric photo) is skipped
            data = _jpeg(variant(picture, used[index]))
            used[index] += 1
            digest = hashlib.sha256(data).hexdigest()
            if digest not in seen:
                break
        seen.add(digest)
        target = folder / f"{len(photos):04d}_{path.stem[:40]}_v{used[index] - 1}.jpg"
        target.write_bytes(data)
        photos.append(BenchPhoto(target, kind))
    return photos


def _jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def run_scale_bench(
    data_dir: Path,
    settings: Settings,
    counts: Sequence[int],
    *,
    ocr: bool = False,
    split_workers: int = 0,
    postgres_admin_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    redis_url: str = "redis://127.0.0.1:6379/0",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Per N in ``counts``: seconds, seconds per photo, peak RSS (MB) and assets of one run of N photos;
    with ``split_workers``, also the same run split over that many `vidpipe worker` processes."""
    if not counts or min(counts) < 1:
        raise VidpipeError("give at least one photo count, each at least 1")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vidpipe-scale-") as folder:
        photo_dir = Path(folder) / "photos"
        photo_dir.mkdir()
        photos = build_photos(data_dir, max(counts), photo_dir)
        for count in counts:
            if progress is not None:
                progress(f"{count} photos: creating the manifest and running it in a child process…")
            runs.append(_one_run(photos[:count], settings, Path(folder) / f"registry-{count}", ocr=ocr))
        split_runs = []
        for count in counts if split_workers else ():
            if progress is not None:
                progress(f"{count} photos: split over {split_workers} workers…")
            split_runs.append(
                _split_run(
                    photos[:count],
                    settings.model_copy(update={"describe": settings.describe.model_copy(update={"ocr": ocr})}),
                    Path(folder) / f"split-{count}",
                    workers=split_workers,
                    postgres_admin_url=postgres_admin_url,
                    redis_url=redis_url,
                )
            )
        megapixels = [_megapixels(p.path) for p in photos]
    return {
        "sources": len(source_photos(data_dir)),
        "photo_megapixels_mean": round(float(np.mean(megapixels)), 3),
        "describer": "offline",
        "ocr": ocr,
        "runs": runs,
        **({"split_runs": split_runs} if split_workers else {}),
    }


def _split_run(
    photos: Sequence[BenchPhoto],
    settings: Settings,
    folder: Path,
    *,
    workers: int,
    postgres_admin_url: str,
    redis_url: str,
) -> dict[str, Any]:
    """One run split over ``workers`` worker processes (dramatiq backend, PostgreSQL): its wall time
    and the peak resident memory of each worker process (each holds its own models)."""
    from vidpipe.bench.worker_processes import clear_namespace, distributed_settings, start_workers
    from vidpipe.db.throwaway import throwaway_postgres
    from vidpipe.services import runs

    with throwaway_postgres(postgres_admin_url) as database_url:
        here = distributed_settings(
            settings.with_describers(["offline"]),
            folder / "data",
            database_url,
            redis_url,
            lease_seconds=30.0,
            split_photos=1,
        )
        started = []
        try:
            with AppContext.open(here) as ctx:
                intake = manifests.create_manifest(
                    ctx, f"scale {len(photos)}", [PhotoIn(p.path, p.asset_type) for p in photos]
                )
                started = start_workers(here, folder, workers, "--threads", "1")
                start = time.perf_counter()
                job = runs.request_run(ctx, str(intake.manifest.id))
                while (now := runs.get_job(ctx, str(job.id))).active:
                    time.sleep(0.2)
                seconds = time.perf_counter() - start
                if now.status is not JobStatus.SUCCEEDED:
                    raise VidpipeError(f"the split run ended {now.status.value}: {now.error}")
                peaks = [_rss_of(pid, "VmHWM") for worker in started for pid in worker.children()]
                parts = [j for j in runs.list_jobs(ctx, limit=10_000) if j.target_id == job.id]
                stats = manifests.show_manifest(ctx, str(intake.manifest.id)).stats
                assert stats is not None
        finally:
            for worker in started:
                worker.stop()
            clear_namespace(here)
    return {
        "photos": len(photos),
        "workers": workers,
        "parts": len(parts),
        "seconds": round(seconds, 2),
        "seconds_per_photo": round(seconds / len(photos), 4),
        "peak_rss_mb_per_worker": peaks,
        "peak_rss_mb_max": max(peaks) if peaks else None,
        "assets": stats.assets,
    }


def _rss_of(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise VidpipeError(f"no {field} for process {pid}")


def _megapixels(path: Path) -> float:
    with Image.open(path) as picture:
        return picture.width * picture.height / 1e6


def _one_run(photos: Sequence[BenchPhoto], settings: Settings, data_dir: Path, *, ocr: bool) -> dict[str, Any]:
    here = settings.model_copy(update={"data_dir": data_dir, "database_url": None})
    with AppContext.open(here) as ctx:
        intake = manifests.create_manifest(ctx, f"scale {len(photos)}", [PhotoIn(p.path, p.asset_type) for p in photos])
    if len(intake.added) != len(photos):
        raise VidpipeError(f"{len(photos) - len(intake.added)} of {len(photos)} bench photos were refused")
    env = {
        **os.environ,
        "VIDPIPE_MODEL_DIR": str(here.model_dir),
        "VIDPIPE_DATA_DIR": str(here.data_dir),
        "VIDPIPE_DATABASE_URL": here.resolved_database_url,
    }
    command = [sys.executable, "-c", "from vidpipe.bench.manifest_scale import child_main; child_main()"]
    start = time.perf_counter()
    child = subprocess.run(
        [*command, str(intake.manifest.id), "ocr" if ocr else "no-ocr"], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise VidpipeError(f"the run of {len(photos)} photos failed: {child.stderr[-2000:]}")
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    seconds = measured.pop("seconds")
    return {
        "photos": len(photos),
        "seconds": round(seconds, 2),
        "seconds_per_photo": round(seconds / len(photos), 4),
        "peak_rss_mb": measured.pop("peak_rss_mb"),
        **measured,
        "child_wall_seconds": round(wall, 2),
    }


def child_main() -> None:
    """In the child: load the models, run the manifest as a job, print one JSON line of measures."""
    from vidpipe.describe.describers.offline import OfflineDescriber
    from vidpipe.pipeline.toolkit import VisionToolkit
    from vidpipe.services import runs

    manifest_id, ocr = sys.argv[1], sys.argv[2] == "ocr"
    settings = Settings()
    toolkit = VisionToolkit.create(settings)
    describer = OfflineDescriber(classifier=toolkit.classifier, ocr=ocr)
    load_seconds = warm_up(toolkit)
    # The peak so far, noted as each step ends (the job reports each step as it begins): where it is reached.
    peaks: dict[str, float] = {}
    current = [""]

    def sink(step: str, counters: dict[str, int]) -> None:
        if step != current[0]:
            if current[0]:
                peaks[current[0]] = _rss_mb("VmHWM")
            current[0] = step

    with AppContext.open(settings, toolkit=toolkit, describer=describer) as ctx:
        models_rss = _rss_mb("VmRSS")
        start = time.perf_counter()
        job = runs.process_manifest(ctx, manifest_id, sink=sink)
        seconds = time.perf_counter() - start
        peaks[current[0]] = _rss_mb("VmHWM")
        if job.status is not JobStatus.SUCCEEDED:
            raise VidpipeError(f"the bench run ended {job.status.value}: {job.error}")
        view = manifests.show_manifest(ctx, manifest_id)
    stats = view.stats
    assert stats is not None
    result = {
        "seconds": seconds,
        "peak_rss_mb": _rss_mb("VmHWM"),
        "rss_models_loaded_mb": models_rss,
        "assets": stats.assets,
        "assets_per_type": stats.assets_per_type,
        "crops": stats.crops,
        "faces": stats.faces,
        "seconds_per_step": stats.seconds,
        "peak_rss_mb_by_step": peaks,
        "model_load_seconds": round(load_seconds, 2),
    }
    print(json.dumps(result))


def _rss_mb(field: str) -> float:
    """This process's resident memory now (VmRSS) or at its peak (VmHWM), in MB, from /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    # Without /proc (not Linux): the peak as the kernel counts it (kilobytes on Linux, bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
