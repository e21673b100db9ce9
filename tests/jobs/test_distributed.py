"""The dramatiq backend under the things that go wrong at scale: a worker killed outright, Redis
restarted, a cancel from the API, a stopping worker, many jobs at once, queues for GPU workers.
Real Redis, real `vidpipe worker` processes, PostgreSQL, real photos and models."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.clipmaking import make_clip
from tests.jobs.workers import (
    Worker,
    clear_namespace,
    distributed_env,
    distributed_settings,
    ended,
    mid_run,
    start_workers,
    wait_for,
)

from vidpipe.api.app import create_app
from vidpipe.app import AppContext
from vidpipe.describe.describers.offline import OfflineDescriber
from vidpipe.domain.enums import AssetType, JobStatus
from vidpipe.jobs.distributed import messaging_for, sweep
from vidpipe.jobs.handlers import MANIFEST_PHOTOS
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, projects, runs
from vidpipe.services.views import JobView, ManifestSummary
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.slow]

Opened = Callable[..., AppContext]


@pytest.fixture
def opened(
    tmp_path: Path, toolkit: VisionToolkit, settings: Settings, postgres_url: str
) -> Iterator[Callable[..., AppContext]]:
    """Opens the test's context on the dramatiq backend (PostgreSQL, its own Redis namespace)."""
    made: list[AppContext] = []

    def open_ctx(**jobs: object) -> AppContext:
        redis_url = jobs.pop("redis_url", None)
        here = distributed_settings(settings, tmp_path / "data", postgres_url, **jobs)
        if redis_url:
            here = here.model_copy(update={"redis_url": redis_url})
        ctx = AppContext.open(here, toolkit=toolkit, describer=OfflineDescriber(classifier=toolkit.classifier))
        made.append(ctx)
        return ctx

    yield open_ctx
    for ctx in made:
        with contextlib.suppress(Exception):  # a private Redis already stopped
            clear_namespace(ctx.settings)
        ctx.close()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Every worker a test starts; all killed at its end, whatever happened."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def owner_pid(job: JobView) -> int:
    assert job.owner is not None and job.owner.count(":") == 2, job.owner
    return int(job.owner.split(":")[1])


def registry(ctx: AppContext, manifest_id: uuid.UUID) -> list[tuple[str | None, str, str, int]]:
    """What a run made, without ids: tag, name, type and number of views of each asset."""
    view = manifests.show_manifest(ctx, str(manifest_id))
    return sorted((a.tag, a.name, a.asset_type.value, len(a.references)) for a in view.assets)


def big_production(data_dir: Path) -> list[PhotoIn]:
    """Twelve photos: long enough a run to be caught in the middle."""
    faces = data_dir / "faces/face_recognition"
    samples = data_dir / "detection/skimage_data"
    people = sorted(faces.glob("*.jpg"))[:8]
    return [
        *(PhotoIn(p, AssetType.CHARACTER, p.stem) for p in people),
        PhotoIn(samples / "coffee.png", AssetType.PROP, "Espresso"),
        PhotoIn(samples / "motorcycle_left.png", AssetType.VEHICLE, "Bike"),
        PhotoIn(samples / "astronaut.png", AssetType.CHARACTER, "Astronaut"),
        PhotoIn(samples / "rocket.jpg", AssetType.VEHICLE, "Rocket"),
    ]


def started_lines(workers: list[Worker]) -> Counter[str]:
    """How many times each job was started, over every worker's log."""
    counts: Counter[str] = Counter()
    for worker in workers:
        for line in worker.text().splitlines():
            if "[vidpipe.worker]" in line and line.rstrip().endswith(" started"):
                counts[line.split(" job ")[1].split()[0]] += 1
    return counts


def test_a_worker_killed_mid_run_leaves_the_job_to_the_other_with_the_same_registry(
    opened: Opened, workers: list[Worker], data_dir: Path, tmp_path: Path
) -> None:
    ctx = opened()
    photos = big_production(data_dir)
    clean = manifests.create_manifest(ctx, "Clean", photos).manifest
    assert runs.process_manifest(ctx, str(clean.id)).status is JobStatus.SUCCEEDED
    expected = registry(ctx, clean.id)

    workers.extend(start_workers(ctx.settings, tmp_path, 2))
    manifest = manifests.create_manifest(ctx, "Killed", photos).manifest
    job = runs.request_run(ctx, str(manifest.id))
    running = wait_for(ctx, job.id, mid_run)
    victim = owner_pid(running)
    os.kill(victim, signal.SIGKILL)

    finished = wait_for(ctx, job.id, ended)
    assert finished.status is JobStatus.SUCCEEDED, finished.error
    assert finished.attempts == 2
    assert owner_pid(finished) != victim
    assert registry(ctx, manifest.id) == expected
    view = manifests.show_manifest(ctx, str(manifest.id))
    tags = [a.tag for a in view.assets]
    assert len(tags) == len(set(tags)), "duplicate assets"
    assert len(view.uploads) == len(photos), "uploads lost"
    assert all(ctx.store.exists(u.storage_key) for u in view.uploads)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_server(port: int, folder: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise AssertionError("redis-server did not start")


def test_redis_restarted_mid_run_loses_no_job(
    opened: Opened, workers: list[Worker], data_dir: Path, tmp_path: Path
) -> None:
    """A Redis without persistence forgets every message when it restarts: the running job goes on
    (its state is in the database), and the queued ones are sent again by the workers' sweep."""
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode != 0:
        pytest.fail("redis-server is needed for this test (apt-get install redis-server)")
    port = _free_port()
    redis = _redis_server(port, tmp_path)
    try:
        ctx = opened(redis_url=f"redis://127.0.0.1:{port}/0")
        workers.extend(start_workers(ctx.settings, tmp_path, 1))
        photos = big_production(data_dir)
        made = [manifests.create_manifest(ctx, f"M{i}", photos[i * 4 : i * 4 + 4]).manifest for i in range(3)]
        jobs = [runs.request_run(ctx, str(m.id)) for m in made]
        wait_for(ctx, jobs[0].id, mid_run)
        redis.kill()
        redis.wait(10)
        redis = _redis_server(port, tmp_path)  # empty: the queued messages are gone
        finished = [wait_for(ctx, j.id, ended, timeout=120) for j in jobs]
        assert [j.status for j in finished] == [JobStatus.SUCCEEDED] * 3, [j.error for j in finished]
        assert [j.attempts for j in finished] == [1, 1, 1]
        assert all(n == 1 for n in started_lines(workers).values())
    finally:
        for worker in workers:
            worker.kill()
        redis.kill()
        redis.wait(10)


def test_a_cancel_from_the_api_reaches_a_job_on_a_worker(
    opened: Opened, workers: list[Worker], data_dir: Path, tmp_path: Path
) -> None:
    ctx = opened()
    workers.extend(start_workers(ctx.settings, tmp_path, 1))
    manifest = manifests.create_manifest(ctx, "Cancelled", big_production(data_dir)).manifest
    client = TestClient(create_app(ctx))
    response = client.post(f"/api/manifests/{manifest.id}/process")
    assert response.status_code in (200, 201, 202), response.text
    job_id = uuid.UUID(response.json()["job_id"])
    wait_for(ctx, job_id, mid_run)
    asked = time.monotonic()
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    stopped = wait_for(ctx, job_id, ended, timeout=10)
    took = time.monotonic() - asked
    assert stopped.status is JobStatus.CANCELLED and took < 3.0, (stopped, took)
    assert manifests.show_manifest(ctx, str(manifest.id)).assets == ()
    health = client.get("/api/health").json()
    assert health["jobs_backend"] == "dramatiq" and health["broker"]["ok"] and health["broker"]["workers"] >= 1


def test_a_worker_stopped_by_sigterm_hands_its_job_to_another(
    opened: Opened, workers: list[Worker], data_dir: Path, tmp_path: Path
) -> None:
    ctx = opened()
    workers.extend(start_workers(ctx.settings, tmp_path, 2))
    manifest = manifests.create_manifest(ctx, "Handed on", big_production(data_dir)).manifest
    job = runs.request_run(ctx, str(manifest.id))
    running = wait_for(ctx, job.id, mid_run)
    holder = next(w for w in workers if owner_pid(running) in w.children())
    assert holder.stop() == 0, holder.text()[-2000:]
    assert "handed back to the queue" in holder.text()
    finished = wait_for(ctx, job.id, ended)
    assert finished.status is JobStatus.SUCCEEDED and finished.attempts == 1, finished
    assert owner_pid(finished) != owner_pid(running)


def test_twenty_manifests_and_clip_analyses_at_once_all_finish_once(
    opened: Opened, workers: list[Worker], data_dir: Path, tmp_path: Path
) -> None:
    ctx = opened()
    faces = data_dir / "faces/face_recognition"
    samples = data_dir / "detection/skimage_data"
    base = manifests.create_manifest(ctx, "Cast", [PhotoIn(faces / "obama.jpg", AssetType.CHARACTER, "Obama")]).manifest
    assert runs.process_manifest(ctx, str(base.id)).status is JobStatus.SUCCEEDED
    project = projects.create_project(ctx, "Load", str(base.id))
    scene = projects.add_scene(ctx, str(project.id), 1)
    pictures = [faces / "obama2.jpg", samples / "coffee.png", faces / "biden.jpg", samples / "chelsea.png"]
    clips = [
        projects.add_clip(ctx, str(scene.id), make_clip(tmp_path / f"c{i}.mp4", [(pictures[i % 4], 0.6)]))
        for i in range(8)
    ]
    singles = sorted(faces.glob("*.jpg"))[:12]
    made = [
        manifests.create_manifest(ctx, f"M{i}", [PhotoIn(p, AssetType.CHARACTER, p.stem)]).manifest
        for i, p in enumerate(singles)
    ]
    workers.extend(start_workers(ctx.settings, tmp_path, 2))
    jobs = [runs.request_run(ctx, str(m.id)) for m in made] + [projects.request_analysis(ctx, str(c.id)) for c in clips]
    assert len(jobs) == 20
    finished = [wait_for(ctx, j.id, ended, timeout=180) for j in jobs]
    assert all(j.status is JobStatus.SUCCEEDED for j in finished), [(j.kind, j.error) for j in finished]
    assert all(j.attempts == 1 for j in finished)
    counts = started_lines(workers)
    assert sorted(counts) == sorted(str(j.id) for j in jobs) and set(counts.values()) == {1}
    # Both workers took a share.
    pids = Counter(owner_pid(j) for j in finished)
    assert len(pids) == 2, pids


def test_a_gpu_queue_is_served_only_by_a_gpu_worker(
    opened: Opened, workers: list[Worker], data_dir: Path, tmp_path: Path
) -> None:
    ctx = opened(clip_queue="gpu", manifest_queue="gpu")
    workers.extend(start_workers(ctx.settings, tmp_path, 1))  # cpu only
    manifest = manifests.create_manifest(
        ctx, "GPU", [PhotoIn(data_dir / "detection/skimage_data/coffee.png", AssetType.PROP, "Cup")]
    ).manifest
    job = runs.request_run(ctx, str(manifest.id))
    time.sleep(3)
    assert runs.get_job(ctx, str(job.id)).status is JobStatus.QUEUED
    assert messaging_for(ctx.settings).queue_depths()["gpu"] == 1
    workers.extend(start_workers(ctx.settings, tmp_path, 1, "--queues", "gpu"))
    finished = wait_for(ctx, job.id, ended)
    assert finished.status is JobStatus.SUCCEEDED
    assert owner_pid(finished) in workers[1].children()


def test_the_sweep_sends_again_a_queued_job_whose_message_was_lost(opened: Opened, data_dir: Path) -> None:
    ctx = opened()
    manifest = manifests.create_manifest(
        ctx, "Lost", [PhotoIn(data_dir / "detection/skimage_data/coffee.png", AssetType.PROP, "Cup")]
    ).manifest
    job = runs.request_run(ctx, str(manifest.id))
    messaging = messaging_for(ctx.settings)
    assert messaging.live_job_ids() == {str(job.id)}
    assert sweep(ctx, messaging).resent == []  # its message is there: nothing to do
    clear_namespace(ctx.settings)  # Redis forgot it
    assert sweep(ctx, messaging).resent == []  # too recent to tell from a job being submitted
    time.sleep(ctx.settings.jobs.resend_after_seconds + 0.1)
    assert sweep(ctx, messaging).resent == [job.id]
    assert messaging.live_job_ids() == {str(job.id)}


def test_worker_check_reports_the_broker_and_the_database(
    opened: Opened, workers: list[Worker], tmp_path: Path
) -> None:
    ctx = opened()
    # Two processes of one command are two workers to the broker (each its own id, heartbeat and
    # held messages), not one.
    workers.extend(start_workers(ctx.settings, tmp_path, 1, "--processes", "2"))
    deadline = time.monotonic() + 30
    while workers[0].text().count("worker ready") < 2:
        assert time.monotonic() < deadline, workers[0].text()[-2000:]
        time.sleep(0.1)
    env = distributed_env(ctx.settings)
    check = [sys.executable, "-m", "vidpipe", "worker", "--check"]
    done = subprocess.run([*check, "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["database"]["ok"] and report["broker"]["workers"] == 2
    down = subprocess.run(
        check,
        env={**env, "VIDPIPE_REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 1 and "DOWN" in down.stderr, down.stderr


def unsplit_registry(opened: Opened, photos: list[PhotoIn]) -> list[tuple[str | None, str, str, int]]:
    """What a run of ``photos`` makes in one piece, here: what a split run must make too."""
    whole = opened(split_photos=0)
    clean = manifests.create_manifest(whole, "Whole", photos).manifest
    assert runs.process_manifest(whole, str(clean.id)).status is JobStatus.SUCCEEDED
    return registry(whole, clean.id)


def split_run(
    opened: Opened, workers: list[Worker], photos: list[PhotoIn], folder: Path
) -> tuple[AppContext, ManifestSummary, JobView]:
    """A run of ``photos`` requested on 2 workers, split in parts of 3 photos."""
    ctx = opened(split_photos=8, split_batch=3)
    workers.extend(start_workers(ctx.settings, folder, 2))
    manifest = manifests.create_manifest(ctx, "Split", photos).manifest
    return ctx, manifest, runs.request_run(ctx, str(manifest.id))


def _parts(ctx: AppContext, job_id: uuid.UUID) -> list[JobView]:
    return [j for j in runs.list_jobs(ctx) if j.kind == MANIFEST_PHOTOS and j.target_id == job_id]


def test_a_big_manifest_is_split_across_two_workers_with_the_same_registry(
    opened: Opened, workers: list[Worker], data_dir: Path, tmp_path: Path
) -> None:
    photos = big_production(data_dir)
    expected = unsplit_registry(opened, photos)
    ctx, manifest, job = split_run(opened, workers, photos, tmp_path)
    seen_progress = set()
    while (now := runs.get_job(ctx, str(job.id))).active:
        seen_progress.add(now.progress.get("uploads_processed", 0))
        time.sleep(0.05)
    assert now.status is JobStatus.SUCCEEDED, now.error
    parts = _parts(ctx, job.id)
    assert len(parts) == 4 and all(p.status is JobStatus.SUCCEEDED and p.attempts == 1 for p in parts)
    assert len({owner_pid(p) for p in parts}) == 2, "both workers took parts"
    assert registry(ctx, manifest.id) == expected
    assert len(seen_progress - {0, len(photos)}) >= 1, f"progress was not summed over the parts: {seen_progress}"


def test_a_split_run_whose_part_worker_is_killed_still_finishes_with_the_same_registry(
    opened: Opened, workers: list[Worker], data_dir: Path, tmp_path: Path
) -> None:
    photos = big_production(data_dir)
    expected = unsplit_registry(opened, photos)
    ctx, manifest, job = split_run(opened, workers, photos, tmp_path)
    deadline = time.monotonic() + 60
    while not (running := [p for p in _parts(ctx, job.id) if p.status is JobStatus.RUNNING]):
        assert time.monotonic() < deadline, "no part started"
        time.sleep(0.02)
    victim = owner_pid(running[0])
    os.kill(victim, signal.SIGKILL)
    finished = wait_for(ctx, job.id, ended, timeout=120)
    assert finished.status is JobStatus.SUCCEEDED, finished.error
    parts = _parts(ctx, job.id)
    assert all(p.status is JobStatus.SUCCEEDED for p in parts)
    assert max([finished.attempts, *(p.attempts for p in parts)]) == 2
    assert registry(ctx, manifest.id) == expected
