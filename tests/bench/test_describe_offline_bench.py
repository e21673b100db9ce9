"""The offline describe bench on a tiny COCO file written here over the scikit-image samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vidpipe.bench.describe_offline import (
    REPORT_KEYS,
    asset_type_of,
    filler_in,
    names_class,
    run_describe_offline_bench,
)
from vidpipe.cli.app import app
from vidpipe.describe.describer import Describer, DescribeRequest, Description
from vidpipe.describe.describers.offline import OfflineDescriber
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data]

CATEGORIES = [
    {"id": 1, "name": "person"},
    {"id": 4, "name": "motorcycle"},
    {"id": 32, "name": "tie"},
    {"id": 47, "name": "cup"},
    {"id": 67, "name": "dining table"},
]


def tiny_coco(tmp_path: Path) -> Path:
    """Four usable boxes on three photos, plus one too small and one marked ignore (both left out)."""
    images = [
        {"id": 1, "file_name": "astronaut.png", "width": 512, "height": 512},
        {"id": 2, "file_name": "motorcycle_left.png", "width": 741, "height": 500},
        {"id": 3, "file_name": "coffee.png", "width": 600, "height": 400},
    ]
    boxes: list[tuple[int, int, list[float], dict[str, Any]]] = [
        (1, 1, [11, 20, 358, 487], {}),  # the astronaut
        (1, 32, [200, 230, 20, 20], {}),  # too small to describe
        (2, 4, [110, 67, 599, 379], {}),
        (3, 47, [162, 16, 259, 279], {}),
        (3, 67, [0, 0, 598, 398], {}),
        (3, 47, [10, 10, 120, 120], {"ignore": 1}),
    ]
    annotations = [
        {"id": i, "image_id": image, "category_id": cat, "bbox": box, "area": box[2] * box[3], "iscrowd": 0, **extra}
        for i, (image, cat, box, extra) in enumerate(boxes, 1)
    ]
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": CATEGORIES}))
    return path


class Parrot(Describer):
    """Writes a fixed, filler-laden prompt: the bench must count it against us."""

    name = "parrot"
    prompt_version = "p-1"

    def describe(self, request: DescribeRequest) -> Description:
        return Description(
            reverse_prompt="a thing, possibly also read as something, colour palette mostly taupe (42%)",
            visual_description="A thing.",
            quality_score=5.0,
            suggested_name="Thing",
            provider=self.name,
            model="parrot",
            prompt_version=self.prompt_version,
        )


def test_the_bench_reports_every_key_and_clean_prompts(settings: Settings, data_dir: Path, tmp_path: Path) -> None:
    images = data_dir / "detection" / "skimage_data"
    describer = OfflineDescriber.from_settings(settings, ocr=False)
    result = run_describe_offline_bench(images, [tiny_coco(tmp_path)], describer)
    assert set(REPORT_KEYS) <= set(result)
    assert result["crops"] == 4
    assert result["class_named_share"] == 1.0, result["unnamed_examples"]
    assert result["filler_share"] == 0.0 and result["bible_percentage_share"] == 0.0, result["filler_examples"]
    counts = result["word_counts"]
    assert set(counts) == {"CHARACTER", "VEHICLE", "PROP", "OBJECT"}
    assert counts["CHARACTER"]["prompt_range"] == [100, 150] and counts["VEHICLE"]["crops"] == 1
    for entry in counts.values():
        assert entry["prompt_in_range_share"] == 1.0, entry
    assert result["examples"][0].startswith("person: A person")
    assert result["seconds"] > 0 and len(result["examples"]) == 4


def test_the_bench_counts_filler_and_misnamed_classes(data_dir: Path, tmp_path: Path) -> None:
    result = run_describe_offline_bench(data_dir / "detection" / "skimage_data", [tiny_coco(tmp_path)], Parrot())
    assert result["class_named_share"] == 0.0 and result["filler_share"] == 1.0
    assert result["filler_kinds"]["percentage"] == 4 and result["filler_kinds"]["hedge"] == 4


def test_scoring_helpers() -> None:
    assert asset_type_of("person") is AssetType.CHARACTER and asset_type_of("motorcycle") is AssetType.VEHICLE
    assert asset_type_of("cup") is AssetType.PROP and asset_type_of("dining table") is AssetType.OBJECT
    assert names_class("A red motorcycle.", "motorcycle") and names_class("two sofas", "couch")
    assert names_class("a person with brown hair", "person") and not names_class("a red vehicle", "car")
    assert filler_in("dark brown dark brown tones") and filler_in("0.61 sure")
    assert filler_in("Reference quality 9.8/10.") == []


def test_no_usable_box_is_an_error(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"images": [], "annotations": [], "categories": CATEGORIES}))
    with pytest.raises(VidpipeError, match="no ground-truth box"):
        run_describe_offline_bench(data_dir, [path], Parrot())


def test_the_command_prints_one_json_object(model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    coco = tiny_coco(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "bench", "describe-offline", "--images", str(data_dir / "detection" / "skimage_data"),
            "--coco", str(coco), "--coco", str(coco), "--no-ocr", "--max-crops", "5",
            "--model-dir", str(model_dir), "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["crops"] == 5 and report["filler_share"] == 0.0
