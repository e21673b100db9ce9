"""Shared by the engine's tests: models loaded once, a registry per test on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from vidpipe.db.engine import make_engine, session_factory
from vidpipe.db.migrate import upgrade
from vidpipe.db.models import Asset, Manifest
from vidpipe.describe.describers.offline import OfflineDescriber
from vidpipe.domain.enums import AssetType
from vidpipe.pipeline.manifesting import ManifestRunner
from vidpipe.pipeline.registry import find_manifest
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn, add_photos
from vidpipe.settings import Settings
from vidpipe.storage import FileStore

MakeManifest = Callable[[sessionmaker[Session], FileStore, list[PhotoIn]], uuid.UUID]
AssetsOf = Callable[[sessionmaker[Session], uuid.UUID], list[Asset]]


@pytest.fixture(scope="module")
def toolkit(settings: Settings) -> VisionToolkit:
    return VisionToolkit.create(settings)


@pytest.fixture
def env(
    database_url: str, tmp_path: Path, toolkit: VisionToolkit
) -> Iterator[tuple[sessionmaker[Session], FileStore, ManifestRunner]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    factory = session_factory(engine)
    store = FileStore(tmp_path / "files")
    yield factory, store, ManifestRunner(factory, store, toolkit, OfflineDescriber(classifier=toolkit.classifier))
    engine.dispose()


def _make_manifest(factory: sessionmaker[Session], store: FileStore, photos: list[PhotoIn]) -> uuid.UUID:
    with factory() as session, session.begin():
        manifest = Manifest(name="Test production")
        session.add(manifest)
        session.flush()
        _, refused = add_photos(session, store, manifest, photos, Settings())
        assert not refused
    return manifest.id


def _production(data_dir: Path) -> list[PhotoIn]:
    faces = data_dir / "faces/face_recognition"
    samples = data_dir / "detection/skimage_data"
    return [
        PhotoIn(faces / "obama.jpg", AssetType.CHARACTER, "The President"),
        PhotoIn(faces / "obama2.jpg", AssetType.CHARACTER, "The President, side"),
        PhotoIn(samples / "coffee.png", AssetType.PROP, "Espresso"),
        PhotoIn(samples / "motorcycle_left.png", AssetType.VEHICLE, "Bike"),
        PhotoIn(faces / "two_people.jpg", AssetType.ENVIRONMENT, "Press room"),
    ]


def _assets_of(factory: sessionmaker[Session], manifest_id: uuid.UUID) -> list[Asset]:
    with factory() as session:
        return list(find_manifest(session, str(manifest_id)).assets)


@pytest.fixture
def make_manifest() -> MakeManifest:
    return _make_manifest


@pytest.fixture
def production(data_dir: Path) -> list[PhotoIn]:
    """Two portraits of one man, a cup, a motorcycle and a press room with two men."""
    return _production(data_dir)


@pytest.fixture
def assets_of() -> AssetsOf:
    return _assets_of
