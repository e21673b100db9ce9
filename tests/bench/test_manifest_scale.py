"""The manifest-scale bench: distinct photos made from the test data, and a real run measured in a child."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vidpipe.bench.manifest_scale import build_photos, run_scale_bench, source_photos
from vidpipe.domain.enums import AssetType
from vidpipe.settings import Settings

pytestmark = [pytest.mark.data]


def test_the_photos_differ_byte_for_byte_and_mix_the_sources(data_dir: Path, tmp_path: Path) -> None:
    sources = source_photos(data_dir)
    count = len(sources) + 40  # every source once, then second variants
    photos = build_photos(data_dir, count, tmp_path)
    assert len(photos) == count
    assert len({hashlib.sha256(p.path.read_bytes()).hexdigest() for p in photos}) == count
    assert {p.asset_type for p in photos[:40]} >= {AssetType.CHARACTER, AssetType.OBJECT}
    assert {p.asset_type for p in photos} == {
        AssetType.CHARACTER,
        AssetType.OBJECT,
        AssetType.ENVIRONMENT,
        AssetType.PROP,
    }


@pytest.mark.models
@pytest.mark.slow
def test_a_small_run_is_measured_in_a_child(settings: Settings, data_dir: Path) -> None:
    result = run_scale_bench(data_dir, settings, [3, 6])
    first, second = result["runs"]
    assert (first["photos"], second["photos"]) == (3, 6) and result["describer"] == "offline"
    for run in result["runs"]:
        # The child loaded the models (a few hundred MB) before the run, and peaked at or above that.
        assert 50 < run["rss_models_loaded_mb"] <= run["peak_rss_mb"] < 4096
        assert run["assets"] >= run["photos"] // 2 and run["seconds"] > 0
        assert run["seconds_per_photo"] == pytest.approx(run["seconds"] / run["photos"], rel=0.01)
