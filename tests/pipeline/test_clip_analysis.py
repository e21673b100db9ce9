"""Clip analysis end to end on real photos made into clips with PyAV: who is found where, the
continuity verdict, appearances written, and generated references added only by a passing clip."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from tests.clipmaking import make_clip

from vidpipe.app import AppContext
from vidpipe.db.models import Job
from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.domain.enums import AssetType
from vidpipe.errors import NotFoundError
from vidpipe.jobs.recovery import recover_stale_jobs
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, projects, runs
from vidpipe.settings import JobSettings

pytestmark = [pytest.mark.models, pytest.mark.data]


def _faces(data_dir: Path) -> Path:
    return data_dir / "faces" / "face_recognition"


def _project(ctx: AppContext, data_dir: Path) -> str:
    faces = _faces(data_dir)
    manifest = manifests.create_manifest(
        ctx,
        "Press",
        [
            PhotoIn(faces / "obama.jpg", AssetType.CHARACTER, "The President"),
            PhotoIn(faces / "biden.jpg", AssetType.CHARACTER, "The Mentor"),
        ],
    ).manifest
    job = runs.process_manifest(ctx, str(manifest.id))
    assert job.status.value == "SUCCEEDED", job.error
    project = projects.create_project(ctx, "Pilot", str(manifest.id))
    projects.add_scene(ctx, str(project.id), 1, expect=["CHAR_01"])
    return str(project.id)


def test_one_person_passes_and_the_same_clip_half_replaced_by_another_fails(
    app_ctx: AppContext, data_dir: Path, tmp_path: Path
) -> None:
    faces = _faces(data_dir)
    project = _project(app_ctx, data_dir)
    scene = projects.scene_for(app_ctx, project, 1)
    obama = [faces / n for n in ("obama2.jpg", "knn_examples__test__obama1.jpg", "tests__test_images__obama3.jpg")]
    steady = make_clip(tmp_path / "steady.mp4", [(p, 2.0) for p in obama])
    # The second half: someone the registry does not know.
    swapped = make_clip(
        tmp_path / "swapped.mp4",
        [(obama[0], 1.5), (obama[1], 1.5), (faces / "knn_examples__train__kit_harington__john1.jpeg", 3.0)],
    )
    # The second half: a registry character this scene does not expect.
    intruded = make_clip(
        tmp_path / "intruded.mp4",
        [(obama[0], 1.5), (obama[1], 1.5), (faces / "knn_examples__train__biden__biden2.jpg", 3.0)],
    )
    good_clip = projects.add_clip(app_ctx, str(scene.id), steady)
    job = projects.analyze_here(app_ctx, str(good_clip.id))
    assert job.status.value == "SUCCEEDED", job.error
    good = projects.get_analysis(app_ctx, str(good_clip.id))
    assert good.summary.gate == "pass" and good.summary.continuity_score >= 5.0, good.summary
    frames = good.record["frames"]
    assert len(frames) >= 3 and all("CHAR_01" in [s["tag"] for s in f["sightings"]] for f in frames)
    appearances = projects.appearances_of_clip(app_ctx, str(good_clip.id))
    assert appearances and {a["source"] for a in appearances} == {"face_match"}
    # A passing clip gave the character new views, marked as generated, at most K of them.
    assert 1 <= len(good.record["enriched"]) <= app_ctx.settings.cv_analysis.enrich_per_asset
    manifest_id = str(projects.show_project(app_ctx, project).manifest_id)
    president = next(a for a in manifests.show_manifest(app_ctx, manifest_id).assets if a.tag == "CHAR_01")
    generated = [r for r in president.references if r.origin == "generated"]
    assert len(generated) == len(good.record["enriched"]) and all(r.clip_id == good_clip.id for r in generated)

    bad_clip = projects.add_clip(app_ctx, str(scene.id), swapped)
    assert projects.analyze_here(app_ctx, str(bad_clip.id)).status.value == "SUCCEEDED"
    bad = projects.get_analysis(app_ctx, str(bad_clip.id))
    assert bad.summary.gate == "fail" and bad.summary.continuity_score < 5.0, bad.summary
    said = " | ".join(bad.summary.reasons)
    assert "CHAR_01 not seen after" in said or "CHAR_01 similarity falls after" in said, said
    assert "an unexpected person in" in said, said
    assert bad.record["enriched"] == []  # a failing clip never enriches the registry

    other_clip = projects.add_clip(app_ctx, str(scene.id), intruded)
    assert projects.analyze_here(app_ctx, str(other_clip.id)).status.value == "SUCCEEDED"
    other = projects.get_analysis(app_ctx, str(other_clip.id))
    assert other.summary.gate == "fail", other.summary
    assert any(r.startswith("CHAR_02, not expected in this scene") for r in other.summary.reasons), other.summary


def test_an_analysis_that_fails_says_why_and_writes_nothing(
    app_ctx: AppContext, data_dir: Path, tmp_path: Path
) -> None:
    faces = _faces(data_dir)
    project = _project(app_ctx, data_dir)
    scene = projects.scene_for(app_ctx, project, 1)
    clip = projects.add_clip(app_ctx, str(scene.id), make_clip(tmp_path / "long.mp4", [(faces / "obama2.jpg", 3.0)]))
    # The limit was lowered after the clip came in: the job's sampling step refuses it.
    strict = app_ctx.settings.cv_analysis.model_copy(update={"max_clip_seconds": 1.0})
    app_ctx.settings = app_ctx.settings.model_copy(update={"cv_analysis": strict})
    job = projects.analyze_here(app_ctx, str(clip.id))
    assert job.status.value == "FAILED" and job.error is not None
    assert "step 'sample' failed" in job.error and "long.mp4" in job.error and "1" in job.error, job.error
    after = projects.get_clip(app_ctx, str(clip.id))
    assert after.status == "ERROR" and after.error == job.error and after.analysis is None
    assert projects.appearances_of_clip(app_ctx, str(clip.id)) == []
    with pytest.raises(NotFoundError, match="has no analysis yet"):
        projects.get_analysis(app_ctx, str(clip.id))


def test_an_analysis_whose_process_died_is_recovered_like_a_manifest_run(
    app_ctx: AppContext, data_dir: Path, tmp_path: Path
) -> None:
    faces = _faces(data_dir)
    project = _project(app_ctx, data_dir)
    scene = projects.scene_for(app_ctx, project, 1)
    clip = projects.add_clip(app_ctx, str(scene.id), make_clip(tmp_path / "c.mp4", [(faces / "obama2.jpg", 1.0)]))
    job = projects.request_analysis(app_ctx, str(clip.id), submit=False)
    with app_ctx.transaction() as session:  # a worker claimed it and was killed: its heartbeat stops
        assert jobs_repo.claim(session, job.id, "host:4242:dead")
        session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(heartbeat_at=jobs_repo.now() - timedelta(seconds=120), attempts=3)
        )
    done = recover_stale_jobs(app_ctx.factory, JobSettings(lease_seconds=30, heartbeat_seconds=5, max_attempts=3))
    assert [(r.job_id, r.action) for r in done] == [(job.id, "failed")]
    after = projects.get_clip(app_ctx, str(clip.id))
    assert after.status == "ERROR" and after.error is not None and "interrupted" in after.error
    # Asked again, it runs to its end.
    assert projects.analyze_here(app_ctx, str(clip.id)).status.value == "SUCCEEDED"
