"""Whole manifesting runs on real photos, real models and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import gc
import threading
import tracemalloc
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vidpipe.app import AppContext
from vidpipe.bench.manifest import EngineOnly
from vidpipe.db.models import Job, Manifest
from vidpipe.db.repositories.manifests import find_manifest
from vidpipe.domain.enums import AssetSource, AssetType, JobStatus, ManifestStatus
from vidpipe.errors import ConflictError, VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.pipeline.manifesting import ManifestRunner
from vidpipe.pipeline.photo_analysis import PhotoAnalysis, PhotoRef, PhotoStore, analyze_photo
from vidpipe.pipeline.registry import registry_json, registry_markdown
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import runs
from vidpipe.services.runs import ManifestBusyError

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.slow]


def test_a_full_run_builds_the_registry(env: tuple, make_manifest, production, assets_of) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    manifest_id = make_manifest(factory, store, production)
    stats = runner.run(manifest_id)
    assets = {a.name: a for a in assets_of(factory, manifest_id)}
    president = assets["The President"]
    # One person across three photos: both portraits and the press-room photo.
    assert president.asset_type is AssetType.CHARACTER and president.manifest_tag == "CHAR_01"
    assert president.is_face_crop and len(president.references) == 3
    assert "The President, side" not in assets
    extracted_people = [
        a for a in assets.values() if a.source is AssetSource.EXTRACTED and a.asset_type is AssetType.CHARACTER
    ]
    assert (
        len(extracted_people) == 1 and extracted_people[0].manifest_tag == "CHAR_02"
    )  # the other man in the press room
    assert assets["Espresso"].detection_class == "cup" and assets["Espresso"].manifest_tag == "PROP_01"
    assert assets["Bike"].detection_class == "motorcycle" and assets["Bike"].manifest_tag == "VEH_01"
    assert assets["Press room"].detection_class is None and assets["Press room"].manifest_tag == "ENV_01"
    for asset in assets.values():
        assert asset.reverse_prompt and asset.visual_description and asset.suggested_name
        assert asset.quality_score is not None and 1 <= asset.quality_score <= 10
        assert asset.primary_reference_id == asset.references[0].id
        for ref in asset.references:
            assert store.path(ref.image_key).is_file() and ref.image_embedding_model == "mobilenet_v1_embedding"
    assert president.references[0].face_embedding_model == "dlib_resnet_v1"
    with factory() as session:
        manifest = session.get(Manifest, manifest_id)
        assert manifest is not None and manifest.status is ManifestStatus.READY and manifest.contact_sheet
        assert store.path(manifest.contact_sheet).is_file()
        job = session.scalars(select(Job).where(Job.target_id == manifest_id)).one()
        assert job.status is JobStatus.SUCCEEDED and job.progress["uploads_processed"] == 5
    assert stats.uploads == 5 and stats.people_merged >= 2 and set(stats.seconds) >= {"detect", "describe", "write"}


def test_a_rerun_keeps_ids_and_tags_and_never_duplicates(env: tuple, make_manifest, production, assets_of) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    manifest_id = make_manifest(factory, store, production[2:4])
    runner.run(manifest_id)
    first = {a.id: (a.manifest_tag, a.name, len(a.references)) for a in assets_of(factory, manifest_id)}
    runner.run(manifest_id, reprocess=True)
    second = {a.id: (a.manifest_tag, a.name, len(a.references)) for a in assets_of(factory, manifest_id)}
    assert second == first


def test_a_photo_with_nothing_found_becomes_a_whole_photo_asset(
    env: tuple, make_manifest, assets_of, tmp_path: Path
) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], (240, 1, 3))
    path = tmp_path / "plain.png"
    Image.fromarray(gradient).save(path)
    manifest_id = make_manifest(factory, store, [PhotoIn(path, AssetType.PROP, "Mystery box")])
    runner.run(manifest_id)
    (asset,) = assets_of(factory, manifest_id)
    assert asset.name == "Mystery box" and asset.detection_class is None
    assert asset.references[0].bbox == [0.0, 0.0, 320.0, 240.0]


def test_only_a_draft_starts_and_only_one_of_two_racing_starts_wins(
    env: tuple,  # type: ignore[type-arg]
    app_ctx: AppContext,
    make_manifest,
    production,
    assets_of,
) -> None:
    factory, store, _ = env
    manifest_id = make_manifest(factory, store, production[2:3])
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def start() -> None:
        barrier.wait()
        try:
            job = runs.process_manifest(app_ctx, str(manifest_id))
            outcomes.append(job.status.value)
        except ManifestBusyError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("SUCCEEDED") == 1
    assert "already being processed" in next(o for o in outcomes if o != "SUCCEEDED")
    with factory() as session:  # one job, run once: the second request found it queued or running
        (job,) = session.scalars(select(Job).where(Job.target_id == manifest_id)).all()
        assert job.status is JobStatus.SUCCEEDED and job.attempts == 1
    assert assets_of(factory, manifest_id)


def test_a_failed_run_reports_the_step_and_keeps_the_previous_registry(
    env: tuple, make_manifest, production, assets_of
) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    manifest_id = make_manifest(factory, store, production[2:4])
    runner.run(manifest_id)
    with pytest.raises(ConflictError, match="use reprocess"):
        runner.run(manifest_id)
    before = sorted((a.id, a.manifest_tag) for a in assets_of(factory, manifest_id))
    with factory() as session:
        upload = find_manifest(session, str(manifest_id)).uploads[0]
    store.path(upload.storage_key).unlink()  # the original vanished from disk
    with pytest.raises(VidpipeError, match="no such file"):
        runner.run(manifest_id, reprocess=True)
    with factory() as session:
        manifest = session.get(Manifest, manifest_id)
        assert manifest is not None and manifest.status is ManifestStatus.ERROR
        assert manifest.error is not None and "'load'" in manifest.error
    assert sorted((a.id, a.manifest_tag) for a in assets_of(factory, manifest_id)) == before


def test_exports(env: tuple, make_manifest, production) -> None:  # type: ignore[type-arg]
    factory, store, runner = env
    manifest_id = make_manifest(factory, store, production[2:4])
    runner.run(manifest_id)
    with factory() as session:
        manifest = find_manifest(session, str(manifest_id)[:8])
        data = registry_json(manifest, store)
        markdown = registry_markdown(manifest, store)
        first_key = manifest.assets[0].references[0].image_key
    asset = data["assets"][0]
    assert {
        "id",
        "type",
        "name",
        "manifest_tag",
        "reverse_prompt",
        "visual_description",
        "quality_score",
        "references",
    } <= set(asset)
    image = asset["references"][0]["image"]  # relative to the document, as in an export bundle
    assert image["path"].startswith("assets/") and not Path(image["path"]).is_absolute()
    assert store.path(first_key).stat().st_size == image["bytes"] and image["sha256"] in first_key
    assert markdown.startswith("# Test production") and "PROP_01" in markdown and "![Contact sheet](" in markdown


def test_swapping_a_reference_redoes_only_that_asset(
    env: tuple, make_manifest, production, assets_of, data_dir: Path, toolkit: VisionToolkit
) -> None:  # type: ignore[type-arg]
    from vidpipe.pipeline.reference_swap import swap_reference

    factory, store, runner = env
    photos = production
    manifest_id = make_manifest(factory, store, [photos[0], photos[2]])
    runner.run(manifest_id)
    before = {a.name: a for a in assets_of(factory, manifest_id)}
    president, cup = before["The President"], before["Espresso"]
    swap_reference(
        factory, store, toolkit, runner.describer, president.id, data_dir / "faces/face_recognition/obama2.jpg"
    )
    after = {a.name: a for a in assets_of(factory, manifest_id)}
    swapped = after["The President"]
    assert swapped.id == president.id and swapped.manifest_tag == president.manifest_tag
    assert len(swapped.references) == len(president.references) + 1
    assert swapped.primary_reference_id == swapped.references[0].id != president.primary_reference_id
    assert swapped.references[0].face_embedding_model == "dlib_resnet_v1"
    # The other asset is untouched.
    assert after["Espresso"].updated_at == cup.updated_at and after["Espresso"].reverse_prompt == cup.reverse_prompt
    # A re-run rebuilds the references cut from uploads, but the user's reference stays primary,
    # with the description made from it.
    runner.run(manifest_id, reprocess=True)
    rerun = {a.name: a for a in assets_of(factory, manifest_id)}["The President"]
    assert rerun.id == swapped.id and rerun.manifest_tag == swapped.manifest_tag
    assert rerun.primary_reference_id == swapped.primary_reference_id == rerun.references[0].id
    assert rerun.references[0].upload_id is None and len(rerun.references) == len(swapped.references)
    assert rerun.reverse_prompt == swapped.reverse_prompt and rerun.quality_score == swapped.quality_score
    bad = Path(store.root) / "empty.jpg"
    bad.write_bytes(b"")
    with pytest.raises(VidpipeError, match="empty"):
        swap_reference(factory, store, toolkit, runner.describer, president.id, bad)


# ------------------------------------------------------------- the run works from per-photo records


class _Watching(EngineOnly):
    """A run tracker that notes, after each photo, the bytes numpy arrays hold (while tracemalloc traces)."""

    def __init__(self) -> None:
        self.held: list[int] = []

    def set(self, **counters: int) -> None:
        if counters.get("uploads_processed") and tracemalloc.is_tracing():
            self.held.append(numpy_bytes())


# numpy reports its arrays' data to tracemalloc in a domain of its own.
NUMPY_TRACE_DOMAIN = 389047


def numpy_bytes() -> int:
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.DomainFilter(True, NUMPY_TRACE_DOMAIN)])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def _registry(factory: sessionmaker[Session], manifest_id: uuid.UUID) -> list[tuple[object, ...]]:
    """Everything a run decides about a manifest's assets, with uploads named by file (ids differ)."""
    with factory() as session:
        manifest = find_manifest(session, str(manifest_id))
        files = {u.id: u.original_filename for u in manifest.uploads}
        return sorted(
            (
                a.manifest_tag,
                a.asset_type,
                a.name,
                a.source,
                a.detection_class,
                a.is_face_crop,
                a.quality_score,
                a.attributes,
                a.reverse_prompt,
                a.references.index(a.primary_reference) if a.primary_reference else None,
                tuple(
                    (
                        files.get(r.upload_id) if r.upload_id else None,
                        tuple(r.bbox or ()),
                        r.image_key,
                        r.thumbnail_key,
                        r.quality_score,
                        r.face_embedding,
                        r.image_embedding,
                    )
                    for r in a.references
                ),
            )
            for a in manifest.assets
        )


def test_the_records_alone_make_the_registry(
    env: tuple,  # type: ignore[type-arg]
    app_ctx: AppContext,
    make_manifest,
    production,
    assets_of,
) -> None:
    """Every photo's record crossing JSON (as from a worker elsewhere) changes nothing in the registry."""
    factory, store, runner = env
    here = make_manifest(factory, store, production)
    runner.run(here)
    assert {a.manifest_tag for a in assets_of(factory, here)} == {
        "CHAR_01", "CHAR_02", "PROP_01", "VEH_01", "ENV_01",
    }  # fmt: skip
    sent: list[str] = []

    def elsewhere(photo: PhotoRef, toolkit: VisionToolkit, files: PhotoStore) -> PhotoAnalysis:
        sent.append(analyze_photo(photo, toolkit, files).to_json())
        return PhotoAnalysis.from_json(sent[-1])

    twin = make_manifest(factory, store, production)
    ManifestRunner(factory, store, app_ctx.toolkit(), runner.describer, analyze=elsewhere).run(twin, _Watching())
    assert len(sent) == len(production)
    assert _registry(factory, twin) == _registry(factory, here)


def test_a_run_holds_no_photo_once_it_is_done_with_it(
    env: tuple,  # type: ignore[type-arg]
    app_ctx: AppContext,
    make_manifest,
    data_dir: Path,
) -> None:
    factory, store, runner = env
    samples = data_dir / "detection/skimage_data"
    names = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg", "camera.png"]
    manifest_id = make_manifest(factory, store, [PhotoIn(samples / n, AssetType.OBJECT) for n in names])
    smallest = min(load_image(samples / n).nbytes for n in names)
    watching = _Watching()
    engine = ManifestRunner(factory, store, app_ctx.toolkit(), runner.describer)
    tracemalloc.start()
    try:
        before = numpy_bytes()
        stats = engine.run(manifest_id, watching)
    finally:
        tracemalloc.stop()
    assert stats.uploads == len(names) and len(watching.held) == len(names)
    # After each photo the run's arrays are its records' vectors, not pixels: less than the smallest
    # photo decoded (a run keeping each decoded photo held 4.7 MB of arrays by the last one).
    growth = [held - before for held in watching.held]
    assert max(growth) < smallest, (growth, smallest)
