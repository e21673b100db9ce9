"""Swapping an asset's reference: the new photo is checked against the asset (real models, both DBs)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from vidpipe.db.models import Asset
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.reference_swap import SwapResult, swap_reference
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.slow]


def _state(factory: sessionmaker[Session], asset_id: uuid.UUID) -> tuple[object, ...]:
    """Everything a swap writes, to show that a refused one wrote nothing."""
    with factory() as session:
        asset = session.get(Asset, asset_id)
        assert asset is not None
        refs = tuple((r.id, r.sort_order, r.image_key) for r in asset.references)
        return (
            asset.name,
            asset.primary_reference_id,
            asset.reverse_prompt,
            asset.quality_score,
            asset.updated_at,
            refs,
        )


@pytest.fixture
def registry(env: tuple, make_manifest, assets_of, data_dir: Path) -> tuple:  # type: ignore[type-arg]
    """A processed manifest with one man's portrait and a coffee cup; the assets by tag."""
    factory, store, runner = env
    manifest_id = make_manifest(
        factory,
        store,
        [
            PhotoIn(data_dir / "faces/face_recognition/obama.jpg", AssetType.CHARACTER, "The President"),
            PhotoIn(data_dir / "detection/skimage_data/coffee.png", AssetType.PROP, "Espresso"),
        ],
    )
    runner.run(manifest_id)
    assets = {a.manifest_tag: a for a in assets_of(factory, manifest_id)}
    assert assets["CHAR_01"].name == "The President" and assets["PROP_01"].detection_class == "cup"
    return factory, store, runner, assets


def test_a_character_photo_must_show_the_same_person(
    registry: tuple,  # type: ignore[type-arg]
    data_dir: Path,
    toolkit: VisionToolkit,
) -> None:
    factory, store, runner, assets = registry
    president = assets["CHAR_01"]
    faces = data_dir / "faces/face_recognition"
    threshold = toolkit.faces.embedder.same_person_threshold
    before = _state(factory, president.id)

    # A coffee cup: no face at all.
    with pytest.raises(VidpipeError) as no_face:
        swap_reference(
            factory, store, toolkit, runner.describer, president.id, data_dir / "detection/skimage_data/coffee.png"
        )
    for part in ("coffee.png", "CHAR_01", "The President", f"{threshold:.2f}", "unless forced"):
        assert part in str(no_face.value)
    assert _state(factory, president.id) == before

    # Another man.
    with pytest.raises(VidpipeError, match=r"biden\.jpg.*CHAR_01.*best similarity 0\.\d\d, threshold") as other:
        swap_reference(factory, store, toolkit, runner.describer, president.id, faces / "biden.jpg")
    assert "unless forced" in str(other.value) and f"{threshold:.2f}" in str(other.value)
    assert _state(factory, president.id) == before

    # The same man in another photo.
    same = swap_reference(factory, store, toolkit, runner.describer, president.id, faces / "obama2.jpg")
    assert isinstance(same, SwapResult) and same.asset_id == president.id
    assert same.tag == "CHAR_01" and same.name == "The President" and same.warnings == ()
    assert same.similarity is not None and same.similarity >= threshold
    with factory() as session:
        swapped = session.get(Asset, president.id)
        assert swapped is not None
        assert swapped.primary_reference_id == swapped.references[0].id != president.primary_reference_id
        assert swapped.references[0].face_embedding is not None and swapped.is_face_crop
        assert swapped.quality_score == same.quality_score


def test_the_best_matching_face_of_a_group_photo_becomes_the_reference(
    registry: tuple,  # type: ignore[type-arg]
    data_dir: Path,
    toolkit: VisionToolkit,
) -> None:
    factory, store, runner, assets = registry
    # Two men side by side; the President is the one on the left, not the larger face on the right.
    result = swap_reference(
        factory,
        store,
        toolkit,
        runner.describer,
        assets["CHAR_01"].id,
        data_dir / "faces/face_recognition/two_people.jpg",
    )
    assert result.warnings == () and result.similarity is not None
    with factory() as session:
        swapped = session.get(Asset, assets["CHAR_01"].id)
        assert swapped is not None and swapped.primary_reference is not None
        bbox = swapped.primary_reference.bbox
        assert bbox is not None and bbox[2] < 563, f"the reference is the man on the right: {bbox}"


def test_forcing_a_character_photo_proceeds_with_a_warning(
    registry: tuple,  # type: ignore[type-arg]
    data_dir: Path,
    toolkit: VisionToolkit,
) -> None:
    factory, store, runner, assets = registry
    president = assets["CHAR_01"]
    forced = swap_reference(
        factory,
        store,
        toolkit,
        runner.describer,
        president.id,
        data_dir / "faces/face_recognition/biden.jpg",
        force=True,
    )
    assert len(forced.warnings) == 1 and "biden.jpg" in forced.warnings[0] and "similarity" in forced.warnings[0]
    assert forced.similarity is not None and forced.similarity < toolkit.faces.embedder.same_person_threshold
    cup = swap_reference(
        factory,
        store,
        toolkit,
        runner.describer,
        president.id,
        data_dir / "detection/skimage_data/coffee.png",
        force=True,
    )
    assert len(cup.warnings) == 1 and "no face" in cup.warnings[0] and cup.similarity is None
    with factory() as session:
        swapped = session.get(Asset, president.id)
        assert swapped is not None and len(swapped.references) == len(president.references) + 2
        assert swapped.references[0].face_embedding is None and not swapped.is_face_crop


def test_a_prop_photo_is_cut_to_its_class_or_warned_about(
    registry: tuple,  # type: ignore[type-arg]
    data_dir: Path,
    toolkit: VisionToolkit,
) -> None:
    factory, store, runner, assets = registry
    cup = assets["PROP_01"]
    # A photo without a cup: accepted, whole, with a warning naming the class.
    result = swap_reference(
        factory, store, toolkit, runner.describer, cup.id, data_dir / "detection/skimage_data/motorcycle_left.png"
    )
    assert result.tag == "PROP_01" and result.name == "Espresso" and result.similarity is None
    assert len(result.warnings) == 1 and "cup" in result.warnings[0] and "motorcycle_left.png" in result.warnings[0]
    with factory() as session:
        swapped = session.get(Asset, cup.id)
        assert swapped is not None and swapped.primary_reference is not None
        assert swapped.primary_reference.bbox == [0.0, 0.0, 741.0, 500.0]
    # A photo with one: the cup's box is the reference, not the whole photo.
    again = swap_reference(
        factory, store, toolkit, runner.describer, cup.id, data_dir / "detection/skimage_data/coffee.png"
    )
    assert again.warnings == ()
    with factory() as session:
        swapped = session.get(Asset, cup.id)
        assert swapped is not None and swapped.primary_reference is not None
        bbox = swapped.primary_reference.bbox
        assert bbox is not None and (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) < 0.9 * 600 * 400
        assert swapped.primary_reference.bbox == next(r.bbox for r in swapped.references if r.upload_id is not None), (
            "the swap cut the cup where the run did"
        )


def test_a_character_without_face_embeddings_is_swapped_unchecked(
    env: tuple,  # type: ignore[type-arg]
    make_manifest,
    assets_of,
    data_dir: Path,
    toolkit: VisionToolkit,
) -> None:
    factory, store, runner = env
    # No face in the photo: the character's only reference is the whole photo, without a face embedding.
    manifest_id = make_manifest(
        factory, store, [PhotoIn(data_dir / "detection/skimage_data/motorcycle_left.png", AssetType.CHARACTER, "Rider")]
    )
    runner.run(manifest_id)
    rider = next(a for a in assets_of(factory, manifest_id) if a.manifest_tag == "CHAR_01")
    assert all(r.face_embedding is None for r in rider.references)
    result = swap_reference(
        factory, store, toolkit, runner.describer, rider.id, data_dir / "faces/face_recognition/obama.jpg"
    )
    assert result.similarity is None and len(result.warnings) == 1 and "face embedding" in result.warnings[0]
    with factory() as session:
        swapped = session.get(Asset, rider.id)
        assert swapped is not None and swapped.is_face_crop and swapped.references[0].face_embedding is not None


def test_an_extracted_asset_keeps_its_name_through_a_swap_and_a_rerun(
    env: tuple,  # type: ignore[type-arg]
    make_manifest,
    assets_of,
    data_dir: Path,
    toolkit: VisionToolkit,
) -> None:
    from vidpipe.pipeline.corrections import rename_asset

    factory, store, runner = env
    faces = data_dir / "faces/face_recognition"
    manifest_id = make_manifest(
        factory, store, [PhotoIn(faces / "two_people.jpg", AssetType.ENVIRONMENT, "Press room")]
    )
    runner.run(manifest_id)
    people = sorted(
        (a for a in assets_of(factory, manifest_id) if a.asset_type is AssetType.CHARACTER),
        key=lambda a: a.manifest_tag or "",
    )
    assert len(people) == 2
    # The run lists an asset's primary reference first; the President is the man on the left.
    obama = next(a for a in people if (a.references[0].bbox or [0.0])[0] < 563)
    other = next(a for a in people if a.id != obama.id)
    assert other.manifest_tag is not None
    rename_asset(factory, manifest_id, other.manifest_tag, "Vice President")

    unnamed = swap_reference(factory, store, toolkit, runner.describer, obama.id, faces / "obama2.jpg")
    named = swap_reference(factory, store, toolkit, runner.describer, other.id, faces / "biden.jpg")
    assert named.name == "Vice President" and named.warnings == ()
    with factory() as session:
        row = session.get(Asset, obama.id)
        assert row is not None and row.name == row.suggested_name == unnamed.name, (
            "an unnamed asset follows its describer"
        )
        renamed = session.get(Asset, other.id)
        assert renamed is not None and renamed.suggested_name != "Vice President", "the user's name is told apart"

    runner.run(manifest_id, reprocess=True)
    after = {a.id: a for a in assets_of(factory, manifest_id) if a.asset_type is AssetType.CHARACTER}
    assert set(after) == {obama.id, other.id}
    assert after[obama.id].name == unnamed.name, "the re-run renamed the asset whose reference the user swapped"
    assert after[other.id].name == "Vice President"
    assert after[obama.id].references[0].upload_id is None and after[other.id].references[0].upload_id is None
