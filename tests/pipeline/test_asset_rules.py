"""Asset rules as productions think of them, on real photos: worn things are wardrobe, the setting
is not an object, parts of one object are one asset, and a character photo's name goes to its
subject."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidpipe.app import AppContext
from vidpipe.domain.detections import Detections
from vidpipe.domain.enums import AssetType
from vidpipe.inference.nms import group_boxes, merge_parts
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs
from vidpipe.services.views import AssetView

pytestmark = [pytest.mark.models, pytest.mark.data]


def _assets(ctx: AppContext, photos: list[PhotoIn]) -> list[AssetView]:
    manifest = manifests.create_manifest(ctx, "Rules", photos).manifest
    job = runs.process_manifest(ctx, str(manifest.id))
    assert job.status.value == "SUCCEEDED", job.error
    return list(manifests.show_manifest(ctx, str(manifest.id)).assets)


def _attributes(ctx: AppContext, asset: AssetView) -> dict[str, list[str]]:
    from vidpipe.db.models import Asset

    with ctx.factory() as session:
        row = session.get(Asset, asset.id)
        assert row is not None
        return dict(row.attributes or {})


def test_ties_in_press_photos_are_the_characters_wardrobe(app_ctx: AppContext, data_dir: Path) -> None:
    faces = data_dir / "faces" / "face_recognition"
    assets = _assets(
        app_ctx,
        [
            PhotoIn(faces / "obama.jpg", AssetType.CHARACTER, "The President"),
            PhotoIn(faces / "obama2.jpg", AssetType.CHARACTER, "The President"),
            PhotoIn(faces / "biden.jpg", AssetType.CHARACTER, "The Mentor"),
        ],
    )
    assert not [a for a in assets if a.detection_class == "tie"], [(a.tag, a.name) for a in assets]
    president = next(a for a in assets if a.name == "The President")
    assert "tie" in _attributes(app_ctx, president).get("wardrobe", [])
    # Described from the whole person around the face: the clothes and the tie are in the words.
    prompt = (president.reverse_prompt or "").lower()
    assert "tie" in prompt and "upper body" in prompt, prompt


def test_a_tie_the_user_photographed_as_a_prop_stays_an_asset(app_ctx: AppContext, data_dir: Path) -> None:
    photo = data_dir / "faces" / "face_recognition" / "obama.jpg"
    assets = _assets(app_ctx, [PhotoIn(photo, AssetType.PROP, "Blue tie")])
    tie = next(a for a in assets if a.name == "Blue tie")
    assert tie.asset_type is AssetType.PROP and tie.detection_class == "tie"


def test_the_setting_and_half_objects_do_not_become_assets(app_ctx: AppContext, data_dir: Path) -> None:
    samples = data_dir / "detection" / "skimage_data"
    assets = _assets(
        app_ctx,
        [
            PhotoIn(samples / "coffee.png", AssetType.PROP, "Espresso"),
            PhotoIn(samples / "motorcycle_right.png", AssetType.VEHICLE, "Red bike"),
        ],
    )
    classes = [a.detection_class for a in assets]
    assert "dining table" not in classes, classes  # it covers most of the photo: the setting
    assert [a.name for a in assets if a.asset_type is AssetType.VEHICLE] == ["Red bike"], classes


def test_a_character_photos_name_goes_to_the_central_face_not_the_biggest(app_ctx: AppContext, data_dir: Path) -> None:
    photo = data_dir / "detection" / "ultralytics_assets" / "zidane.jpg"
    assets = _assets(app_ctx, [PhotoIn(photo, AssetType.CHARACTER, "Zidane")])
    zidane = next(a for a in assets if a.name == "Zidane")
    primary = next(r for r in zidane.references if r.primary)
    assert primary.bbox is not None
    x_centre = (primary.bbox[0] + primary.bbox[2]) / 2
    assert abs(x_centre - 640) < 150, primary.bbox  # the man in the middle, not the bigger face at the right
    # The other man keeps a face of his own, under another name.
    others = [a for a in assets if a.asset_type is AssetType.CHARACTER and a.id != zidane.id]
    assert others and all(a.name != "Zidane" for a in others)


def test_parts_of_one_object_become_one_box() -> None:
    found = Detections(
        xyxy=np.asarray([[0, 0, 100, 100], [40, 10, 160, 90], [300, 300, 340, 340], [10, 10, 60, 60]], np.float32),
        confidence=np.asarray([0.9, 0.8, 0.7, 0.6], np.float32),
        class_id=np.asarray([3, 3, 3, 0], np.int64),
        class_names=("person", "bicycle", "car", "motorcycle"),
    )
    merged = merge_parts(found, 0.6)
    # The two motorcycle halves overlap by 60/120 of the smaller: below 0.6, kept apart...
    assert len(merged) == 4
    halves = Detections(
        xyxy=np.asarray([[0, 0, 100, 100], [50, 5, 120, 95], [300, 300, 340, 340]], np.float32),
        confidence=np.asarray([0.9, 0.8, 0.7], np.float32),
        class_id=np.asarray([3, 3, 3], np.int64),
        class_names=("person", "bicycle", "car", "motorcycle"),
    )
    one = merge_parts(halves, 0.6)
    # ...while a box mostly inside another of its class joins it, and a far one stays.
    assert len(one) == 2 and one.xyxy[0].tolist() == [0, 0, 120, 100] and float(one.confidence[0]) == pytest.approx(0.9)


def test_a_box_around_two_objects_does_not_join_them() -> None:
    # VOC 2007_000363, as the default detector sees it: two birds, and one box around both.
    birds = Detections(
        xyxy=np.asarray([[159, 117, 500, 333], [49, 17, 205, 236], [54, 7, 471, 313]], np.float32),
        confidence=np.asarray([0.74, 0.64, 0.64], np.float32),
        class_id=np.asarray([0, 0, 0], np.int64),
        class_names=("bird",),
    )
    assert group_boxes(birds, 0.6).tolist() == [False, False, True]
    two = merge_parts(birds, 0.6)
    assert sorted(two.xyxy.tolist()) == sorted(birds.xyxy[:2].tolist())
    # One bike drawn whole and again as two halves: the whole is surer than its halves, so the
    # halves are its parts and join it.
    bike = Detections(
        xyxy=np.asarray([[0, 0, 200, 100], [0, 0, 110, 100], [90, 0, 200, 100]], np.float32),
        confidence=np.asarray([0.9, 0.8, 0.7], np.float32),
        class_id=np.asarray([0, 0, 0], np.int64),
        class_names=("motorcycle",),
    )
    assert not group_boxes(bike, 0.6).any()
    assert merge_parts(bike, 0.6).xyxy.tolist() == [[0, 0, 200, 100]]
