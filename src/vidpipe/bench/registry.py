"""The registry a folder of photos makes, against the photos' ground truth (COCO boxes): are its
assets real objects of their class, is any true object split over several assets, are people
split or merged."""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidpipe.app import AppContext
from vidpipe.bench.manifest import SUFFIXES
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.inference.nms import as_boxes, box_inside
from vidpipe.pipeline.planning import bbox_iou
from vidpipe.pipeline.uploads import PhotoIn, parse_asset_type
from vidpipe.services import manifests, runs
from vidpipe.settings import Settings

# A reference is a true object when its box overlaps one of the object's class this much (IoU),
# or, for a face, lies inside a true person box this much (over the face's own area).
MATCH_IOU = 0.5
FACE_IN_PERSON = 0.8
# Ground truth that boxes faces, not whole people (dlib's face photos): characters are judged by
# their faces there, and a character seen without a face cannot be judged.
FACE_CLASS = "face"
PEOPLE_CLASSES = ("person", FACE_CLASS)  # a true box of either kind is a person


@dataclass(frozen=True)
class TrueBox:
    image: str
    index: int
    name: str
    box: tuple[float, float, float, float]


def read_coco(coco_json: Path) -> dict[str, list[TrueBox]]:
    """Ground-truth boxes per image file name (x1, y1, x2, y2 in pixels), with class names."""
    try:
        data = json.loads(coco_json.read_text(encoding="utf-8"))
        names = {c["id"]: c["name"] for c in data["categories"]}
        files = {i["id"]: i["file_name"] for i in data["images"]}
        boxes: dict[str, list[TrueBox]] = defaultdict(list)
        for n, a in enumerate(data["annotations"]):
            x, y, w, h = a["bbox"]
            file = Path(files[a["image_id"]]).name
            boxes[file].append(TrueBox(file, n, names[a["category_id"]], (x, y, x + w, y + h)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VidpipeError(f"cannot read COCO ground truth {str(coco_json)!r}: {exc}") from None
    return dict(boxes)


def _matches(ref_box: list[float], is_face: bool, asset_class: str, truth: list[TrueBox]) -> list[TrueBox]:
    """The one true object a reference shows, if any: for a face, the tightest true person box
    holding it (person boxes overlap in groups), or with face-only ground truth the true face box
    its centre lies in (face boxes are drawn to other conventions than the detector's); otherwise
    the best-overlapping box of its class."""
    same_class = [t for t in truth if t.name == asset_class]
    if is_face and asset_class == FACE_CLASS:
        cx, cy = (ref_box[0] + ref_box[2]) / 2, (ref_box[1] + ref_box[3]) / 2
        holders = [t for t in same_class if t.box[0] <= cx <= t.box[2] and t.box[1] <= cy <= t.box[3]]
        return [max(holders, key=lambda t: bbox_iou(ref_box, t.box))] if holders else []
    if is_face and asset_class == "person":
        holders = [t for t in same_class if box_inside(as_boxes(ref_box), as_boxes(t.box))[0, 0] >= FACE_IN_PERSON]
        return [min(holders, key=lambda t: _area(t.box))] if holders else []
    scored = [(bbox_iou(ref_box, t.box), t) for t in same_class]
    best = max(scored, key=lambda st: st[0], default=None)
    return [best[1]] if best is not None and best[0] >= MATCH_IOU else []


def _area(box: list[float] | tuple[float, ...]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def parse_part(text: str) -> tuple[int, int]:
    """ "K/N" → (K, N): the K-th of N interleaved parts of the photos sorted by name."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise VidpipeError(f"--part must read K/N (for example 1/2), not {text!r}") from None
    if not 1 <= k <= n:
        raise VidpipeError(f"--part {text!r}: K must be between 1 and N")
    return k, n


def run_registry_bench(
    images_dir: Path,
    coco_json: Path,
    settings: Settings,
    *,
    asset_type: str | None = None,
    limit: int | None = None,
    part: tuple[int, int] | None = None,
) -> dict[str, Any]:
    truth = read_coco(coco_json)
    photos = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in SUFFIXES and p.name in truth)
    if part is not None:
        photos = photos[part[0] - 1 :: part[1]]
    if limit is not None:
        photos = photos[:limit]
    if not photos:
        raise VidpipeError(f"no photo of {str(images_dir)!r} has ground truth in {coco_json.name!r}")
    fixed = parse_asset_type(asset_type, "--type") if asset_type else None
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as folder:
        here = settings.model_copy(update={"data_dir": Path(folder), "database_url": None})
        with AppContext.open(here.with_describers(["offline"])) as ctx:
            typed = []
            for photo in photos:
                guess = None if fixed else manifests.guess_photo_type(ctx, photo)
                typed.append(PhotoIn(photo, fixed or (guess[0] if guess else AssetType.OBJECT)))
            manifest = manifests.create_manifest(ctx, "registry bench", typed).manifest
            start = time.perf_counter()
            job = runs.process_manifest(ctx, str(manifest.id))
            seconds = time.perf_counter() - start
            if job.status.value != "SUCCEEDED":
                raise VidpipeError(f"the bench manifest failed: {job.error}")
            view = manifests.show_manifest(ctx, str(manifest.id))
    files = {u.name: Path(u.original_filename).name for u in view.uploads}
    files.update({str(u.id): Path(u.original_filename).name for u in view.uploads})
    # Only classes the ground truth labels can be judged (VOC labels 20 of COCO's 80 classes).
    labelled = {t.name for boxes in truth.values() for t in boxes}
    judged, correct, wrong, unjudged = 0, 0, [], 0
    assets_of_truth: dict[tuple[str, int], set[str]] = defaultdict(set)
    merged_people: list[str] = []
    by_type: dict[str, int] = defaultdict(int)
    for asset in view.assets:
        by_type[asset.asset_type.value] += 1
        asset_class = "person" if asset.asset_type is AssetType.CHARACTER else (asset.detection_class or "")
        faces_only = asset_class == "person" and "person" not in labelled and FACE_CLASS in labelled
        if faces_only:
            asset_class = FACE_CLASS
        primary_ok = False
        people_here: dict[str, set[int]] = defaultdict(set)
        for ref in asset.references:
            if ref.bbox is None or ref.source not in files:
                continue
            image = files[ref.source]
            hits = _matches(list(ref.bbox), ref.has_face, asset_class, truth.get(image, []))
            for t in hits:
                assets_of_truth[(image, t.index)].add(asset.tag or str(asset.id))
                if t.name in PEOPLE_CLASSES:
                    people_here[image].add(t.index)
            if ref.primary and hits:
                primary_ok = True
        if any(len(v) > 1 for v in people_here.values()):
            merged_people.append(asset.tag or str(asset.id))
        if not asset_class or asset.asset_type in (AssetType.ENVIRONMENT, AssetType.STYLE):
            continue  # a place or a look: no box to check
        if asset_class not in labelled or (faces_only and not any(r.primary and r.has_face for r in asset.references)):
            unjudged += 1
            continue
        judged += 1
        if primary_ok:
            correct += 1
        else:
            seen_in = next((files[r.source] for r in asset.references if r.primary and r.source in files), "?")
            wrong.append(f"{asset.tag} {asset.name} ({asset_class}) in {seen_in}")
    duplicates = {k: v for k, v in assets_of_truth.items() if len(v) > 1}
    people_split = [k for k in duplicates if any(t.index == k[1] and t.name in PEOPLE_CLASSES for t in truth[k[0]])]
    return {
        "photos": len(photos),
        "part": f"{part[0]}/{part[1]}" if part else None,
        "true_objects": sum(len(truth[p.name]) for p in photos),
        # Small and background objects are not extracted by design, so this is far from 1.
        "true_objects_with_an_asset": len(assets_of_truth),
        "assets": len(view.assets),
        "assets_by_type": dict(sorted(by_type.items())),
        "assets_judged": judged,
        "assets_of_unlabelled_classes": unjudged,
        "asset_precision": round(correct / judged, 4) if judged else None,
        "duplicates": len(duplicates),
        "people_split": len(people_split),
        "people_merged": len(merged_people),
        "seconds": round(seconds, 2),
        "not_true_objects": wrong[:30],
        "duplicated": [f"{image}#{index}: {', '.join(sorted(tags))}" for (image, index), tags in duplicates.items()][
            :30
        ],
    }
