"""Which detections become assets, of which type, and how they are tagged.

The rules (also in the README):
- CHARACTER photo: the person whose face is most prominent in it; all faces of that person across
  every photo become references of one CHARACTER asset. Without a face: the largest person
  detection, else the whole photo.
- OBJECT, PROP or VEHICLE photo: a detection of a fitting class (vehicles for VEHICLE; anything but
  people for OBJECT and PROP), preferring a class the user's name mentions ("Espresso cup"), then
  hand-held things for PROP and larger things for OBJECT, then the most prominent; else the whole
  photo.
- ENVIRONMENT or STYLE photo: the whole photo.
- Everything else that is found confidently and large enough becomes an extracted asset: other
  people (by face) as CHARACTER, vehicles as VEHICLE, hand-held things as PROP, the rest as OBJECT.
- The same object in several photos (same class, similar image embedding) is one asset with
  several references; the same person (face identity) likewise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from vidpipe.domain.enums import TAG_PREFIX, AssetType

VEHICLE_CLASSES = frozenset({"bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"})
# Things a character carries or handles on screen.
PROP_CLASSES = frozenset(
    {
        "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
        "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
        "wine glass", "cup", "fork", "knife", "spoon", "bowl", "cell phone", "book", "scissors", "teddy bear",
        "hair drier", "toothbrush", "remote", "mouse", "clock", "vase", "laptop", "keyboard",
    }
)  # fmt: skip
# Worn or carried by a person: part of that CHARACTER's wardrobe (named in its description, kept
# as its attributes), not an asset of its own, unless the user's photo is of that thing.
WORN_CLASSES = frozenset(
    {"tie", "backpack", "handbag", "umbrella", "suitcase", "cell phone", "sports ball", "baseball glove",
     "tennis racket", "frisbee", "skis", "snowboard", "skateboard", "surfboard", "baseball bat"}
)  # fmt: skip
# A thing counts as worn when this much of its box lies inside a person's box.
WORN_INSIDE_PERSON = 0.6
# A detection covering at least this share of its photo is the setting, not an object to extract.
SETTING_MIN_AREA_FRACTION = 0.5
# Two boxes of one class, one mostly inside the other (intersection over the smaller box), are
# parts of one object (a bike seen as two half-bikes): they are one box.
SAME_OBJECT_PARTS_IOS = 0.6
# A detection must clear these to become an extracted asset.
EXTRACT_MIN_CONFIDENCE = 0.6
EXTRACT_MIN_SIDE_PX = 48
EXTRACT_MIN_AREA_FRACTION = 0.01
EXTRACT_FACE_MIN_SIDE_PX = 40
# Padding around crops, as a fraction of the box size on each side.
OBJECT_PADDING = 0.10
FACE_PADDING = 0.30


def fits_type(class_name: str, asset_type: AssetType) -> bool:
    """Whether a detected class can be the subject of a photo the user typed as ``asset_type``."""
    if asset_type is AssetType.VEHICLE:
        return class_name in VEHICLE_CLASSES
    if asset_type in (AssetType.OBJECT, AssetType.PROP):
        return class_name != "person"
    return False


def preference(class_name: str, asset_type: AssetType, user_name: str) -> int:
    """How well a fitting class suits the photo's subject: 2 if the user's name mentions it
    ("Espresso cup" → cup), 1 if it suits the type (hand-held things for PROP), else 0."""
    if re.search(rf"\b{re.escape(class_name)}s?\b", user_name.lower()):
        return 2
    if asset_type is AssetType.PROP:
        return int(class_name in PROP_CLASSES)
    if asset_type is AssetType.OBJECT:
        return int(class_name not in PROP_CLASSES)
    return 0


def extracted_type(class_name: str) -> AssetType:
    if class_name in VEHICLE_CLASSES:
        return AssetType.VEHICLE
    if class_name in PROP_CLASSES:
        return AssetType.PROP
    return AssetType.OBJECT


# A photo whose type was left out is a character when a face at least this share of its shorter
# side is seen; else its subject is the largest detection covering at least this share of it.
GUESS_FACE_MIN_SHARE = 0.08
GUESS_SUBJECT_MIN_AREA = 0.05
# Furniture a subject stands on or in front of: the subject only when nothing else is there.
SETTING_CLASSES = frozenset(
    {"dining table", "bed", "couch", "bench", "chair", "toilet", "sink", "refrigerator", "oven", "potted plant"}
)


def guess_type(
    size: tuple[int, int], faces: Iterable[tuple[float, float, float, float]], objects: Iterable[tuple[str, float]]
) -> tuple[AssetType, str]:
    """The type of a photo nobody typed, with the reason in words, from what the detectors saw.

    ``size`` is (width, height); ``faces`` are boxes; ``objects`` are (class, area in pixels).
    """
    width, height = size
    side = min(width, height)
    if any(min(x2 - x1, y2 - y1) >= GUESS_FACE_MIN_SHARE * side for x1, y1, x2, y2 in faces):
        return AssetType.CHARACTER, "a face was found"
    big = [(area, name) for name, area in objects if area >= GUESS_SUBJECT_MIN_AREA * width * height]
    if not big:
        return AssetType.ENVIRONMENT, "no face or prominent object was found, so it is taken as a place"
    subjects = [b for b in big if b[1] not in SETTING_CLASSES] or big
    _, name = max(subjects)
    if name == "person":
        return AssetType.CHARACTER, "its main subject is a person"
    return extracted_type(name), f"its main subject is a {name}"


def format_tag(asset_type: AssetType, number: int) -> str:
    return f"{TAG_PREFIX[asset_type]}_{number:02d}"


def assign_tags(
    wanted: Iterable[tuple[AssetType, str | None]],
) -> list[str]:
    """Tags for assets in order: a kept tag stays; new ones take the lowest free number of their type.

    ``wanted`` gives each asset's type and the tag it already had (None for a new asset).
    """
    items = list(wanted)
    taken: dict[AssetType, set[int]] = {t: set() for t in AssetType}
    for asset_type, tag in items:
        if tag:
            taken[asset_type].add(int(tag.rsplit("_", 1)[1]))
    result = []
    for asset_type, tag in items:
        if tag:
            result.append(tag)
            continue
        number = 1
        while number in taken[asset_type]:
            number += 1
        taken[asset_type].add(number)
        result.append(format_tag(asset_type, number))
    return result
