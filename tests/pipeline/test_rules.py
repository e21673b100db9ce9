import pytest

from vidpipe.domain.enums import AssetType
from vidpipe.pipeline.rules import assign_tags, extracted_type, fits_type, format_tag


def test_new_tags_take_the_lowest_free_number_and_kept_tags_stay() -> None:
    wanted = [
        (AssetType.CHARACTER, None),
        (AssetType.CHARACTER, "CHAR_02"),
        (AssetType.PROP, None),
        (AssetType.CHARACTER, None),
        (AssetType.ENVIRONMENT, None),
        (AssetType.CHARACTER, None),
    ]
    assert assign_tags(wanted) == ["CHAR_01", "CHAR_02", "PROP_01", "CHAR_03", "ENV_01", "CHAR_04"]


def test_every_type_has_its_prefix() -> None:
    assert [format_tag(t, 1) for t in AssetType] == ["CHAR_01", "OBJ_01", "PROP_01", "ENV_01", "VEH_01", "STYLE_01"]
    assert format_tag(AssetType.VEHICLE, 123) == "VEH_123"


@pytest.mark.parametrize(
    ("class_name", "asset_type", "fits"),
    [
        ("car", AssetType.VEHICLE, True),
        ("cup", AssetType.VEHICLE, False),
        ("cup", AssetType.PROP, True),
        ("person", AssetType.OBJECT, False),
        ("tv", AssetType.OBJECT, True),
        ("car", AssetType.ENVIRONMENT, False),
    ],
)
def test_fitting_classes(class_name: str, asset_type: AssetType, fits: bool) -> None:
    assert fits_type(class_name, asset_type) is fits


def test_extracted_types() -> None:
    assert extracted_type("motorcycle") is AssetType.VEHICLE
    assert extracted_type("cup") is AssetType.PROP
    assert extracted_type("couch") is AssetType.OBJECT


def test_preference_follows_the_users_words_then_the_type() -> None:
    from vidpipe.pipeline.rules import preference

    assert preference("cup", AssetType.PROP, "Espresso cup") == 2
    assert preference("dining table", AssetType.PROP, "Espresso") == 0 < preference("cup", AssetType.PROP, "Espresso")
    assert preference("car", AssetType.VEHICLE, "Two cars") == 2
    assert preference("couch", AssetType.OBJECT, "Sofa") == 1 > preference("cup", AssetType.OBJECT, "Sofa")


def test_a_photo_type_is_guessed_from_faces_then_its_main_subject() -> None:
    from vidpipe.domain.enums import AssetType
    from vidpipe.pipeline.rules import guess_type

    size = (1000, 800)
    assert guess_type(size, [(100, 100, 300, 300)], [])[0] is AssetType.CHARACTER
    # A face too small to be the subject (a passer-by) does not make a character.
    kind, why = guess_type(size, [(10, 10, 30, 30)], [("car", 400_000.0), ("cup", 50_000.0)])
    assert kind is AssetType.VEHICLE and "car" in why
    assert guess_type(size, [], [("cup", 100_000.0)])[0] is AssetType.PROP
    # The table a cup stands on is the setting, not the subject, however large.
    assert guess_type(size, [], [("dining table", 600_000.0), ("cup", 60_000.0)])[0] is AssetType.PROP
    assert guess_type(size, [], [("couch", 600_000.0)])[0] is AssetType.OBJECT
    assert guess_type(size, [], [("person", 300_000.0)])[0] is AssetType.CHARACTER
    kind, why = guess_type(size, [], [("cup", 1_000.0)])
    assert kind is AssetType.ENVIRONMENT and "place" in why
