"""Constraints the registry relies on, enforced by the database itself on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vidpipe.db.engine import make_engine, session_factory
from vidpipe.db.migrate import upgrade
from vidpipe.db.models import Asset, AssetReference, Job, Manifest, Upload
from vidpipe.domain.enums import AssetSource, AssetType, JobStatus, ManifestStatus
from vidpipe.inference.vectors import embedding_from_bytes, embedding_to_bytes


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session


def _upload(manifest: Manifest, sha: str, order: int = 0) -> Upload:
    return Upload(
        manifest=manifest, storage_key=f"originals/{sha}.jpg", original_filename="a.jpg", name="Hero",
        asset_type=AssetType.CHARACTER, sort_order=order, sha256=sha, size_bytes=10, width=4, height=3,
    )  # fmt: skip


def test_a_full_registry_entry_round_trips(session: Session) -> None:
    manifest = Manifest(name="Pilot — épisode 1")
    upload = _upload(manifest, "a" * 64)
    asset = Asset(manifest=manifest, asset_type=AssetType.CHARACTER, name="Hero", user_tags=["lead"])
    vector = np.random.default_rng(0).normal(size=128).astype(np.float32)
    reference = AssetReference(
        asset=asset, image_key="crops/x.jpg", bbox=[1.5, 2.0, 30.0, 40.0],
        face_embedding=embedding_to_bytes(vector), face_embedding_model="dlib_resnet_v1", quality_score=7.5,
    )  # fmt: skip
    session.add_all([manifest, upload, asset, reference])
    session.flush()
    asset.primary_reference = reference
    session.commit()
    session.expunge_all()
    loaded = session.scalars(select(Asset)).one()
    assert loaded.manifest.status is ManifestStatus.DRAFT and loaded.source is AssetSource.UPLOADED
    assert loaded.user_tags == ["lead"] and loaded.primary_reference_id == reference.id
    assert loaded.references[0].bbox == [1.5, 2.0, 30.0, 40.0]
    assert np.array_equal(embedding_from_bytes(loaded.references[0].face_embedding or b""), vector)
    assert loaded.manifest.name == "Pilot — épisode 1"


def test_the_same_bytes_cannot_be_uploaded_twice_into_one_manifest(session: Session) -> None:
    first, second = Manifest(name="one"), Manifest(name="two")
    session.add_all([_upload(first, "b" * 64), _upload(second, "b" * 64)])
    session.commit()  # the same photo in two manifests is fine
    session.add(_upload(first, "b" * 64, order=1))
    with pytest.raises(IntegrityError):
        session.commit()


def test_manifest_tags_are_unique_within_a_manifest(session: Session) -> None:
    manifest = Manifest(name="m")
    session.add_all(
        [
            Asset(manifest=manifest, asset_type=AssetType.PROP, name="a", manifest_tag="PROP_01"),
            Asset(manifest=manifest, asset_type=AssetType.PROP, name="b", manifest_tag=None),
            Asset(manifest=manifest, asset_type=AssetType.PROP, name="c", manifest_tag=None),
        ]
    )
    session.commit()  # untagged assets do not clash
    session.add(Asset(manifest=manifest, asset_type=AssetType.PROP, name="d", manifest_tag="PROP_01"))
    with pytest.raises(IntegrityError):
        session.commit()


def test_deleting_a_manifest_removes_everything_under_it(session: Session, engine: Engine) -> None:
    manifest = Manifest(name="gone")
    asset = Asset(manifest=manifest, asset_type=AssetType.VEHICLE, name="car")
    session.add_all([manifest, _upload(manifest, "c" * 64), asset, AssetReference(asset=asset, image_key="k")])
    session.commit()
    # Delete in SQL, not through the ORM: the database's own cascades must do the work.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM manifests"))
    with engine.connect() as connection:
        for table in ("uploads", "assets", "asset_references"):
            assert connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0


def test_unknown_enum_values_are_refused_by_the_database(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO manifests (id, name, status, upload_count, asset_count, created_at, updated_at) VALUES "
                "('0b7c6c8e-4a43-4f4e-9d7e-2b1f9a0c0001', 'x', 'BOGUS', 0, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )


def test_jobs_persist_progress(session: Session) -> None:
    job = Job(kind="manifest.process", status=JobStatus.RUNNING, current_step="detect", progress={"uploads_total": 3})
    session.add(job)
    session.commit()
    job.progress = {**job.progress, "uploads_processed": 1}
    session.commit()
    session.expunge_all()
    assert session.get(Job, job.id).progress == {"uploads_total": 3, "uploads_processed": 1}  # type: ignore[union-attr]
