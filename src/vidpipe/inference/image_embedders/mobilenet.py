"""Generic visual embeddings from an ImageNet MobileNet's pooled features (google-coral extractor)."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from vidpipe.inference.image_embedder import FloatArray, ImageEmbedder
from vidpipe.inference.preprocess import UInt8Image, to_nchw

# MobileNet's training crops (Inception-style augmentation) had aspect ratios between 3:4 and 4:3
# and were then resized to a square, so squashing within that range is what the network saw.
MAX_SQUASH_ASPECT = 4.0 / 3.0
# (128 - 128) / 128 = 0: padding enters the network as zeros.
PAD_VALUE = 128


def fit_square(
    image: UInt8Image,
    size_hw: tuple[int, int],
    *,
    max_aspect: float = MAX_SQUASH_ASPECT,
    pad_value: int = PAD_VALUE,
) -> UInt8Image:
    """Resize a whole image or crop into ``size_hw``: squash up to ``max_aspect``, pad beyond it.

    Why neither plain choice: a centre crop cuts the ends off elongated objects (a standing person
    loses head and feet), which is wrong for embedding object crops; a full letterbox puts grey bars
    into nearly every crop, and those shared bars raise every pair's similarity (measured here on
    skimage photos: mean similarity of different photos 0.464 letterboxed vs 0.442 with this rule)
    and shrink the object. So the crop is padded (centred, with ``pad_value``) only as far as needed
    to bring its aspect ratio to ``max_aspect``, then squashed to the square input, a distortion
    within the range the network was trained on.
    """
    h, w = image.shape[:2]
    if w > h * max_aspect:
        total = round(w / max_aspect) - h
        image = np.asarray(
            cv2.copyMakeBorder(
                image, total // 2, total - total // 2, 0, 0, cv2.BORDER_CONSTANT, value=(pad_value,) * 3
            ),
            np.uint8,
        )
    elif h > w * max_aspect:
        total = round(h / max_aspect) - w
        image = np.asarray(
            cv2.copyMakeBorder(
                image, 0, 0, total // 2, total - total // 2, cv2.BORDER_CONSTANT, value=(pad_value,) * 3
            ),
            np.uint8,
        )
    th, tw = size_hw
    h, w = image.shape[:2]
    if (h, w) == (th, tw):
        return np.ascontiguousarray(image)
    # INTER_AREA averages when shrinking (no aliasing); bilinear when enlarging small crops.
    interpolation = cv2.INTER_AREA if h > th and w > tw else cv2.INTER_LINEAR
    out: UInt8Image = np.asarray(cv2.resize(image, (tw, th), interpolation=interpolation), np.uint8)
    return out


class MobileNetEmbedder(ImageEmbedder):
    """1024-d features of MobileNet v1 (ImageNet), average-pooled, L2-normalised.

    Input (spec ``mobilenet_v1_embedding``): ``input`` [1,3,224,224] RGB (x-128)/128 NCHW; output
    [1,1024,1,1]. The coral export has its batch fixed at 1, so images run one at a time; an export
    with a dynamic batch runs in batches of ``max_batch``.
    """

    default_model: ClassVar[str] = "mobilenet_v1_embedding"

    def preprocess(self, image: UInt8Image) -> FloatArray:
        """One image as a 3×H×W float32 array, (x-128)/128."""
        square = fit_square(image, self.input_hw((224, 224)))
        planar: FloatArray = to_nchw(square, mean=128.0, std=128.0)[0]
        return planar
