"""A full manifesting run on a folder of photos, timed step by step, in a throwaway registry."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from vidpipe.db.engine import make_engine, session_factory
from vidpipe.db.migrate import upgrade
from vidpipe.db.models import Manifest
from vidpipe.describe.describer import DescribeRequest
from vidpipe.describe.describers.offline import OfflineDescriber
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.manifesting import ManifestRunner
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn, add_photos
from vidpipe.settings import Settings
from vidpipe.storage import FileStore

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


def run_manifest_bench(
    images_dir: Path, settings: Settings, asset_type: AssetType, *, ocr: bool = True
) -> dict[str, Any]:
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
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        factory = session_factory(engine)
        store = FileStore(Path(folder) / "files")
        with factory() as session, session.begin():
            manifest = Manifest(name=f"bench {images_dir.name}")
            session.add(manifest)
            session.flush()
            _, refused = add_photos(session, store, manifest, [PhotoIn(p, asset_type) for p in photos], settings)
        before = model_seconds(toolkit) + describer.ocr_seconds
        start = time.perf_counter()
        stats = ManifestRunner(factory, store, toolkit, describer).run(manifest.id)
        wall = time.perf_counter() - start
        inference = model_seconds(toolkit) + describer.ocr_seconds - before
        engine.dispose()
    return {
        "photos": len(photos) - len(refused),
        "refused": [str(r.path) for r in refused],
        "seconds_total": round(wall, 3),
        "seconds_per_step": stats["seconds"],
        "model_load_seconds": round(load_seconds, 3),
        "model_inference_seconds": round(inference, 3),
        "other_seconds": round(wall - inference, 3),
        "assets": stats["assets"],
        "assets_per_type": stats["assets_per_type"],
        "describer": describer.name,
        "ocr": describer.ocr_available,
    }
