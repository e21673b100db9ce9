"""CLIP-style image and text embeddings from OpenCLIP ONNX exports in the immich layout.

Files: ``visual.onnx`` (image tower), ``textual.onnx`` (text tower) and ``tokenizer.json`` (a
HuggingFace ``tokenizers`` file), listed in that order in the spec. Both towers embed into one
space, so a text can be scored against image embeddings (text search over frames and crops).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vidpipe.errors import ModelError
from vidpipe.inference.image_embedder import FloatArray, ImageEmbedder, run_in_batches, static_batch
from vidpipe.inference.preprocess import UInt8Image
from vidpipe.inference.sessions import get_session
from vidpipe.inference.specs import ModelSpec
from vidpipe.inference.vectors import l2_normalise
from vidpipe.settings import Settings

# OpenAI CLIP's normalisation, which OpenCLIP uses for the OpenAI weights and most of its own.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_IMAGE_SIZE = 224
DEFAULT_CONTEXT_LENGTH = 77

_VISUAL, _TEXTUAL, _TOKENIZER = 0, 1, 2
_INT_TYPES: dict[str, type[np.integer[Any]]] = {"tensor(int32)": np.int32, "tensor(int64)": np.int64}


def clip_preprocess(
    image: UInt8Image,
    size_hw: tuple[int, int] = (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE),
    *,
    mean: tuple[float, float, float] = CLIP_MEAN,
    std: tuple[float, float, float] = CLIP_STD,
) -> FloatArray:
    """OpenCLIP's eval transform: bicubic resize of the shortest side, centre crop, /255, mean/std.

    Returns a 3×H×W float32 array. Resizing goes through Pillow, as OpenCLIP's (torchvision on PIL
    images) does, so downscaling is antialiased the same way.
    """
    th, tw = size_hw
    h, w = image.shape[:2]
    # torchvision Resize(int): the short side becomes the size, the long side int(size * long / short)
    # (generalised to a non-square input: scale so the image just covers it).
    if h * tw <= w * th:
        nh, nw = th, max(tw, int(th * w / h))
    else:
        nh, nw = max(th, int(tw * h / w)), tw
    resized = image
    if (nh, nw) != (h, w):
        resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BICUBIC))
    # torchvision CenterCrop: offsets round((size_in - size_out) / 2).
    top, left = round((nh - th) / 2.0), round((nw - tw) / 2.0)
    crop = resized[top : top + th, left : left + tw]
    arr = (crop.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    out: FloatArray = np.ascontiguousarray(arr.transpose(2, 0, 1))
    return out


@dataclass(frozen=True)
class _TextTower:
    session: Any
    tokenizer: Any  # tokenizers.Tokenizer, truncating to the context length
    input_name: str
    context_length: int
    dtype: type[np.integer[Any]]
    pad_id: int
    fixed_batch: int | None


class OpenClipEmbedder(ImageEmbedder):
    """Image and text embeddings of an OpenCLIP ONNX export (immich layout), L2-normalised.

    The image tower is the model's main session (``session``, ``run``); the text tower and the
    tokenizer load on the first ``embed_text``, so image-only use never loads them (the ViT-B/32
    text tower alone is about 250 MB) and works with only ``visual.onnx`` present.
    """

    default_model: ClassVar[str] = "clip_vit_b32_openai"
    supports_text: ClassVar[bool] = True

    def __init__(self, model: str | ModelSpec | None = None, *, settings: Settings | None = None) -> None:
        super().__init__(model, settings=settings)
        if len(self.spec.files) < 3:
            raise ModelError(
                f"model {self.spec.name!r}: an OpenCLIP export needs three files: "
                "visual.onnx, textual.onnx and tokenizer.json"
            )
        self._text: _TextTower | None = None
        self._text_lock = threading.Lock()

    def _load(self) -> Any:
        return get_session(self.model_path(_VISUAL), self.settings.runtime)

    # -- images ------------------------------------------------------------------------------------

    def preprocess(self, image: UInt8Image) -> FloatArray:
        """One image as the 3×S×S float32 array the image tower takes (S from its input shape)."""
        return clip_preprocess(image, self.input_hw((DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)))

    # -- text --------------------------------------------------------------------------------------

    def _text_tower(self) -> _TextTower:
        if self._text is None:
            with self._text_lock:
                if self._text is None:
                    self._text = self._load_text_tower()
        return self._text

    def _load_text_tower(self) -> _TextTower:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ModelError("CLIP text embeddings need the 'tokenizers' package (pip install tokenizers)") from exc

        session = get_session(self.model_path(_TEXTUAL), self.settings.runtime)
        text_input = session.get_inputs()[0]
        dtype = _INT_TYPES.get(text_input.type)
        if dtype is None:
            raise ModelError(
                f"model {self.name!r}: the text tower's input {text_input.name!r} is {text_input.type}, "
                "expected int32 or int64 token ids"
            )
        shape = list(text_input.shape)
        length = shape[1] if len(shape) > 1 and isinstance(shape[1], int) else DEFAULT_CONTEXT_LENGTH

        path = self.model_path(_TOKENIZER)
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust library raises a bare Exception
            raise ModelError(f"model {self.name!r}: cannot read tokenizer {str(path)!r}: {exc}") from exc
        # Pad with the tokenizer's own pad id when its file configures one, else with 0 as
        # open_clip.tokenize does (CLIP pools at the end-of-text token, so pads never matter there).
        padding = tokenizer.padding
        pad_id = int(padding["pad_id"]) if padding else 0
        tokenizer.no_padding()
        # Truncation leaves room for the special tokens, so a long text still ends in end-of-text.
        tokenizer.enable_truncation(max_length=length)
        return _TextTower(session, tokenizer, str(text_input.name), length, dtype, pad_id, static_batch(shape))

    def tokenize(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        """(N, context length) token ids, truncated and padded, of the text tower's integer type."""
        if isinstance(texts, str):
            raise ValueError("pass a sequence of texts (for one text: [text]), got a single string")
        tower = self._text_tower()
        ids = np.full((len(texts), tower.context_length), tower.pad_id, dtype=tower.dtype)
        for row, encoding in enumerate(tower.tokenizer.encode_batch(list(texts))):
            tokens = encoding.ids[: tower.context_length]
            ids[row, : len(tokens)] = tokens
        return ids

    def embed_text(self, texts: Sequence[str]) -> FloatArray:
        """(N, D) float32 unit rows for ``texts``, comparable with ``embed`` rows by dot product."""
        ids = self.tokenize(texts)
        if len(ids) == 0:
            return np.zeros((0, self.dim), np.float32)
        tower = self._text_tower()
        rows = run_in_batches(
            lambda feeds: self._run_session(tower.session, feeds),
            tower.input_name,
            list(ids),
            lambda row: row,
            fixed_batch=tower.fixed_batch,
            max_batch=self.max_batch,
        )
        return l2_normalise(rows)
