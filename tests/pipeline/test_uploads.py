"""Taking photos into a manifest: bad files refused with reasons, duplicates ignored, names kept safely."""

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
from vidpipe.pipeline.uploads import PhotoIn, add_photos, clean_name
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
