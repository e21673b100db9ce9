"""The prompts: one per asset type asking for that type's content, the user's name as context, the schema."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from vidpipe.describe.describer import DescribeRequest
from vidpipe.describe.prompts import (
    NAME_MAX_CHARS,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    DescriptionReply,
    reply_json_schema,
    user_prompt,
)
from vidpipe.domain.enums import AssetType

CROP = np.full((40, 30, 3), 90, np.uint8)
GOOD = {
    "reverse_prompt": "a red ceramic mug with a chipped rim, soft window light",
    "visual_description": "Red mug. Keep the chip.",
    "quality_score": 7,
    "suggested_name": "Chipped Red Mug",
}

# Words each type's checklist must contain: the content the design research lists for it.
EXPECTED = {
    AssetType.CHARACTER: (
        "build",
        "skin tone",
        "hair",
        "eye colour",
        "expression",
        "garment",
        "material",
        "accessories",
        "pose",
        "light",
        "camera angle",
    ),
    AssetType.OBJECT: ("shape", "material", "texture", "condition", "size", "logos", "background"),
    AssetType.PROP: ("wear", "hand", "period", "lettering"),
    AssetType.ENVIRONMENT: (
        "architecture",
        "time of day",
        "weather",
        "palette",
        "atmosphere",
        "perspective",
        "framing",
    ),
    AssetType.VEHICLE: ("body shape", "paint", "wheels", "number plates", "damage", "viewpoint"),
    AssetType.STYLE: ("medium", "grading", "grain", "depth of field", "composition", "mood"),
}


@pytest.mark.parametrize("asset_type", list(AssetType))
def test_each_type_asks_for_its_own_content(asset_type: AssetType) -> None:
    prompt = user_prompt(DescribeRequest(CROP, asset_type))
    for word in EXPECTED[asset_type]:
        assert word in prompt, f"{asset_type} prompt lacks {word!r}"
    assert asset_type.value in prompt and "suggest a name" in prompt
    assert "must stay the same" in prompt and "may change" in prompt  # consistency, and what may vary


def test_prompts_differ_by_type() -> None:
    prompts = {user_prompt(DescribeRequest(CROP, t)) for t in AssetType}
    assert len(prompts) == len(AssetType)


def test_user_name_and_detector_are_context() -> None:
    prompt = user_prompt(
        DescribeRequest(
            CROP,
            AssetType.CHARACTER,
            name="Captain Vega",
            detection_class="person",
            detection_confidence=0.91,
            is_face=True,
        )
    )
    assert '"Captain Vega"' in prompt and "suggest a name" not in prompt
    assert '"person"' in prompt and "0.91" in prompt and "face" in prompt


def test_system_prompt_states_the_output_contract() -> None:
    for field in ("reverse_prompt", "visual_description", "quality_score", "suggested_name"):
        assert f'"{field}"' in SYSTEM_PROMPT
    assert "1 to 10" in SYSTEM_PROMPT and "JSON" in SYSTEM_PROMPT
    assert PROMPT_VERSION


def test_schema_is_derived_from_the_reply_model() -> None:
    schema = reply_json_schema()
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"]) == set(DescriptionReply.model_fields)
    assert (
        schema["properties"]["quality_score"]["minimum"] == 1 and schema["properties"]["quality_score"]["maximum"] == 10
    )
    assert "title" not in schema and all("title" not in p for p in schema["properties"].values())


@pytest.mark.parametrize(
    "change",
    [
        {"quality_score": 42},
        {"quality_score": 0},
        {"reverse_prompt": "too short"},
        {"suggested_name": "  "},
        {"extra": 1},
    ],
)
def test_reply_model_refuses_what_breaks_the_schema(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DescriptionReply.model_validate({**GOOD, **change})
    missing = dict(GOOD)
    del missing["suggested_name"]
    with pytest.raises(ValidationError):
        DescriptionReply.model_validate(missing)


def test_reply_model_shortens_a_long_name_at_a_word() -> None:
    reply = DescriptionReply.model_validate(
        {**GOOD, "suggested_name": "The Extraordinarily Long Named Red Ceramic Mug With A Chipped Rim"}
    )
    assert len(reply.suggested_name) <= NAME_MAX_CHARS and reply.suggested_name.endswith("With A")
