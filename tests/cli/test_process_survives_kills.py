"""`vidpipe manifest process` as a real child process, stopped every way a user stops it: killed
outright (SIGKILL) and recovered by the next command once its lease has run out; interrupted with
Ctrl-C (SIGINT) or SIGTERM and cancelled cleanly. On SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from vidpipe.app import AppContext
from vidpipe.bench.recovery import signal_mid_run, vidpipe_child
from vidpipe.domain.enums import JobStatus, ManifestStatus
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs
from vidpipe.services.views import JobView
from vidpipe.settings import JobSettings, Settings

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.slow]

LEASE_SECONDS = 2.0


@pytest.fixture
def registry(database_url: str, tmp_path: Path, settings: Settings, toolkit: VisionToolkit) -> Iterator[AppContext]:
    """A registry this test and its child processes share, with a short lease."""
    jobs = JobSettings(lease_seconds=LEASE_SECONDS, heartbeat_seconds=0.5)
    here = settings.model_copy(update={"data_dir": tmp_path / "data", "database_url": database_url, "jobs": jobs})
    here.describe.providers = ["offline"]
    with AppContext.open(here, toolkit=toolkit) as ctx:
        yield ctx


def _vidpipe(ctx: AppContext, *args: str) -> subprocess.Popen[str]:
    return vidpipe_child(ctx.settings, *args)


def _signal_mid_run(ctx: AppContext, child: subprocess.Popen[str], manifest_id: uuid.UUID, signum: int) -> None:
    signal_mid_run(ctx, child, manifest_id, signum)


def _job_of(ctx: AppContext, manifest_id: uuid.UUID) -> JobView | None:
    jobs = runs.list_jobs(ctx, str(manifest_id), limit=1)
    return jobs[0] if jobs else None


def _registry(ctx: AppContext, manifest_id: uuid.UUID) -> list[tuple[str | None, str, str, int]]:
    view = manifests.show_manifest(ctx, str(manifest_id))
    return sorted((a.tag, a.asset_type.value, a.name, len(a.references)) for a in view.assets)


def _ids(ctx: AppContext, manifest_id: uuid.UUID) -> list[tuple[uuid.UUID, str | None]]:
    return sorted((a.id, a.tag) for a in manifests.show_manifest(ctx, str(manifest_id)).assets)


def _finish(child: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str, str]:
    out, err = child.communicate(timeout=timeout)
    return child.returncode, out, err


def test_a_killed_run_is_recovered_by_the_next_command(registry: AppContext, production: list[PhotoIn]) -> None:
    ctx = registry
    killed = manifests.create_manifest(ctx, "Killed", production).manifest.id
    clean = manifests.create_manifest(ctx, "Clean", production).manifest.id
    assert runs.process_manifest(ctx, str(clean)).status is JobStatus.SUCCEEDED

    # A first run killed outright: nothing written, the manifest waits for its lease to run out.
    child = _vidpipe(ctx, "manifest", "process", str(killed))
    _signal_mid_run(ctx, child, killed, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL
    job = _job_of(ctx, killed)
    assert job is not None and job.status is JobStatus.RUNNING and job.attempts == 1
    assert manifests.show_manifest(ctx, str(killed)).summary.status is ManifestStatus.PROCESSING
    assert _registry(ctx, killed) == []

    time.sleep(LEASE_SECONDS + 0.5)
    code, out, err = _finish(_vidpipe(ctx, "manifest", "process", str(killed)))
    assert code == 0, err
    assert "recovered" in err and "READY" in out
    finished = _job_of(ctx, killed)
    assert finished is not None and finished.id == job.id  # the same job, retried: not a second one
    assert finished.status is JobStatus.SUCCEEDED and finished.attempts == 2
    assert _registry(ctx, killed) == _registry(ctx, clean)  # the same assets as a clean run, no duplicates
    assert len(runs.list_jobs(ctx, str(killed))) == 1

    # A re-run killed outright keeps the previous registry; its recovery keeps ids and tags.
    before = _ids(ctx, killed)
    child = _vidpipe(ctx, "manifest", "reprocess", str(killed))
    _signal_mid_run(ctx, child, killed, signal.SIGKILL)
    child.wait(30)
    assert _ids(ctx, killed) == before
    time.sleep(LEASE_SECONDS + 0.5)
    code, out, err = _finish(_vidpipe(ctx, "manifest", "process", str(killed)))
    assert code == 0, err
    assert _ids(ctx, killed) == before and _registry(ctx, killed) == _registry(ctx, clean)


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_cancels_the_run_and_keeps_the_registry(
    registry: AppContext, production: list[PhotoIn], signum: int, exit_code: int
) -> None:
    ctx = registry
    manifest_id = manifests.create_manifest(ctx, "Interrupted", production).manifest.id
    assert runs.process_manifest(ctx, str(manifest_id)).status is JobStatus.SUCCEEDED
    before = _ids(ctx, manifest_id)

    child = _vidpipe(ctx, "manifest", "reprocess", str(manifest_id))
    _signal_mid_run(ctx, child, manifest_id, signum)
    asked = time.monotonic()
    code, _, err = _finish(child, timeout=30)
    took = time.monotonic() - asked

    assert code == exit_code and "cancelled" in err and "Traceback" not in err
    assert took < 3.0, f"the command took {took:.1f} s to stop"
    view = manifests.show_manifest(ctx, str(manifest_id))
    assert view.summary.status is ManifestStatus.ERROR and view.summary.error == "cancelled"
    job = _job_of(ctx, manifest_id)
    assert job is not None and job.status is JobStatus.CANCELLED
    assert _ids(ctx, manifest_id) == before
