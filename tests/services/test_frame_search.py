"""Searching analysed frames by words: the contract with a CLIP-style image model (a tiny ONNX pair
built by the tests, as no CLIP weights exist here), and a clear refusal without a text tower."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.clipmaking import make_clip
from tests.inference.image_embedders.test_openclip import build_textual, build_tokenizer, build_visual, tiny_spec

from vidpipe.app import AppContext
from vidpipe.describe.describers.offline import OfflineDescriber
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.inference.image_embedders.openclip import OpenClipEmbedder
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, projects, runs
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data]


def _analysed_project(ctx: AppContext, data_dir: Path, tmp_path: Path) -> str:
    samples = data_dir / "detection" / "skimage_data"
    manifest = manifests.create_manifest(
        ctx, "Props", [PhotoIn(samples / "coffee.png", AssetType.PROP, "Cup")]
    ).manifest
    assert runs.process_manifest(ctx, str(manifest.id)).status.value == "SUCCEEDED"
    project = projects.create_project(ctx, "Search", str(manifest.id))
    scene = projects.add_scene(ctx, str(project.id), 1)
    clip = make_clip(tmp_path / "two.mp4", [(samples / "coffee.png", 1.0), (samples / "astronaut.png", 1.0)])
    added = projects.add_clip(ctx, str(scene.id), clip)
    assert projects.analyze_here(ctx, str(added.id)).status.value == "SUCCEEDED"
    return str(project.id)


def test_words_find_frames_ranked_by_the_clip_models_similarity(
    database_url: str, tmp_path: Path, toolkit: VisionToolkit, settings: Settings, data_dir: Path
) -> None:
    folder = tmp_path / "models"
    build_visual(folder / "m" / "visual.onnx")
    build_textual(folder / "m" / "textual.onnx")
    build_tokenizer(folder / "m" / "tokenizer.json")
    clip_model = OpenClipEmbedder(tiny_spec("m"), settings=Settings(model_dir=folder))
    with_clip = VisionToolkit(toolkit.detector, toolkit.faces, clip_model, None, settings)
    here = settings.model_copy(update={"data_dir": tmp_path / "data", "database_url": database_url})
    with AppContext.open(here, toolkit=with_clip, describer=OfflineDescriber()) as ctx:
        project = _analysed_project(ctx, data_dir, tmp_path)
        hits = projects.search_frames(ctx, project, "a photo of a cat")
        analysis = projects.get_analysis(ctx, str(hits[0].clip_id))
        frames = analysis.record["frames"]
        assert len(hits) == len(frames) and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        # The scores are the model's own: the cosine of its text and image embeddings, recomputed here.
        text = clip_model.embed_text(["a photo of a cat"])[0]
        for hit in hits:
            frame = next(f for f in frames if f["index"] == hit.frame_index)
            image = load_image(ctx.store.path(frame["image"]))
            expected = float(clip_model.embed([image])[0] @ text)
            assert hit.score == pytest.approx(expected, abs=0.02)
        assert {h.thumbnail_key for h in hits} == {f["thumbnail"] for f in frames}
        assert np.isfinite([h.score for h in hits]).all()


def test_without_a_text_tower_the_search_says_what_is_needed(
    app_ctx: AppContext, data_dir: Path, tmp_path: Path
) -> None:
    project = _analysed_project(app_ctx, data_dir, tmp_path)
    with pytest.raises(VidpipeError, match="needs an image model with a text tower"):
        projects.search_frames(app_ctx, project, "a red cup")
