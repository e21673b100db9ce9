"""A user's merges, splits, renames and tags: applied at once, and kept by every re-run (real models, both DBs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from vidpipe.db.models import AssetDecision, Manifest, Upload
from vidpipe.domain.enums import AssetSource, AssetType
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.corrections import delete_asset, edit_user_tags, merge_assets, rename_asset, split_asset
from vidpipe.pipeline.uploads import PhotoIn

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.slow]


def faces(data_dir: Path) -> Path:
    return data_dir / "faces/face_recognition"


def by_tag(assets: list) -> dict:  # type: ignore[type-arg]
    return {a.manifest_tag: a for a in assets}


def characters(assets: list) -> dict:  # type: ignore[type-arg]
    return {a.manifest_tag: a for a in assets if a.asset_type is AssetType.CHARACTER}


def test_a_merge_is_kept_by_a_rerun(env: tuple, make_manifest, assets_of, data_dir: Path) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    manifest_id = make_manifest(
        factory,
        store,
        [
            PhotoIn(faces(data_dir) / "obama.jpg", AssetType.CHARACTER, "Lead"),
            PhotoIn(faces(data_dir) / "biden.jpg", AssetType.CHARACTER, "Lead, older"),
        ],
    )
    runner.run(manifest_id)
    before = characters(assets_of(factory, manifest_id))
    assert set(before) == {"CHAR_01", "CHAR_02"}  # two different faces: the run keeps them apart

    result = merge_assets(factory, manifest_id, "char_01", ["CHAR_02"])
    assert result.kept == "CHAR_01" and result.merged == ("CHAR_02",) and result.references_moved == 1
    merged = characters(assets_of(factory, manifest_id))
    assert set(merged) == {"CHAR_01"} and len(merged["CHAR_01"].references) == 2
    assert merged["CHAR_01"].id == before["CHAR_01"].id and merged["CHAR_01"].name == "Lead"

    runner.run(manifest_id, reprocess=True)
    after = characters(assets_of(factory, manifest_id))
    assert set(after) == {"CHAR_01"}, "the re-run split what the user merged"
    lead = after["CHAR_01"]
    assert lead.id == before["CHAR_01"].id and lead.name == "Lead"
    with factory() as session:
        uploads = {u.id: u.name for u in session.scalars(select(Upload))}
        assert session.scalar(select(func.count()).select_from(AssetDecision)) == 1
    assert sorted(uploads[r.upload_id] for r in lead.references) == ["Lead", "Lead, older"]


def test_a_split_is_kept_by_a_rerun(env: tuple, make_manifest, assets_of, data_dir: Path) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    manifest_id = make_manifest(
        factory,
        store,
        [
            PhotoIn(faces(data_dir) / "obama.jpg", AssetType.CHARACTER, "Senator"),
            PhotoIn(faces(data_dir) / "obama2.jpg", AssetType.CHARACTER, "Senator, later"),
        ],
    )
    runner.run(manifest_id)
    senator = by_tag(assets_of(factory, manifest_id))["CHAR_01"]
    assert len(senator.references) == 2  # one man in both photos

    result = split_asset(factory, store, runner.describer, manifest_id, "CHAR_01", [2], name="Body double")
    assert result.new_tag == "CHAR_02" and result.references_moved == 1 and result.describe_error is None
    split = characters(assets_of(factory, manifest_id))
    assert len(split["CHAR_01"].references) == 1 and len(split["CHAR_02"].references) == 1
    double = split["CHAR_02"]
    assert double.name == "Body double" and double.asset_type is AssetType.CHARACTER and double.is_face_crop
    assert double.reverse_prompt and double.primary_reference_id == double.references[0].id
    moved_from = double.references[0].upload_id

    for _ in range(2):  # the first re-run plans the double as its photo's asset; the second starts from that
        runner.run(manifest_id, reprocess=True)
        after = characters(assets_of(factory, manifest_id))
        assert set(after) == {"CHAR_01", "CHAR_02"}, "the re-run joined what the user split"
        assert [r.upload_id for r in after["CHAR_02"].references] == [moved_from]
        assert moved_from not in {r.upload_id for r in after["CHAR_01"].references}
        assert after["CHAR_01"].id == senator.id and after["CHAR_01"].name == "Senator"
        assert after["CHAR_02"].id == double.id
        assert after["CHAR_02"].name == "Body double", "the re-run replaced the name the user gave in the split"


def test_a_split_off_extracted_asset_keeps_the_users_name(env: tuple, make_manifest, assets_of, data_dir: Path) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    # One man in two set photos: an extracted character, so re-runs name it by its describer.
    manifest_id = make_manifest(
        factory,
        store,
        [
            PhotoIn(faces(data_dir) / "obama.jpg", AssetType.ENVIRONMENT, "Office"),
            PhotoIn(faces(data_dir) / "obama2.jpg", AssetType.ENVIRONMENT, "Hallway"),
        ],
    )
    runner.run(manifest_id)
    person = characters(assets_of(factory, manifest_id))
    assert len(person) == 1 and len(person["CHAR_01"].references) == 2
    assert person["CHAR_01"].source is AssetSource.EXTRACTED

    result = split_asset(factory, store, runner.describer, manifest_id, "CHAR_01", [2], name="Stand-in")
    split = characters(assets_of(factory, manifest_id))
    assert split[result.new_tag].name == "Stand-in"
    assert split[result.new_tag].suggested_name != "Stand-in", "the describer's suggestion is its own"

    for _ in range(2):
        runner.run(manifest_id, reprocess=True)
        after = characters(assets_of(factory, manifest_id))
        assert set(after) == {"CHAR_01", result.new_tag}
        assert after[result.new_tag].source is AssetSource.EXTRACTED
        assert after[result.new_tag].name == "Stand-in"
        assert after["CHAR_01"].name == after["CHAR_01"].suggested_name, "an unnamed asset follows its describer"


def test_a_rename_of_a_split_off_asset_is_kept_when_a_rerun_plans_it_as_an_upload(
    env: tuple,  # type: ignore[type-arg]
    make_manifest,
    assets_of,
    data_dir: Path,
) -> None:
    factory, store, runner = env
    manifest_id = make_manifest(
        factory,
        store,
        [
            PhotoIn(faces(data_dir) / "obama.jpg", AssetType.CHARACTER, "Senator"),
            PhotoIn(faces(data_dir) / "obama2.jpg", AssetType.CHARACTER, "Senator, later"),
        ],
    )
    runner.run(manifest_id)
    result = split_asset(factory, store, runner.describer, manifest_id, "CHAR_01", [2])
    split = characters(assets_of(factory, manifest_id))[result.new_tag]
    assert split.name == split.suggested_name  # unnamed: named by its describer
    rename_asset(factory, manifest_id, result.new_tag, "Stunt double")

    runner.run(manifest_id, reprocess=True)
    after = characters(assets_of(factory, manifest_id))
    assert after[result.new_tag].source is AssetSource.UPLOADED  # obama2.jpg's own face
    assert after[result.new_tag].name == "Stunt double"


def test_renames_and_user_tags_are_kept_by_a_rerun(env: tuple, make_manifest, assets_of, data_dir: Path) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    manifest_id = make_manifest(
        factory,
        store,
        [
            PhotoIn(data_dir / "detection/skimage_data/coffee.png", AssetType.PROP, "Espresso"),
            PhotoIn(faces(data_dir) / "two_people.jpg", AssetType.ENVIRONMENT, "Press room"),
        ],
    )
    runner.run(manifest_id)
    assets = by_tag(assets_of(factory, manifest_id))
    extracted = [t for t, a in assets.items() if a.source is AssetSource.EXTRACTED and t.startswith("CHAR")]
    assert extracted, "two_people.jpg should yield an extracted character"
    assert "Espresso" in (assets["PROP_01"].reverse_prompt or "")
    renamed = rename_asset(factory, manifest_id, "PROP_01", "Hero mug")
    # The words written under the old name now use the new one, before any re-run.
    assert "Hero mug" in (renamed.reverse_prompt or "") and "Espresso" not in (renamed.reverse_prompt or "")
    assert "espresso" not in (renamed.visual_description or "").lower()
    rename_asset(factory, manifest_id, extracted[0], "Press secretary")
    assert edit_user_tags(factory, manifest_id, "PROP_01", add=["hero", "act 2"]) == ["act 2", "hero"]
    assert edit_user_tags(factory, manifest_id, "PROP_01", remove=["act 2"]) == ["hero"]

    runner.run(manifest_id, reprocess=True)
    after = by_tag(assets_of(factory, manifest_id))
    assert after["PROP_01"].name == "Hero mug" and after["PROP_01"].user_tags == ["hero"]
    assert after[extracted[0]].name == "Press secretary"
    with factory() as session:
        assert "Hero mug" in set(session.scalars(select(Upload.name)))


def test_merging_assets_of_different_types_needs_force(env: tuple, make_manifest, assets_of, data_dir: Path) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    manifest_id = make_manifest(
        factory,
        store,
        [
            PhotoIn(faces(data_dir) / "obama.jpg", AssetType.CHARACTER, "Lead"),
            PhotoIn(data_dir / "detection/skimage_data/coffee.png", AssetType.PROP, "Espresso"),
        ],
    )
    runner.run(manifest_id)

    def snapshot() -> set[tuple[str | None, str, int]]:
        return {(a.manifest_tag, a.name, len(a.references)) for a in assets_of(factory, manifest_id)}

    before = snapshot()
    assert {"CHAR_01", "PROP_01"} <= {tag for tag, _, _ in before}
    with pytest.raises(VidpipeError) as refused:
        merge_assets(factory, manifest_id, "CHAR_01", ["prop_01"])
    message = str(refused.value)
    for part in ("CHAR_01", "'Lead'", "CHARACTER", "PROP_01", "'Espresso'", "PROP", "unless forced"):
        assert part in message
    assert snapshot() == before
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(AssetDecision)) == 0
        assert session.scalar(select(Manifest.asset_count)) == len(before)

    result = merge_assets(factory, manifest_id, "CHAR_01", ["PROP_01"], force=True)
    assert result.kept == "CHAR_01" and result.merged == ("PROP_01",)
    after = by_tag(assets_of(factory, manifest_id))
    assert "PROP_01" not in after and after["CHAR_01"].asset_type is AssetType.CHARACTER
    assert len(after["CHAR_01"].references) == 2


def test_bad_corrections_are_refused_and_change_nothing(env: tuple, make_manifest, assets_of, data_dir: Path) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    manifest_id = make_manifest(
        factory, store, [PhotoIn(data_dir / "detection/skimage_data/coffee.png", AssetType.PROP, "Espresso")]
    )
    with pytest.raises(VidpipeError, match="not been processed"):
        rename_asset(factory, manifest_id, "PROP_01", "x")
    runner.run(manifest_id)
    before = {(a.manifest_tag, a.name, len(a.references)) for a in assets_of(factory, manifest_id)}
    with pytest.raises(VidpipeError, match=r"no asset 'CHAR_09'.*PROP_01"):
        merge_assets(factory, manifest_id, "PROP_01", ["CHAR_09"])
    with pytest.raises(VidpipeError, match="into itself"):
        merge_assets(factory, manifest_id, "PROP_01", ["PROP_01"])
    with pytest.raises(VidpipeError, match="at least one must stay"):
        split_asset(factory, store, runner.describer, manifest_id, "PROP_01", [1])
    with pytest.raises(VidpipeError, match="no reference 5"):
        split_asset(factory, store, runner.describer, manifest_id, "PROP_01", [5])
    with pytest.raises(VidpipeError, match="printable"):
        rename_asset(factory, manifest_id, "PROP_01", "  \x07 ")
    with pytest.raises(VidpipeError, match="no user tag 'hero'"):
        edit_user_tags(factory, manifest_id, "PROP_01", remove=["hero"])
    assert {(a.manifest_tag, a.name, len(a.references)) for a in assets_of(factory, manifest_id)} == before
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(AssetDecision)) == 0
        assert session.scalar(select(Manifest.asset_count)) == len(before)


def test_a_deleted_extracted_asset_stays_deleted_through_reruns(
    env: tuple, make_manifest, assets_of, data_dir: Path
) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    manifest_id = make_manifest(
        factory, store, [PhotoIn(faces(data_dir) / "two_people.jpg", AssetType.ENVIRONMENT, "Press room")]
    )
    runner.run(manifest_id)
    before = by_tag(assets_of(factory, manifest_id))
    extracted = sorted(t for t, a in before.items() if a.source is AssetSource.EXTRACTED and t.startswith("CHAR"))
    assert len(extracted) == 2  # the two men
    gone = extracted[1]

    result = delete_asset(factory, manifest_id, gone)
    assert result.tag == gone and result.views_dismissed >= 1
    assert set(by_tag(assets_of(factory, manifest_id))) == set(before) - {gone}

    runner.run(manifest_id, reprocess=True)
    after = by_tag(assets_of(factory, manifest_id))
    assert set(after) == set(before) - {gone}, "the re-run brought the deleted asset back"
    assert {t: a.id for t, a in after.items()} == {t: a.id for t, a in before.items() if t != gone}
    with pytest.raises(VidpipeError, match="uploaded photo"):
        delete_asset(factory, manifest_id, "ENV_01")  # a photo's own asset: its photo would bring it back


def test_the_same_photos_always_get_the_same_tags(env: tuple, make_manifest, assets_of, data_dir: Path) -> None:  # type: ignore[type-arg]
    """Tags are numbered in the photos' order and places, never in the order of random ids."""
    factory, store, runner = env
    # The same two men in three photos, as objects: extracted people whose best views tie on quality.
    photos = [
        PhotoIn(faces(data_dir) / name, AssetType.OBJECT) for name in ("obama-1080p.jpg", "biden.jpg", "two_people.jpg")
    ]
    registries = []
    for _ in range(4):
        manifest_id = make_manifest(factory, store, photos)
        runner.run(manifest_id)
        registries.append(
            sorted(
                (a.manifest_tag, a.name, [(r.bbox, r.sort_order) for r in a.references])
                for a in assets_of(factory, manifest_id)
            )
        )
    assert registries[0] == registries[1] == registries[2] == registries[3]


def test_renamed_in_replaces_whole_words_only() -> None:
    from vidpipe.pipeline.corrections import renamed_in

    text = "Anna, a woman in red; ANNA smiles. Annabel waits."
    assert renamed_in(text, "Anna", "Maria") == "Maria, a woman in red; Maria smiles. Annabel waits."
    assert renamed_in(text, "", "Maria") == text and renamed_in(None, "Anna", "Maria") is None
    assert renamed_in("Cost (1+1)", "(1+1)", "two") == "Cost two"
