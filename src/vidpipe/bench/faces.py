"""Face finding and identity grouping measured against a labelled folder of photos.

Layout: a CSV with ``file,identity`` (extra columns ignored), files relative to the image folder,
one labelled face per file. Every face found is grouped (extra faces included, as in real use);
the labelled face of a file is the most prominent one found in it; missed files count as
singletons, so they cost recall.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable
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


@dataclass(frozen=True)
class LabelledRun:
    """Our face pipeline over labelled single-subject photos, in label order."""

    detections: list[Detections]  # every face found, per photo
    faces: list[Face]  # every face found, embedded
    labelled_keys: list[str | None]  # the key of each photo's most prominent face (None: no face)
    people: list[int | None]  # the group of that face
    faces_found_all: int
    groups: int
    seconds: float  # detection, embedding and grouping (and decoding, where the photos are decoded lazily)


def identify_labelled(
    photos: Iterable[tuple[str, np.ndarray[Any, Any]]],
    analyzer: FaceAnalyzer,
    *,
    total: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> LabelledRun:
    """Find, embed and group every face of ``photos`` ((name, image) pairs), as `vidpipe faces group` does."""
    start = time.perf_counter()
    faces: list[Face] = []
    detections: list[Detections] = []
    keys: list[str | None] = []
    for n, (name, image) in enumerate(photos, 1):
        found = analyzer.detect(image)
        analysed = analyzer.analyze(image, name, faces=found)
        faces.extend(analysed)
        detections.append(found)
        keys.append(analysed[most_prominent(found)].key if analysed else None)
        if progress:
            progress(n, total)
    groups = analyzer.group(faces)
    seconds = time.perf_counter() - start
    group_of = {key: gi for gi, group in enumerate(groups) for key in group.members}
    people = [group_of[key] if key is not None else None for key in keys]
    return LabelledRun(detections, faces, keys, people, len(faces), len(groups), seconds)


def _source(file: str) -> str:
    return file.split("/", 1)[0] if "/" in file else "."


def _grouped_f1(
    labels: list[LabelledFile], run: LabelledRun, rows: list[int], threshold: float, analyzer: FaceAnalyzer
) -> float:
    """BCubed F1 of the labelled faces of ``rows`` when only those photos' faces are grouped."""
    photos = {labels[i].file for i in rows}
    groups = analyzer.group([f for f in run.faces if f.photo in photos], threshold=threshold)
    group_of = {key: gi for gi, group in enumerate(groups) for key in group.members}
    people = [group_of.get(run.labelled_keys[i] or "") for i in rows]
    return bcubed([labels[i].identity for i in rows], people)[2]


TIE_BREAKS = ("highest", "median")


@dataclass(frozen=True)
class SourceFold:
    """One source folder held out: its rows, and the thresholds tied for the best BCubed F1 on the rest."""

    held_out: str
    test: list[int]
    tied: list[float]


def source_folds(
    labels: list[LabelledFile], run: LabelledRun, analyzer: FaceAnalyzer, grid: list[float]
) -> list[SourceFold]:
    """Every source folder with 2+ photos, with the grid scored on all the other folders (the costly
    part: one grouping per threshold per fold, done once whatever the tie-break)."""
    folds = []
    for held in sorted({_source(row.file) for row in labels}):
        test = [i for i, row in enumerate(labels) if _source(row.file) == held]
        train = [i for i, row in enumerate(labels) if _source(row.file) != held]
        if len(test) < 2 or not train:
            continue
        scored = [(_grouped_f1(labels, run, train, t, analyzer), t) for t in grid]
        best = max(f for f, _ in scored)
        folds.append(SourceFold(held, test, [t for f, t in scored if f >= best - 1e-9]))
    return folds


def leave_one_source_out(
    labels: list[LabelledFile],
    run: LabelledRun,
    analyzer: FaceAnalyzer,
    grid: list[float],
    *,
    tie_break: str = "highest",
    folds: list[SourceFold] | None = None,
) -> dict[str, Any]:
    """The same-person threshold chosen on every source folder but one, then scored on that held-out
    folder, for each folder with 2+ photos: figures on people the threshold never saw. ``folds``
    (from `source_folds` on the same grid) spares scoring the grid again.

    On the folders it is chosen on, many thresholds often score the same best BCubed F1 (the folders
    hold no look-alikes, so nothing pins the lower end). ``tie_break`` picks among them: "highest"
    (the product's rule) takes the strictest, because two people merged into one CHARACTER pass each
    other's continuity checks unnoticed while one person split in two is plain to see and one merge
    away from right; "median" takes the middle of the tied range.
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, not {tie_break!r}")
    results: list[dict[str, Any]] = []
    for fold in source_folds(labels, run, analyzer, grid) if folds is None else folds:
        chosen = max(fold.tied) if tie_break == "highest" else float(np.median(fold.tied))
        results.append(
            {
                "held_out": fold.held_out,
                "photos": len(fold.test),
                "threshold": round(chosen, 4),
                "tied_range": [round(min(fold.tied), 4), round(max(fold.tied), 4)],
                "bcubed_f1": round(_grouped_f1(labels, run, fold.test, chosen, analyzer), 4),
            }
        )
    scores = [float(f["bcubed_f1"]) for f in results]
    weights = [int(f["photos"]) for f in results]
    return {
        "tie_break": tie_break,
        "folds": results,
        "bcubed_f1_mean": round(float(np.mean(scores)), 4) if scores else None,
        "bcubed_f1_weighted": round(float(np.average(scores, weights=weights)), 4) if scores else None,
        "bcubed_f1_min": round(min(scores), 4) if scores else None,
        "thresholds": [f["threshold"] for f in results],
    }


@dataclass(frozen=True)
class GroupPhoto:
    file: str
    named: frozenset[str]  # the labelled identities it shows (others in it are unnamed)


def read_group_photos(group_csv: Path, identities: set[str]) -> list[GroupPhoto]:
    """Rows of a ``file,identities_present`` CSV ("obama + biden") that name labelled identities."""
    with group_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"file", "identities_present"} <= set(reader.fieldnames):
            raise VidpipeError(
                f"group photos file {str(group_csv)!r} must have the columns file,identities_present; "
                f"it has {reader.fieldnames}"
            )
        rows = []
        for row in reader:
            named = frozenset(n.strip() for n in row["identities_present"].split("+")) & identities
            if row["file"] and "*" not in row["file"] and named:
                rows.append(GroupPhoto(row["file"], named))
        return rows


def group_photo_check(
    images_dir: Path, photos: list[GroupPhoto], labels: list[LabelledFile], run: LabelledRun, analyzer: FaceAnalyzer
) -> dict[str, Any]:
    """Photos of several people, grouped with the labelled single-face photos: does each named
    person's face join that person, and does no face join someone the photo does not show? The
    thresholds never saw these photos, so this checks them on people seen anew (recall above all)."""
    identity_of = {key: row.identity for row, key in zip(labels, run.labelled_keys, strict=True) if key}
    extra = [face for photo in photos for face in analyzer.analyze(load_image(images_dir / photo.file), photo.file)]
    photo_of = {face.key: face.photo for face in extra}
    groups = analyzer.group([*run.faces, *extra])
    rows = []
    for photo in photos:
        joined: set[str] = set()
        for group in groups:
            if any(photo_of.get(key) == photo.file for key in group.members):
                joined |= {identity_of[key] for key in group.members if key in identity_of}
        rows.append(
            {
                "file": photo.file,
                "named": sorted(photo.named),
                "found": sorted(joined & photo.named),
                "wrong": sorted(joined - photo.named),
            }
        )
    return {
        "photos": len(rows),
        "people_named": sum(len(r["named"]) for r in rows),
        "people_found": sum(len(r["found"]) for r in rows),
        "wrong_joins": sum(len(r["wrong"]) for r in rows),
        "rows": rows,
    }


def run_face_bench(
    images_dir: Path,
    labels_csv: Path,
    analyzer: FaceAnalyzer,
    *,
    progress: Callable[[int, int], None] | None = None,
    cross_validate: bool = False,
    group_photos_csv: Path | None = None,
) -> dict[str, Any]:
    labels = read_labels(labels_csv)
    # Decoded lazily inside the timed run, as a user's photos would be.
    photos = ((row.file, load_image(images_dir / row.file)) for row in labels)
    run = identify_labelled(photos, analyzer, total=len(labels), progress=progress)
    truth = [row.identity for row in labels]
    precision, recall, f1 = bcubed(truth, run.people)
    found_count = sum(key is not None for key in run.labelled_keys)
    seconds = run.seconds
    return {
        "detector": analyzer.detector.name,
        "embedder": analyzer.embedder.name,
        "threshold": analyzer.threshold,
        "faces_total": len(labels),
        "faces_found": found_count,
        "found_ratio": round(found_count / max(len(labels), 1), 4),
        "faces_detected_all": run.faces_found_all,
        "identities": len(set(truth)),
        "groups": run.groups,
        "bcubed_precision": round(precision, 4),
        "bcubed_recall": round(recall, 4),
        "bcubed_f1": round(f1, 4),
        "pairwise_f1": round(pairwise_f1(truth, run.people)[2], 4),
        "seconds": round(seconds, 2),
        "ms_per_image": round(1000 * seconds / max(len(labels), 1), 1),
        "missed": [row.file for row, key in zip(labels, run.labelled_keys, strict=True) if key is None],
        **(_cross_validated(labels, run, analyzer) if cross_validate else {}),
        **(
            {
                "group_photos": group_photo_check(
                    images_dir, read_group_photos(group_photos_csv, set(truth)), labels, run, analyzer
                )
            }
            if group_photos_csv is not None
            else {}
        ),
    }


def _cross_validated(labels: list[LabelledFile], run: LabelledRun, analyzer: FaceAnalyzer) -> dict[str, Any]:
    """Leave-one-source-out figures under the product's tie-break, and under the median for comparison."""
    grid = [round(analyzer.threshold + d, 4) for d in np.arange(-0.1, 0.1001, 0.005).tolist()]
    folds = source_folds(labels, run, analyzer, grid)
    return {
        "cross_validated": leave_one_source_out(labels, run, analyzer, grid, tie_break="highest", folds=folds),
        "cross_validated_median_tie_break": leave_one_source_out(
            labels, run, analyzer, grid, tie_break="median", folds=folds
        ),
    }
