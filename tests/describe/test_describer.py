"""The describer interface: request checks, Description validation, describe_many's error capture."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from vidpipe.describe.describer import Describer, DescribeRequest, Description
from vidpipe.domain.enums import AssetType

GOOD = {
    "reverse_prompt": "a red ceramic cup on a wooden table, soft daylight",
    "visual_description": "A red cup. Keep its colour.",
    "quality_score": 7.5,
    "suggested_name": "Red Cup",
    "provider": "test",
    "model": "none",
    "prompt_version": "t-1",
}


def crop(value: int = 128) -> np.ndarray:
    return np.full((32, 48, 3), value, np.uint8)


def test_description_accepts_a_good_answer() -> None:
    description = Description(**GOOD)
    assert description.quality_score == 7.5
    assert description.input_tokens is None and description.output_tokens is None


@pytest.mark.parametrize(
    "field, value",
    [
        ("reverse_prompt", "too short"),
        ("quality_score", 11),
        ("quality_score", 0.5),
        ("suggested_name", ""),
        ("suggested_name", "x" * 61),
        ("suggested_name", "   "),
    ],
)
def test_description_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Description(**{**GOOD, field: value})


def test_description_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        Description(**GOOD, colour="red")  # type: ignore[call-arg]


def test_request_normalises_and_checks() -> None:
    request = DescribeRequest(crop(), "OBJECT", name="  Zoë's café  ", source_size=(96, 64))  # type: ignore[arg-type]
    assert request.asset_type is AssetType.OBJECT
    assert request.name == "Zoë's café"
    assert request.frame_fraction == pytest.approx(0.25)
    with pytest.raises(ValueError, match="uint8"):
        DescribeRequest(crop().astype(np.float32), AssetType.OBJECT)
    with pytest.raises(ValueError, match="non-empty"):
        DescribeRequest(np.zeros((0, 5, 3), np.uint8), AssetType.OBJECT)
    with pytest.raises(ValueError, match="landmarks"):
        DescribeRequest(crop(), AssetType.CHARACTER, landmarks=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="frame_fraction"):
        DescribeRequest(crop(), AssetType.OBJECT, frame_fraction=1.5)
    with pytest.raises(ValueError):
        DescribeRequest(crop(), "DRAGON")  # type: ignore[arg-type]


class PickyDescriber(Describer):
    name = "picky"
    prompt_version = "p-1"

    def describe(self, request: DescribeRequest) -> Description:
        if request.name == "bad":
            raise RuntimeError("cannot describe this one")
        return Description(**{**GOOD, "suggested_name": request.name, "provider": self.name})


def test_describe_many_captures_each_failure_and_keeps_order() -> None:
    requests = [DescribeRequest(crop(), AssetType.OBJECT, name=n) for n in ("first", "bad", "third")]
    results = PickyDescriber().describe_many(requests)
    assert len(results) == 3
    assert isinstance(results[0], Description) and results[0].suggested_name == "first"
    assert isinstance(results[1], RuntimeError) and "cannot describe" in str(results[1])
    assert isinstance(results[2], Description) and results[2].suggested_name == "third"


def test_describer_needs_describe() -> None:
    class Incomplete(Describer):
        name = "incomplete"
        prompt_version = "0"

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]


def test_describe_many_reports_each_asset_as_it_finishes() -> None:
    requests = [DescribeRequest(crop(), AssetType.OBJECT, name=n) for n in ("first", "bad", "third")]
    seen: list[tuple[int, Description | Exception]] = []
    results = PickyDescriber().describe_many(requests, on_done=lambda i, r: seen.append((i, r)))
    assert [i for i, _ in seen] == [0, 1, 2]
    assert [r for _, r in seen] == results
    assert isinstance(seen[1][1], RuntimeError)


def test_an_on_done_failure_stops_the_run() -> None:
    requests = [DescribeRequest(crop(), AssetType.OBJECT, name=n) for n in ("first", "second")]

    def refuse(index: int, result: Description | Exception) -> None:
        raise KeyError("progress store is gone")

    with pytest.raises(KeyError, match="progress store"):
        PickyDescriber().describe_many(requests, on_done=refuse)
