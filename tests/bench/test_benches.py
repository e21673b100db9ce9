"""Benchmarks on small real subsets: the numbers they print must mean what they say."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from vidpipe.bench.detect import run_detect_bench
from vidpipe.bench.faces import run_face_bench
from vidpipe.bench.peers import face_peer, match_f1
from vidpipe.domain.detections import Detections
from vidpipe.errors import VidpipeError
from vidpipe.inference.face_analysis import FaceAnalyzer
from vidpipe.inference.object_detector import create_object_detector
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data]


def _subset(data_dir: Path, tmp_path: Path, identities: set[str], per_identity: int) -> Path:
    rows, seen = [], {}
    with (data_dir / "faces/labels.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["identity"] in identities and seen.get(row["identity"], 0) < per_identity:
                seen[row["identity"]] = seen.get(row["identity"], 0) + 1
                rows.append({"file": row["file"], "identity": row["identity"]})
    out = tmp_path / "labels.csv"
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["file", "identity"])
        writer.writeheader()
        writer.writerows(rows)
    return out


def test_face_bench_on_three_people(settings: Settings, data_dir: Path, tmp_path: Path) -> None:
    labels = _subset(data_dir, tmp_path, {"john_salley", "john_simm", "biden"}, 2)
    result = run_face_bench(data_dir / "faces", labels, FaceAnalyzer(settings=settings))
    assert result["faces_total"] == 6 and result["faces_found"] == 6
    assert result["bcubed_f1"] == 1.0 and result["pairwise_f1"] == 1.0 and result["groups"] == 3


def test_face_bench_counts_a_wrong_label_against_us(settings: Settings, data_dir: Path, tmp_path: Path) -> None:
    labels = _subset(data_dir, tmp_path, {"john_salley", "john_simm"}, 2)
    rows = labels.read_text().splitlines()
    rows[1] = rows[1].rsplit(",", 1)[0] + ",john_simm"  # mislabel one of Salley's photos
    labels.write_text("\n".join(rows) + "\n")
    result = run_face_bench(data_dir / "faces", labels, FaceAnalyzer(settings=settings))
    assert result["bcubed_f1"] < 0.9


def test_detect_bench_on_coco8(settings: Settings, data_dir: Path) -> None:
    folder = data_dir / "detection/coco8"
    gt = json.loads((folder / "instances_val_coco.json").read_text())
    assert gt["images"][0]["file_name"]
    result = run_detect_bench(
        folder, folder / "instances_val_coco.json", create_object_detector("yolox_nano", settings=settings)
    )
    assert result["images"] == 4
    assert 0.2 < result["map50"] <= 1.0 and result["map50_95"] < result["map50"]
    assert result["ms_per_image_median"] > 0


def test_face_peer_side_by_side(settings: Settings, data_dir: Path, tmp_path: Path) -> None:
    # find_spec, not importorskip: importing face_recognition here would change Pillow's settings.
    if importlib.util.find_spec("face_recognition") is None:
        pytest.skip("face_recognition (the face peer) is not installed")
    labels = _subset(data_dir, tmp_path, {"obama", "biden", "alex_lacamoire"}, 2)
    result = face_peer(data_dir / "faces", labels, FaceAnalyzer(settings=settings))
    assert result["images"] == 6
    assert result["ours_faces_found"] == 6 and result["peer_faces_found"] >= 5
    assert result["ours_bcubed_f1"] == 1.0
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # the peer's import did not leak
    assert result["time_ratio_ours_over_peer"] > 0 and result["box_agreement_f1"] > 0.8


def test_match_f1_pairs_boxes_one_to_one() -> None:
    a = Detections.from_arrays([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 1], [0, 0])
    b = Detections.from_arrays([[0, 0, 10, 11], [0, 0, 10, 10], [50, 50, 60, 60]], [1, 1, 1], [0, 0, 0])
    assert match_f1(a, b) == (1, 2, 3)
    assert match_f1(a, Detections.from_arrays([[0, 0, 10, 10]], [1], [1])) == (0, 2, 1)  # other class


def test_ultralytics_peer_missing_is_a_clear_error(settings: Settings, data_dir: Path) -> None:
    from vidpipe.bench.peers import UltralyticsPeer

    with pytest.raises(VidpipeError, match="ultralytics"):
        UltralyticsPeer("/nonexistent/python", "x.onnx", conf=0.5, iou=0.5)


def test_serve_bench_measures_a_real_server_under_watchers(settings: Settings, data_dir: Path, tmp_path: Path) -> None:
    from vidpipe.bench.serve_load import run_serve_bench

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("coffee.png", "chelsea.png"):
        (photos / name).symlink_to(data_dir / "detection" / "skimage_data" / name)
    result = run_serve_bench(photos, settings, pollers=4, streams=1, poll_seconds=0.1, rounds=1)
    assert result["photos"] == 2 and result["rounds"] == 1
    assert len(result["run_seconds_no_clients"]) == 1 and result["run_seconds_with_clients"][0] > 0
    # Polls were made during the watched run and timed by both ends; the server's own time is smaller.
    assert result["progress_requests"] >= 4
    assert 0 < result["progress_server_p99_ms"] <= result["progress_p99_ms"]
    assert json.loads(json.dumps(result)) == result


def test_registry_bench_judges_assets_against_the_ground_truth(settings: Settings, data_dir: Path) -> None:
    from vidpipe.bench.registry import run_registry_bench

    coco8 = data_dir / "detection" / "coco8"
    result = run_registry_bench(coco8 / "images" / "train", coco8 / "instances_train_coco.json", settings)
    assert result["photos"] == 4 and result["true_objects"] > 0 and result["assets"] > 0
    assert 0.0 <= result["asset_precision"] <= 1.0 and result["assets_judged"] > 0
    assert {"duplicates", "people_split", "people_merged", "not_true_objects"} <= set(result)
    assert json.loads(json.dumps(result)) == result
    with pytest.raises(VidpipeError, match="no photo"):
        run_registry_bench(coco8 / "images" / "val", coco8 / "instances_train_coco.json", settings)


def test_registry_bench_judges_characters_by_face_only_ground_truth(settings: Settings, data_dir: Path) -> None:
    from vidpipe.bench.registry import run_registry_bench

    faces = data_dir / "faces" / "dlib_faces"
    result = run_registry_bench(faces, faces / "face_boxes_coco.json", settings, part=(2, 3))
    # 9 photos with face boxes, every third from the second: 3 photos.
    assert result["photos"] == 3 and result["part"] == "2/3"
    assert result["assets_by_type"].get("CHARACTER", 0) >= result["assets_judged"] > 0
    assert result["asset_precision"] == 1.0 and result["duplicates"] == 0
    assert 0 < result["true_objects_with_an_asset"] <= result["true_objects"]


@pytest.mark.parametrize("text", ["2", "0/2", "3/2", "a/b"])
def test_registry_bench_part_must_read_k_of_n(text: str) -> None:
    from vidpipe.bench.registry import parse_part

    with pytest.raises(VidpipeError, match="--part"):
        parse_part(text)


def _group_csv(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    out = tmp_path / "groups.csv"
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "identities_present"])
        writer.writerows(rows)
    return out


def test_face_bench_checks_group_photos_against_the_labelled_people(
    settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    labels = _subset(data_dir, tmp_path, {"obama", "biden", "kit_harington"}, per_identity=2)
    two = "face_recognition/two_people.jpg"
    right = _group_csv(tmp_path, [(two, "obama + biden"), ("dlib_faces/bald_guys.jpg", "4 people")])
    result = run_face_bench(data_dir / "faces", labels, FaceAnalyzer(settings=settings), group_photos_csv=right)
    # The collage names nobody labelled, so only the two-shot is checked.
    check = result["group_photos"]
    assert check["photos"] == 1 and check["people_named"] == 2
    assert check["people_found"] == 2 and check["wrong_joins"] == 0
    # A wrong label costs: Kit Harington is not in the photo, and Biden's face joins Biden.
    wrong = _group_csv(tmp_path, [(two, "obama + kit_harington")])
    result = run_face_bench(data_dir / "faces", labels, FaceAnalyzer(settings=settings), group_photos_csv=wrong)
    assert result["group_photos"]["rows"] == [
        {"file": two, "named": ["kit_harington", "obama"], "found": ["obama"], "wrong": ["biden"]}
    ]
