"""What remote vision models are asked, per asset type, and the shape their answer must have.

Every remote describer sends the same text: `SYSTEM_PROMPT` (the role and the output contract) and
`user_prompt(request)` (the checklist for the asset's type, with the user's name for it and what the
detector saw, as context). `PROMPT_VERSION` names this text; change it whenever the wording changes,
so that cached answers to the old wording are not reused and stored descriptions say which wording
produced them.

The answer is one JSON object validated by `DescriptionReply`. `reply_json_schema()` is derived
from that model and sent as the response schema; it keeps to the keywords that both Gemini's
``responseJsonSchema`` and OpenAI's strict structured outputs accept (types, ``required``,
``additionalProperties``, ``minimum``/``maximum``), so string lengths are checked here, after parsing.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vidpipe.describe.describer import DescribeRequest
from vidpipe.domain.enums import AssetType

PROMPT_VERSION = "remote-1"
TEMPERATURE = 0.4  # low enough for repeatable wording, high enough not to read like a form
NAME_MAX_CHARS = 60  # Description.suggested_name's limit
REVERSE_PROMPT_MIN_CHARS = 20  # Description.reverse_prompt's limit


def _at_least(chars: int) -> AfterValidator:
    def check(text: str) -> str:
        if len(text) < chars:
            raise ValueError(f"must be at least {chars} characters, got {len(text)}")
        return text

    return AfterValidator(check)


def clip_name(text: str) -> str:
    """A name cut to `NAME_MAX_CHARS` at a word boundary where there is one."""
    text = " ".join(text.split())
    if len(text) <= NAME_MAX_CHARS:
        return text
    cut = text[:NAME_MAX_CHARS].rsplit(" ", 1)[0]
    return cut if len(cut) >= NAME_MAX_CHARS // 2 else text[:NAME_MAX_CHARS]


class DescriptionReply(BaseModel):
    """The JSON object a vision model must answer with."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, title="AssetDescription")

    reverse_prompt: Annotated[str, _at_least(REVERSE_PROMPT_MIN_CHARS)] = Field(
        description="One prompt-style paragraph from which an image or video generator can recreate the asset"
    )
    visual_description: Annotated[str, _at_least(1)] = Field(
        description="Production-bible entry: what is distinctive, what must stay the same, what may vary"
    )
    quality_score: float = Field(
        ge=1.0, le=10.0, description="1-10: how well this image serves as a reference for generation"
    )
    # A name longer than the limit is shortened rather than refused: it is a suggestion, not content.
    suggested_name: Annotated[str, _at_least(1), AfterValidator(clip_name)] = Field(
        description=f"A short name for the asset, at most {NAME_MAX_CHARS} characters"
    )


def reply_json_schema() -> dict[str, Any]:
    """The JSON Schema of `DescriptionReply`: an object with all four fields required, nothing else allowed."""
    schema = DescriptionReply.model_json_schema()
    # Titles are noise to the model and some strict validators dislike unknown annotations.
    schema.pop("title", None)
    for field in schema["properties"].values():
        field.pop("title", None)
    return schema


SYSTEM_PROMPT = """\
You write asset records for an AI video production. You are shown one reference image of one asset \
and you return a single JSON object, with no other text, that has exactly these keys:
- "reverse_prompt": a dense, prompt-style paragraph (comma-separated phrases, not a story) that an \
image or video generator could use to recreate this asset so that it is recognisably the same. \
Name concrete, visible facts: colours, materials, shapes, textures, light, camera. Do not invent \
what the image does not show, and do not name real people.
- "visual_description": a short production-bible entry in plain sentences: what is distinctive about \
the asset, which details must stay identical from shot to shot, and which may change between shots.
- "quality_score": a number from 1 to 10 rating this image as a reference for generation. High: \
sharp, well exposed, the asset whole and unobstructed, a clear and informative angle, enough \
resolution. Low: blurred, too dark or blown out, cut off, hidden behind something, tiny in frame.
- "suggested_name": a short, specific name for the asset (at most 60 characters). If the user has \
named the asset, return their name unchanged.
"""

# What to look for, per asset type: (what the asset is called, what the reverse prompt must cover,
# what the production-bible entry must settle, rough length of the reverse prompt in words).
_CHECKLISTS: dict[AssetType, tuple[str, str, str, str]] = {
    AssetType.CHARACTER: (
        "a character (a person)",
        "body build and apparent age range; skin tone; hair colour, length, texture and styling; the face "
        "(eye colour and shape, eyebrows, nose, jawline, facial hair, freckles, scars or other marks); the "
        "expression; every visible garment with its colour, material and fit, footwear included; accessories "
        "and jewellery; the pose; how the light falls on them; the camera angle and shot size",
        "the signature features that identify this person in every scene, the clothing and accessories that "
        "define the look, and what may change freely (expression, pose, removable accessories)",
        "100 to 150",
    ),
    AssetType.OBJECT: (
        "an object",
        "what the object is; its overall shape and proportions; materials; colours; surface finish and texture; "
        "condition (new, worn, damaged); cues to its real-world size; any printed text, logos or labels, "
        "quoted exactly; distinguishing marks; the lighting; the background; the camera angle",
        "the details that make this particular object recognisable and must not drift, and what may change "
        "(its placement, the light, the surroundings)",
        "80 to 120",
    ),
    AssetType.PROP: (
        "a prop that characters handle or that dresses a scene",
        "what the prop is; its shape and proportions; materials; colours; surface finish and texture; wear "
        "and condition; its size relative to a hand or body; its period or style; any lettering or markings, "
        "quoted exactly; the lighting; the background; the camera angle",
        "which details must stay identical wherever the prop appears (marks, wear, lettering, colours) and "
        "what may change (how it is held or placed, the light)",
        "80 to 120",
    ),
    AssetType.ENVIRONMENT: (
        "an environment (a location or set)",
        "the kind of place, inside or outside; layout and architecture; landmark features; materials and "
        "surfaces; time of day; light sources, their direction and colour; weather; the colour palette; the "
        "atmosphere and mood; depth and perspective; any people or objects present; the camera framing and "
        "lens feel",
        "what defines this space and its mood, the fixed features that must reappear in every shot set here, "
        "and what may change (time of day, weather, people passing through)",
        "120 to 180",
    ),
    AssetType.VEHICLE: (
        "a vehicle",
        "the type of vehicle and its apparent era; body shape and proportions; paint colour and finish; "
        "wheels and tyres; windows, lights and trim; markings, decals, number plates and any lettering, "
        "quoted exactly (give a make or model only if a badge shows it); condition, dirt and damage; the "
        "viewpoint; the lighting; the setting",
        "the details that identify this particular vehicle from any angle (colour, markings, damage) and "
        "what may change (where it is, whether it moves, the light)",
        "80 to 120",
    ),
    AssetType.STYLE: (
        "a visual style reference (the look to apply, not the subject shown)",
        "the medium (photograph, 3D render, painting, illustration, animation); colour palette and grading; "
        "contrast and the lighting style; texture, grain or brushwork; lens character and depth of field; "
        "composition habits; era or genre it evokes; the mood",
        "the rules that carry this look to every shot (palette, light, texture, lens) and what is free to "
        "differ (subjects, settings, composition)",
        "60 to 120",
    ),
}


def user_prompt(request: DescribeRequest) -> str:
    """The per-asset instruction: the checklist for the asset's type, with the user's name and the detector's view."""
    what, covers, bible, words = _CHECKLISTS[request.asset_type]
    lines = [
        f"The image shows {what}.",
        f'Asset type: {request.asset_type.value}. Name given by the user: "{request.name}".'
        if request.name
        else f"Asset type: {request.asset_type.value}. The user has not named it: suggest a name.",
    ]
    if request.detection_class:
        seen = f'An object detector labelled this crop "{request.detection_class}"'
        if request.detection_confidence is not None:
            seen += f" (confidence {request.detection_confidence:.2f})"
        lines.append(seen + "; trust the image over the label.")
    if request.is_face:
        lines.append("The crop was cut around a face, so describe the face in particular detail.")
    lines += [
        f"In reverse_prompt ({words} words), cover: {covers}.",
        f"In visual_description (40 to 100 words), say what must stay the same from shot to shot and what may "
        f"change, in particular {bible}.",
        "Answer with the JSON object only.",
    ]
    return "\n".join(lines)
