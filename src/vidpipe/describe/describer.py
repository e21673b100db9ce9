"""The describer interface: one asset crop in, a recreation prompt and production-bible text out.

A describer turns the crop of one asset (a character, object, prop, environment, vehicle or style)
into a `Description`: a ``reverse_prompt`` that a video generator can use to recreate the asset, a
``visual_description`` for the production bible (what must stay the same from shot to shot, what may
change), a 1-10 reference quality score and a suggested name. Implementations range from the
offline describer (local measurements only, no network) to remote vision models.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vidpipe.domain.enums import AssetType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DescribeRequest:
    """What a describer is told about one asset.

    ``image`` is the asset's crop, H×W×3 uint8 RGB. ``name`` is the user's name for it ("" when they
    gave none). ``detection_class`` and ``detection_confidence`` come from the detector that found
    it, if one did. ``landmarks`` are five face points (eyes, nose tip, mouth corners) in crop pixels.
    ``frame_fraction`` is the crop's area over the source photo's area, which tells the shot size;
    when it is missing and ``source_size`` (width, height) is given, it is computed from that.
    ``accessories`` names wearable or held things detected on a person (COCO classes such as "tie",
    "handbag", "umbrella", "cell phone"), for a CHARACTER; empty when nobody looked.
    ``face_box`` (x1, y1, x2, y2 in crop pixels) says where the face is when the crop is a person or a
    whole photo rather than a face crop; describers may find it themselves when it is missing.
    """

    image: np.ndarray[Any, Any]
    asset_type: AssetType
    name: str = ""
    detection_class: str | None = None
    detection_confidence: float | None = None
    is_face: bool = False
    landmarks: np.ndarray[Any, Any] | None = None
    frame_fraction: float | None = None
    source_size: tuple[int, int] | None = None
    accessories: tuple[str, ...] = ()
    face_box: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        image = self.image
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            got = (
                f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            )
            raise ValueError(f"a describe request needs an H×W×3 uint8 RGB crop, got {got}")
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"a describe request needs a non-empty crop, got shape {image.shape}")
        object.__setattr__(self, "asset_type", AssetType(self.asset_type))
        object.__setattr__(self, "name", (self.name or "").strip())
        if self.landmarks is not None:
            points = np.asarray(self.landmarks, dtype=np.float64)
            if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 3:
                raise ValueError(f"landmarks must be (5, 2) points in crop pixels, got shape {points.shape}")
            object.__setattr__(self, "landmarks", points)
        if self.source_size is not None:
            width, height = self.source_size
            if width <= 0 or height <= 0:
                raise ValueError(f"source_size must be a positive (width, height), got {self.source_size}")
            if self.frame_fraction is None:
                area = image.shape[0] * image.shape[1] / (width * height)
                object.__setattr__(self, "frame_fraction", min(1.0, area))
        object.__setattr__(
            self, "accessories", tuple(dict.fromkeys(a.strip() for a in self.accessories if a and a.strip()))
        )
        if self.face_box is not None:
            x1, y1, x2, y2 = (float(v) for v in self.face_box)
            if not (x2 > x1 and y2 > y1):
                raise ValueError(f"face_box must be (x1, y1, x2, y2) with x2 > x1 and y2 > y1, got {self.face_box}")
            object.__setattr__(self, "face_box", (x1, y1, x2, y2))
        if self.frame_fraction is not None and not 0.0 < self.frame_fraction <= 1.0 + 1e-6:
            raise ValueError(f"frame_fraction must be in (0, 1], got {self.frame_fraction}")
        if self.detection_confidence is not None and not 0.0 <= self.detection_confidence <= 1.0:
            raise ValueError(f"detection_confidence must be in [0, 1], got {self.detection_confidence}")


class Description(BaseModel):
    """A describer's answer for one asset."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    reverse_prompt: str = Field(min_length=20, description="One paragraph a video generator can recreate it from")
    visual_description: str = Field(min_length=1, description="Production-bible text: what stays, what may vary")
    quality_score: float = Field(ge=1.0, le=10.0, description="Suitability as a generation reference")
    suggested_name: str = Field(min_length=1, max_length=60)
    provider: str = Field(min_length=1, description="Who described it: 'offline', 'gemini', ...")
    model: str = Field(min_length=1, description="Which model(s) ran, e.g. 'offline(mobilenet_v2_imagenet)'")
    prompt_version: str = Field(min_length=1, description="Version of the describer's prompt or templates")
    input_tokens: int | None = Field(None, ge=0)
    output_tokens: int | None = Field(None, ge=0)


# Called once per finished asset with its position in the request list and its result.
OnDone = Callable[[int, Description | Exception], None]


class Describer(ABC):
    """Base of every describer. Subclasses set ``name`` and ``prompt_version`` and implement `describe`."""

    name: ClassVar[str]
    prompt_version: ClassVar[str]

    @abstractmethod
    def describe(self, request: DescribeRequest) -> Description:
        """Describe one asset."""

    def describe_many(
        self, requests: Sequence[DescribeRequest], on_done: OnDone | None = None
    ) -> list[Description | Exception]:
        """Describe each asset; an asset that fails gives its exception, the others go on.

        Returns one result per request, in the order of ``requests``, with an ``Exception`` in place of
        a failed one. ``on_done(index, result)`` is called once per asset as soon as that asset is
        finished (``index`` is its position in ``requests``), on the caller's thread, so that progress
        can count each one; an exception raised by ``on_done`` stops the run and propagates.

        This base version describes one asset after the other. Remote describers override it to run
        several requests at once; the contract stays the same.
        """
        results: list[Description | Exception] = []
        for index, request in enumerate(requests):
            result: Description | Exception
            try:
                result = self.describe(request)
            except Exception as exc:
                log_failure(self.name, index, request, exc)
                result = exc
            results.append(result)
            if on_done is not None:
                on_done(index, result)
        return results


def log_failure(describer: str, index: int, request: DescribeRequest, exc: BaseException) -> None:
    """One warning line for an asset that could not be described (the run goes on, so not an error)."""
    logger.warning(
        "%s describer failed on asset %d (%s %r): %s", describer, index, request.asset_type.value, request.name, exc
    )
