"""The OpenCLIP adapter's input/output contract, on tiny ONNX models and a tokenizer built here.

No CLIP weights exist on these machines, so this proves what the adapter feeds a model and what it
does with the outputs, not the quality of real CLIP embeddings. The visual model outputs the
per-channel mean of its input plus a constant 1; the textual model outputs chosen token ids and
their sum plus a constant 1. Dividing the L2-normalised output by its constant component recovers
those exact values, so the tests can check the normalised pixels and token ids the model received.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from vidpipe.errors import ModelMissingError
from vidpipe.inference.image_embedder import create_image_embedder
from vidpipe.inference.image_embedders.openclip import (
    CLIP_MEAN,
    CLIP_STD,
    OpenClipEmbedder,
    clip_preprocess,
)
from vidpipe.inference.specs import ModelFile, ModelSpec, Task
from vidpipe.settings import Settings, VisionSettings

D = 8
ONE = 3  # index of the constant-1 component in both towers' outputs
VOCAB = {
    "!": 0,
    "a": 1,
    "photo": 2,
    "of": 3,
    "cat": 4,
    "dog": 5,
    "[UNK]": 6,
    "<|startoftext|>": 7,
    "<|endoftext|>": 8,
}
SOT, EOT = VOCAB["<|startoftext|>"], VOCAB["<|endoftext|>"]
PIXEL_TOL = 1e-3


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def build_visual(path: Path, *, batch: int | str = "batch", size: int = 224) -> None:
    """image [N,3,S,S] -> [mean R, mean G, mean B, 1, 0, 0, 0, 0]."""
    weight = np.zeros((3, D), np.float32)
    weight[[0, 1, 2], [0, 1, 2]] = 1.0
    bias = np.zeros(D, np.float32)
    bias[ONE] = 1.0
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "w", "b"], ["embedding"]),
        ],
        "tiny_visual",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, D])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    _save(graph, path)


def build_textual(
    path: Path, *, batch: int | str = "batch", length: int = 77, int_type: int = TensorProto.INT64
) -> None:
    """text [N,L] int -> [id 0, id 1, id 2, 1, sum of ids, id L-1, 0, 0]."""
    weight = np.zeros((length, D), np.float32)
    weight[0, 0] = weight[1, 1] = weight[2, 2] = 1.0
    weight[:, 4] = 1.0
    weight[length - 1, 5] = 1.0
    bias = np.zeros(D, np.float32)
    bias[ONE] = 1.0
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["text"], ["as_float"], to=TensorProto.FLOAT),
            helper.make_node("Gemm", ["as_float", "w", "b"], ["embedding"]),
        ],
        "tiny_textual",
        [helper.make_tensor_value_info("text", int_type, [batch, length])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, D])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    _save(graph, path)


def build_tokenizer(path: Path, *, pad_id: int | None = None) -> None:
    """CLIP-like: lower-case, split on whitespace, wrap in start/end-of-text tokens."""
    tokenizer = Tokenizer(models.WordLevel(VOCAB, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[("<|startoftext|>", SOT), ("<|endoftext|>", EOT)],
    )
    if pad_id is not None:
        tokenizer.enable_padding(pad_id=pad_id, pad_token="<|endoftext|>")
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))


def tiny_spec(folder: str) -> ModelSpec:
    return ModelSpec(
        name=f"tiny_clip_{folder}",
        task=Task.IMAGE_EMBEDDING,
        files=(
            ModelFile(f"{folder}/visual.onnx", None),
            ModelFile(f"{folder}/textual.onnx", None),
            ModelFile(f"{folder}/tokenizer.json", None),
        ),
        licence="MIT",
        source="built by the test",
        input_format="as clip_vit_b32_openai",
        thresholds={"same_object": 0.9},
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(model_dir=tmp_path)


@pytest.fixture
def clip(tmp_path: Path, settings: Settings) -> OpenClipEmbedder:
    build_visual(tmp_path / "m" / "visual.onnx")
    build_textual(tmp_path / "m" / "textual.onnx")
    build_tokenizer(tmp_path / "m" / "tokenizer.json")
    return OpenClipEmbedder(tiny_spec("m"), settings=settings)


def recover(rows: np.ndarray) -> np.ndarray:
    """Undo the L2 normalisation using the constant-1 component."""
    return rows / rows[:, ONE : ONE + 1]


def expected_pixels(rgb: tuple[int, int, int]) -> np.ndarray:
    return (np.asarray(rgb, np.float64) / 255.0 - np.asarray(CLIP_MEAN)) / np.asarray(CLIP_STD)


def record_feeds(embedder: OpenClipEmbedder) -> list[dict[str, np.ndarray]]:
    """Wrap the embedder's image-tower ``run`` to keep a copy of every feed."""
    feeds: list[dict[str, np.ndarray]] = []
    original = embedder.run

    def run(f: dict[str, np.ndarray]) -> list[np.ndarray]:
        feeds.append({k: v.copy() for k, v in f.items()})
        return original(f)

    embedder.run = run  # type: ignore[method-assign]
    return feeds


# -- image tower ----------------------------------------------------------------------------------


def test_constant_colour_reaches_the_model_clip_normalised(clip: OpenClipEmbedder) -> None:
    feeds = record_feeds(clip)
    colour = (200, 100, 30)
    rows = clip.embed([np.full((50, 80, 3), colour, np.uint8)])
    (feed,) = feeds
    pixels = feed["image"]
    assert pixels.shape == (1, 3, 224, 224) and pixels.dtype == np.float32
    for channel, value in enumerate(expected_pixels(colour)):  # NCHW, RGB order, every pixel
        np.testing.assert_allclose(pixels[0, channel], value, atol=1e-5)
    assert rows.shape == (1, D) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(recover(rows)[0, :3], expected_pixels(colour), atol=PIXEL_TOL)


@pytest.mark.parametrize("tall", [False, True])
def test_shortest_side_resize_then_centre_crop(clip: OpenClipEmbedder, tall: bool) -> None:
    # 100×400: the crop keeps source columns 150..250 of the green middle 100..300; blue is cut off.
    green, blue = (0, 255, 0), (0, 0, 255)
    image = np.full((100, 400, 3), blue, np.uint8)
    image[:, 100:300] = green
    if tall:
        image = np.ascontiguousarray(image.transpose(1, 0, 2))
    feeds = record_feeds(clip)
    values = recover(clip.embed([image]))[0, :3]
    pixels = feeds[0]["image"][0]
    for channel, value in enumerate(expected_pixels(green)):  # not one blue pixel in the crop
        np.testing.assert_allclose(pixels[channel], value, atol=1e-5)
    np.testing.assert_allclose(values, expected_pixels(green), atol=PIXEL_TOL)


def test_clip_preprocess_layout() -> None:
    image = np.zeros((300, 500, 3), np.uint8)
    image[..., 0] = 255  # red
    arr = clip_preprocess(image)
    assert arr.shape == (3, 224, 224) and arr.dtype == np.float32
    for channel, value in enumerate(expected_pixels((255, 0, 0))):
        np.testing.assert_allclose(arr[channel], value, atol=1e-5)


def test_dynamic_batch_runs_once_in_order(clip: OpenClipEmbedder) -> None:
    feeds = record_feeds(clip)
    colours = [(255, 0, 0), (0, 255, 0), (10, 20, 30)]
    rows = clip.embed([np.full((30 + 10 * i, 40, 3), c, np.uint8) for i, c in enumerate(colours)])
    assert len(feeds) == 1
    (feed,) = feeds
    assert list(feed) == ["image"]
    assert feed["image"].shape == (3, 3, 224, 224) and feed["image"].dtype == np.float32
    for row, colour in zip(recover(rows), colours, strict=True):
        np.testing.assert_allclose(row[:3], expected_pixels(colour), atol=PIXEL_TOL)
    assert clip.embed([]).shape == (0, D)


def test_fixed_batch_and_input_size_come_from_the_session(tmp_path: Path, settings: Settings) -> None:
    build_visual(tmp_path / "f" / "visual.onnx", batch=1, size=64)
    build_textual(tmp_path / "f" / "textual.onnx", batch=1)
    build_tokenizer(tmp_path / "f" / "tokenizer.json")
    clip = OpenClipEmbedder(tiny_spec("f"), settings=settings)
    feeds = record_feeds(clip)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    rows = clip.embed([np.full((90, 120, 3), c, np.uint8) for c in colours])
    assert [f["image"].shape for f in feeds] == [(1, 3, 64, 64)] * 3
    assert rows.shape == (3, D)
    for row, colour in zip(recover(rows), colours, strict=True):
        np.testing.assert_allclose(row[:3], expected_pixels(colour), atol=PIXEL_TOL)
    text = clip.embed_text(["a cat", "a dog", "cat"])
    assert text.shape == (3, D)
    np.testing.assert_allclose(recover(text)[:, 4], [SOT + 1 + 4 + EOT, SOT + 1 + 5 + EOT, SOT + 4 + EOT])


# -- text tower -----------------------------------------------------------------------------------


def test_tokens_are_padded_to_77_with_zeros(clip: OpenClipEmbedder) -> None:
    ids = clip.tokenize(["A photo of a CAT", "dog"])
    assert ids.shape == (2, 77) and ids.dtype == np.int64
    assert ids[0, :7].tolist() == [SOT, 1, 2, 3, 1, 4, EOT]
    assert ids[1, :3].tolist() == [SOT, 5, EOT]
    assert (ids[0, 7:] == 0).all() and (ids[1, 3:] == 0).all()


def test_text_embedding_sees_the_token_ids(clip: OpenClipEmbedder) -> None:
    rows = clip.embed_text(["a photo of a cat", "dog", "unknownword cat"])
    assert rows.shape == (3, D) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    values = recover(rows)
    # id 0, id 1, id 2, (constant), sum, id at position 76
    np.testing.assert_allclose(values[0, [0, 1, 2, 4, 5]], [SOT, 1, 2, SOT + 1 + 2 + 3 + 1 + 4 + EOT, 0])
    np.testing.assert_allclose(values[1, [0, 1, 2, 4, 5]], [SOT, 5, EOT, SOT + 5 + EOT, 0])
    np.testing.assert_allclose(values[2, [0, 1, 2]], [SOT, VOCAB["[UNK]"], 4])
    # A batch gives the same rows as one text at a time.
    np.testing.assert_allclose(clip.embed_text(["dog"])[0], rows[1], atol=1e-6)
    assert clip.embed_text([]).shape == (0, D)


def test_long_text_is_truncated_and_still_ends_with_end_of_text(clip: OpenClipEmbedder) -> None:
    ids = clip.tokenize(["cat " * 100])
    assert ids.shape == (1, 77)
    assert ids[0, 0] == SOT and ids[0, -1] == EOT
    assert (ids[0, 1:-1] == 4).all()
    assert recover(clip.embed_text(["cat " * 100]))[0, 5] == EOT


def test_int32_input_and_context_length_from_the_session(tmp_path: Path, settings: Settings) -> None:
    build_visual(tmp_path / "i" / "visual.onnx")
    build_textual(tmp_path / "i" / "textual.onnx", length=16, int_type=TensorProto.INT32)
    build_tokenizer(tmp_path / "i" / "tokenizer.json")
    clip = OpenClipEmbedder(tiny_spec("i"), settings=settings)
    ids = clip.tokenize(["a cat"])
    assert ids.shape == (1, 16) and ids.dtype == np.int32
    values = recover(clip.embed_text(["a cat", "cat " * 40]))
    np.testing.assert_allclose(values[0, 4], SOT + 1 + 4 + EOT)
    np.testing.assert_allclose(values[1, 5], EOT)  # truncated to 16, end-of-text last


def test_pad_id_from_the_tokenizer_file(tmp_path: Path, settings: Settings) -> None:
    build_visual(tmp_path / "p" / "visual.onnx")
    build_textual(tmp_path / "p" / "textual.onnx")
    build_tokenizer(tmp_path / "p" / "tokenizer.json", pad_id=EOT)
    clip = OpenClipEmbedder(tiny_spec("p"), settings=settings)
    ids = clip.tokenize(["a cat"])
    assert ids.shape == (1, 77)
    assert ids[0, :4].tolist() == [SOT, 1, 4, EOT] and (ids[0, 4:] == EOT).all()


def test_refuses_a_single_string(clip: OpenClipEmbedder) -> None:
    with pytest.raises(ValueError, match="sequence of texts"):
        clip.embed_text("a cat")


# -- loading --------------------------------------------------------------------------------------


def test_text_tower_loads_only_when_used(tmp_path: Path, settings: Settings) -> None:
    build_visual(tmp_path / "v" / "visual.onnx")  # no textual.onnx, no tokenizer.json
    clip = OpenClipEmbedder(tiny_spec("v"), settings=settings)
    assert clip.embed([np.zeros((10, 10, 3), np.uint8)]).shape == (1, D)
    assert clip.dim == D
    with pytest.raises(ModelMissingError, match=r"textual\.onnx"):
        clip.embed_text(["a cat"])


def test_factory_with_the_real_spec_layout(tmp_path: Path) -> None:
    folder = tmp_path / "clip_vit_b32_openai"
    build_visual(folder / "visual.onnx")
    build_textual(folder / "textual.onnx")
    build_tokenizer(folder / "tokenizer.json")
    settings = Settings(model_dir=tmp_path, vision=VisionSettings(image_embedder="clip_vit_b32_openai"))
    clip = create_image_embedder(settings=settings)
    assert isinstance(clip, OpenClipEmbedder)
    assert clip.dim == D
    assert clip.same_object_threshold == pytest.approx(0.85)
    image_rows = clip.embed([np.full((60, 60, 3), 128, np.uint8)])
    text_rows = clip.embed_text(["a cat"])
    assert (image_rows @ text_rows.T).shape == (1, 1)
    assert clip.calls == 2 and clip.seconds > 0
