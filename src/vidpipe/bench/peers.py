"""Side-by-side runs against established peers on the same images and the same weights.

- Detection: vidpipe's Ultralytics adapter against the ``ultralytics`` package, both predicting
  with the same ONNX file (Ultralytics runs ONNX files through onnxruntime too). Ultralytics may
  live in another interpreter (its PyTorch conflicts with ours); it then runs as a subprocess.
- Faces: vidpipe's face pipeline against ``face_recognition`` (ageitgey: dlib HOG detector and
  ResNet encodings), grouped with dlib's Chinese-whispers clustering at the library's documented
  tolerance of 0.6.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vidpipe.bench.detect import MAP_CONFIDENCE, category_map, load_ground_truth, to_coco_results
from vidpipe.bench.faces import identify_labelled, most_prominent, read_labels
from vidpipe.domain.detections import Detections
from vidpipe.errors import VidpipeError
from vidpipe.evaluation.clustering import bcubed
from vidpipe.evaluation.coco_map import evaluate_coco
from vidpipe.imaging.loading import load_image
from vidpipe.inference.face_analysis import FaceAnalyzer
from vidpipe.inference.nms import box_iou
from vidpipe.inference.object_detector import ObjectDetector


def match_f1(reference: Detections, candidate: Detections, iou: float = 0.5) -> tuple[int, int, int]:
    """Greedy one-to-one matching (same class, IoU ≥ ``iou``): (matched, reference count, candidate count)."""
    if len(reference) == 0 or len(candidate) == 0:
        return 0, len(reference), len(candidate)
    ious = box_iou(reference.xyxy, candidate.xyxy)
    ious[reference.class_id[:, None] != candidate.class_id[None, :]] = 0.0
    matched = 0
    while True:
        r, c = np.unravel_index(int(np.argmax(ious)), ious.shape)
        if ious[r, c] < iou:
            break
        matched += 1
        ious[r, :] = 0.0
        ious[:, c] = 0.0
    return matched, len(reference), len(candidate)


def _f1(matched: int, n_ref: int, n_cand: int) -> float:
    return 2 * matched / (n_ref + n_cand) if (n_ref + n_cand) else 1.0


class UltralyticsPeer:
    """The Ultralytics package in a child process (possibly another interpreter), asked image by image."""

    def __init__(self, python: str | None, model: str, *, conf: float, iou: float, imgsz: int = 640) -> None:
        script = Path(__file__).with_name("ultralytics_peer.py")
        if python is None:
            if importlib.util.find_spec("ultralytics") is None:
                raise VidpipeError(
                    "the ultralytics peer is not installed here; install it in its own environment "
                    "(python -m venv ulvenv && ulvenv/bin/pip install ultralytics onnxruntime) and pass "
                    "--ultralytics-python ulvenv/bin/python"
                )
            python = sys.executable
        try:
            self.process = subprocess.Popen(
                [python, str(script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError as exc:
            raise VidpipeError(f"cannot start the ultralytics peer with {python!r}: {exc}") from exc
        self.version = str(self._ask({"model": model, "conf": conf, "iou": iou, "imgsz": imgsz})["version"])

    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
            reply: dict[str, Any] = json.loads(line)
        except (OSError, ValueError) as exc:
            self.close()
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise VidpipeError(f"the ultralytics peer failed: {stderr.strip()[-800:] or exc}") from exc
        return reply

    def predict(self, path: str) -> dict[str, Any]:
        return self._ask({"image": path})

    def close(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def detection_peer(
    images_dir: Path,
    coco_json: Path,
    detector: ObjectDetector,
    *,
    ultralytics_python: str | None,
    agreement_confidence: float = 0.25,
) -> dict[str, Any]:
    """Our adapter and the Ultralytics package on the same ONNX file, the same images, the same thresholds."""
    ground_truth = load_ground_truth(coco_json)
    categories = category_map(ground_truth, detector.class_names)
    entries = ground_truth["images"]
    paths = [str(images_dir / e["file_name"]) for e in entries]
    model_file = str(detector.model_path())
    peer = UltralyticsPeer(ultralytics_python, model_file, conf=MAP_CONFIDENCE, iou=detector.nms_iou)
    detector.confidence = MAP_CONFIDENCE
    ours_results: list[dict[str, Any]] = []
    peer_results: list[dict[str, Any]] = []
    ours_ms: list[float] = []
    peer_ms: list[float] = []
    agreement = [0, 0, 0]
    try:
        for n, (entry, path) in enumerate(zip(entries, paths, strict=True)):
            image = load_image(path)
            if n == 0:  # warm-up on both sides: session creation is not per-image time
                detector.detect(image)
                peer.predict(path)
            # Alternate which side goes first, so neither always runs on a warmer cache.
            theirs: dict[str, Any] = {}
            for side in (0, 1) if n % 2 == 0 else (1, 0):
                if side == 0:
                    start = time.perf_counter()
                    found = detector.detect(image)
                    ours_ms.append(1000 * (time.perf_counter() - start))
                else:
                    theirs = peer.predict(path)
                    peer_ms.append(float(theirs["ms"]))
            peer_found = Detections.from_arrays(
                np.asarray(theirs["xyxy"], np.float32).reshape(-1, 4),
                np.asarray(theirs["conf"], np.float32),
                np.asarray(theirs["cls"], np.int64),
                class_names=detector.class_names,
            )
            ours_results.extend(to_coco_results(int(entry["id"]), found, categories))
            peer_results.extend(to_coco_results(int(entry["id"]), peer_found, categories))
            m, r, c = match_f1(
                peer_found[peer_found.confidence >= agreement_confidence],
                found[found.confidence >= agreement_confidence],
            )
            agreement = [agreement[0] + m, agreement[1] + r, agreement[2] + c]
    finally:
        peer.close()
    ours = evaluate_coco(ground_truth, ours_results)
    theirs_scores = evaluate_coco(ground_truth, peer_results)
    ours_median = statistics.median(ours_ms)
    peer_median = statistics.median(peer_ms)
    return {
        "model_file": Path(model_file).name,
        "images": len(entries),
        "peer": f"ultralytics {peer.version}",
        "ours_map50": round(ours.ap50, 4),
        "peer_map50": round(theirs_scores.ap50, 4),
        "ours_map50_95": round(ours.ap, 4),
        "peer_map50_95": round(theirs_scores.ap, 4),
        "map50_95_diff_points": round(100 * (ours.ap - theirs_scores.ap), 2),
        "ours_ms_per_image": round(ours_median, 1),
        "peer_ms_per_image": round(peer_median, 1),
        "time_ratio_ours_over_peer": round(ours_median / peer_median, 3),
        "agreement_f1": round(_f1(*agreement), 4),
        "agreement_confidence": agreement_confidence,
    }


def face_peer(images_dir: Path, labels_csv: Path, analyzer: FaceAnalyzer) -> dict[str, Any]:
    """Our face pipeline and face_recognition on the same labelled photos."""
    from PIL import ImageFile

    truncated_setting = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        import dlib
        import face_recognition
    except ImportError as exc:
        raise VidpipeError(
            "the face peer needs face_recognition: pip install --no-deps face_recognition (beside vidpipe[dlib])"
        ) from exc
    finally:
        # face_recognition switches Pillow to accepting truncated files for the whole process on
        # import; vidpipe's loader relies on Pillow refusing them.
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated_setting
    labels = read_labels(labels_csv)
    truth = [row.identity for row in labels]
    images = [load_image(images_dir / row.file) for row in labels]

    # Ours: the same code as `vidpipe bench faces`, on the same decoded photos as the peer.
    analyzer.detect(images[0])
    ours = identify_labelled(((row.file, image) for row, image in zip(labels, images, strict=True)), analyzer)

    # Peer: face_recognition's HOG detector (its default) and encodings, one image at a time.
    face_recognition.face_locations(images[0])
    start = time.perf_counter()
    encodings: list[np.ndarray[Any, Any]] = []
    peer_index: list[int | None] = []
    peer_dets = []
    for image in images:
        locations = face_recognition.face_locations(image)
        found = Detections.from_arrays(
            np.asarray([[left, top, right, bottom] for top, right, bottom, left in locations], np.float32).reshape(
                -1, 4
            ),
            np.ones(len(locations), np.float32),
            class_names=("face",),
        )
        peer_dets.append(found)
        codes = face_recognition.face_encodings(image, locations)
        peer_index.append(len(encodings) + most_prominent(found) if codes else None)
        encodings.extend(codes)
    clusters = dlib.chinese_whispers_clustering([dlib.vector(e.tolist()) for e in encodings], 0.6) if encodings else []
    peer_seconds = time.perf_counter() - start
    peer_pred = [clusters[i] if i is not None else None for i in peer_index]

    agreement = [0, 0, 0]
    for ours_found, peer_found in zip(ours.detections, peer_dets, strict=True):
        m, r, c = match_f1(peer_found, ours_found, iou=0.3)
        agreement = [agreement[0] + m, agreement[1] + r, agreement[2] + c]
    n = len(labels)
    return {
        "images": n,
        "peer": f"face_recognition {face_recognition.__version__} (HOG + dlib ResNet, chinese whispers 0.6)",
        "ours": f"{analyzer.detector.name} + {analyzer.embedder.name}",
        "ours_faces_found": sum(k is not None for k in ours.labelled_keys),
        "peer_faces_found": sum(i is not None for i in peer_index),
        "ours_bcubed_f1": round(bcubed(truth, ours.people)[2], 4),
        "peer_bcubed_f1": round(bcubed(truth, peer_pred)[2], 4),
        "ours_ms_per_image": round(1000 * ours.seconds / n, 1),
        "peer_ms_per_image": round(1000 * peer_seconds / n, 1),
        "time_ratio_ours_over_peer": round(ours.seconds / peer_seconds, 3),
        "box_agreement_f1": round(_f1(*agreement), 4),
    }
