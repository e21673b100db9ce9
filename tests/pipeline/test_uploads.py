"""Taking photos into a manifest: bad files refused with reasons, duplicates reported, names kept safely,
--names CSVs checked row by row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from vidpipe.db.engine import make_engine, session_factory
from vidpipe.db.migrate import upgrade
from vidpipe.db.models import Manifest
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.uploads import PhotoIn, add_photos, clean_name, parse_asset_type, photos_from_paths
from vidpipe.settings import Settings
from vidpipe.storage import FileStore


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def _photo(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def test_good_photos_in_bad_ones_refused_and_the_manifest_stays_usable(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "files")
    settings = Settings(max_upload_bytes=50_000)
    red = _photo(tmp_path / "red.png", (255, 0, 0))
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    truncated = tmp_path / "cut.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    huge = tmp_path / "huge.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(huge)
    with factory() as session, session.begin():
        manifest = Manifest(name="m")
        session.add(manifest)
        session.flush()
        added, refused = add_photos(
            session,
            store,
            manifest,
            [PhotoIn(p, AssetType.PROP) for p in (red, empty, text, truncated, huge, tmp_path / "missing.jpg")],
            settings,
        )
    assert [u.original_filename for u in added] == ["red.png"]
    reasons = {r.path.name: r.reason for r in refused}
    assert "empty" in reasons["empty.jpg"] and "not an image" in reasons["notes.png"]
    assert (
        "truncated" in reasons["cut.jpg"]
        and "limit" in reasons["huge.png"]
        and "no such file" in reasons["missing.jpg"]
    )
    # Still usable: another good photo goes in; the same bytes again do not.
    blue = _photo(tmp_path / "blue.png", (0, 0, 255))
    with factory() as session, session.begin():
        manifest = session.get(Manifest, manifest.id)
        assert manifest is not None
        more, _ = add_photos(
            session, store, manifest, [PhotoIn(blue, AssetType.PROP), PhotoIn(red, AssetType.PROP)], settings
        )
        assert [u.original_filename for u in more] == ["blue.png"]
        assert manifest.upload_count == 2 and [u.sort_order for u in manifest.uploads] == [1, 2]


def test_unicode_and_path_like_names_are_stored_as_text(factory: sessionmaker[Session], tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    photo = _photo(tmp_path / "zoë.png", (10, 200, 30))
    with factory() as session, session.begin():
        manifest = Manifest(name="m")
        session.add(manifest)
        session.flush()
        added, _ = add_photos(
            session, store, manifest, [PhotoIn(photo, AssetType.CHARACTER, name="../../etc/passwd")], Settings()
        )
        added2, _ = add_photos(
            session,
            store,
            manifest,
            [PhotoIn(_photo(tmp_path / "b.png", (1, 2, 3)), AssetType.CHARACTER, "Zoë 🎬 Ⅱ")],
            Settings(),
        )
    assert added[0].name == "../../etc/passwd" and added[0].original_filename == "zoë.png"
    assert added2[0].name == "Zoë 🎬 Ⅱ"
    assert store.path(added[0].storage_key).is_relative_to(tmp_path / "files")


def test_clean_name() -> None:
    assert clean_name("  Hero\x00\n ", "x") == "Hero"
    assert clean_name("", "fallback") == "fallback"
    assert len(clean_name("a" * 500, "x")) == 200


def test_a_duplicate_is_refused_as_a_duplicate_and_changes_nothing(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "files")
    red = _photo(tmp_path / "red.png", (255, 0, 0))
    with factory() as session, session.begin():
        manifest = Manifest(name="m")
        session.add(manifest)
        session.flush()
        add_photos(session, store, manifest, [PhotoIn(red, AssetType.PROP, "Red card")], Settings())
    (tmp_path / "copy").mkdir()
    blue = _photo(tmp_path / "blue.png", (0, 0, 255))
    blue_again = _photo(tmp_path / "copy" / "blue.png", (0, 0, 255))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with factory() as session, session.begin():
        again = session.get(Manifest, manifest.id)
        assert again is not None
        added, refused = add_photos(
            session,
            store,
            again,
            [PhotoIn(p, AssetType.PROP) for p in (red, blue, blue_again, empty)],
            Settings(),
        )
        assert [u.original_filename for u in added] == ["blue.png"]
        assert again.upload_count == 2 and [u.name for u in again.uploads] == ["Red card", "blue"]
    by_path = {r.path: r for r in refused}
    assert list(by_path) == [red, blue_again, empty]
    assert by_path[red].duplicate_of == "Red card"
    assert "same bytes as 'Red card' (red.png), already in the manifest" in by_path[red].reason
    assert by_path[blue_again].duplicate_of == "blue"
    assert f"same bytes as {str(blue)!r} given earlier in this call" in by_path[blue_again].reason
    assert by_path[empty].duplicate_of is None  # a bad file is an error, not a duplicate


def _csv(tmp_path: Path, text: str, name: str = "names.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_names_match_by_path_or_file_name_and_the_rest_get_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    images = [Path("cast/obama.jpg"), Path("props/cup.png"), Path("props/other.png"), Path("set/room.jpg")]
    names = _csv(
        tmp_path,
        "File,Name,Type\n"
        "./cast/obama.jpg,The President,character\n"
        "cup.png,Espresso, Prop \n"
        f"{tmp_path / 'set/room.jpg'},Press room,\n"
        "cup.png,Espresso,PROP\n",  # the same values twice are one row
    )
    photos = photos_from_paths(images, "object", names)
    assert photos == [
        PhotoIn(images[0], AssetType.CHARACTER, "The President"),
        PhotoIn(images[1], AssetType.PROP, "Espresso"),
        PhotoIn(images[2], AssetType.OBJECT, None),
        PhotoIn(images[3], AssetType.OBJECT, "Press room"),
    ]
    assert photos_from_paths(images[:1], "STYLE", None) == [PhotoIn(images[0], AssetType.STYLE)]


def test_a_names_row_matching_no_photo_is_an_error_listing_every_such_row(tmp_path: Path) -> None:
    images = [tmp_path / "obama.jpg", tmp_path / "obama2.jpg"]
    names = _csv(tmp_path, "file,name\nobama.jpg,Obama\nobama2.jgp,Side\n../../etc/x.jpg,Sneaky\n")
    with pytest.raises(VidpipeError) as info:
        photos_from_paths(images, "CHARACTER", names)
    message = str(info.value)
    assert str(names) in message and "2 row(s) match none of the photos" in message
    assert "line 3 'obama2.jgp'" in message and "line 4 '../../etc/x.jpg'" in message
    assert "line 2" not in message  # the row that matches is not blamed


def test_a_photo_named_twice_differently_is_an_error_naming_both_rows(tmp_path: Path) -> None:
    images = [tmp_path / "a" / "cup.png"]
    twice = _csv(tmp_path, "file,name,type\ncup.png,Espresso,PROP\ncup.png,Latte,PROP\n")
    with pytest.raises(VidpipeError, match=r"named differently by line 2 .*Espresso.* and line 3 .*Latte"):
        photos_from_paths(images, "PROP", twice)
    by_path_and_name = _csv(tmp_path, f"file,name,type\n{images[0]},Espresso,PROP\ncup.png,Espresso,OBJECT\n")
    with pytest.raises(VidpipeError, match=r"type PROP.* and line 3 .*type OBJECT"):
        photos_from_paths(images, "PROP", by_path_and_name)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read names file"),
        (b"Name,type\nx.jpg,X\n", "needs a 'file' column (and 'name', 'type'); its columns: 'name', 'type'"),
        (b"", "needs a 'file' column (and 'name', 'type'); its columns: none"),
        (b"file,name\n\xff\xfe,x\n", "not UTF-8"),
        (b"file,name,type\nx.jpg,X,BOAT\n", "line 2 ('x.jpg'): unknown asset type 'BOAT'; expected one of CHARACTER"),
        (b"file,name\n,Nameless\n", "line 2: no file named"),
    ],
)
def test_a_bad_names_file_is_one_clear_error(tmp_path: Path, content: bytes | None, expected: str) -> None:
    names = tmp_path / "names.csv"
    if content is not None:
        names.write_bytes(content)
    with pytest.raises(VidpipeError) as info:
        photos_from_paths([tmp_path / "x.jpg"], "PROP", names)
    assert expected in str(info.value) and str(names) in str(info.value)


def test_parse_asset_type() -> None:
    assert parse_asset_type(" vehicle ", "x") is AssetType.VEHICLE
    with pytest.raises(VidpipeError, match=r"^--type: unknown asset type 'boat'; expected one of CHARACTER, OBJECT"):
        parse_asset_type("boat", "--type")
    with pytest.raises(VidpipeError, match="default type: unknown asset type 'BOAT'"):
        photos_from_paths([Path("x.jpg")], "BOAT", None)
