"""Face finding and identity grouping measured against a labelled folder of photos.

Layout: a CSV with ``file,identity`` (extra columns ignored), files relative to the image folder,
one labelled face per file. Every face found is grouped (extra faces included, as in real use);
the labelled face of a file is the most prominent one found in it; missed files count as
singletons, so they cost recall.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidpipe.domain.detections import Detections
from vidpipe.errors import VidpipeError
from vidpipe.evaluation.clustering import bcubed, pairwise_f1
from vidpipe.imaging.loading import load_image
from vidpipe.inference.face_analysis import Face, FaceAnalyzer


@dataclass(frozen=True)
class LabelledFile:
    file: str
    identity: str


def read_labels(labels_csv: Path) -> list[LabelledFile]:
    """Rows of a ``file,identity`` CSV; a clear error when the columns are missing."""
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"file", "identity"} <= set(reader.fieldnames):
            raise VidpipeError(
                f"labels file {str(labels_csv)!r} must have the columns file,identity; it has {reader.fieldnames}"
            )
        return [LabelledFile(row["file"], row["identity"]) for row in reader if row["file"]]


def most_prominent(found: Detections) -> int:
    """Index of the face a single-subject photo is about: confident and large."""
    return int(np.argmax(found.confidence * np.sqrt(found.area)))


def run_face_bench(
    images_dir: Path,
    labels_csv: Path,
    analyzer: FaceAnalyzer,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    labels = read_labels(labels_csv)
    start = time.perf_counter()
    faces: list[Face] = []
    labelled_key: dict[str, str | None] = {}
    for n, row in enumerate(labels, 1):
        image = load_image(images_dir / row.file)
        found = analyzer.detect(image)
        analysed = analyzer.analyze(image, row.file, faces=found)
        faces.extend(analysed)
        labelled_key[row.file] = analysed[most_prominent(found)].key if analysed else None
        if progress:
            progress(n, len(labels))
    groups = analyzer.group(faces)
    seconds = time.perf_counter() - start
    group_of = {key: gi for gi, group in enumerate(groups) for key in group.members}
    truth = [row.identity for row in labels]
    predicted = [group_of[key] if (key := labelled_key[row.file]) is not None else None for row in labels]
    precision, recall, f1 = bcubed(truth, predicted)
    found_count = sum(key is not None for key in labelled_key.values())
    return {
        "detector": analyzer.detector.name,
        "embedder": analyzer.embedder.name,
        "threshold": analyzer.threshold,
        "faces_total": len(labels),
        "faces_found": found_count,
        "found_ratio": round(found_count / max(len(labels), 1), 4),
        "faces_detected_all": len(faces),
        "identities": len(set(truth)),
        "groups": len(groups),
        "bcubed_precision": round(precision, 4),
        "bcubed_recall": round(recall, 4),
        "bcubed_f1": round(f1, 4),
        "pairwise_f1": round(pairwise_f1(truth, predicted)[2], 4),
        "seconds": round(seconds, 2),
        "ms_per_image": round(1000 * seconds / max(len(labels), 1), 1),
        "missed": [row.file for row in labels if labelled_key[row.file] is None],
    }
