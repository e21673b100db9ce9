"""How long a killed run takes to come back: `vidpipe manifest process` killed with SIGKILL mid-run,
then recovered (its lease runs out, any process opening the registry queues it again) and run to
READY by the next `vidpipe manifest process`, as a user would do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from vidpipe.app import AppContext
from vidpipe.bench.manifest import SUFFIXES
from vidpipe.domain.enums import AssetType, JobStatus
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs
from vidpipe.settings import JobSettings, Settings


def vidpipe_child(settings: Settings, *args: str) -> subprocess.Popen[str]:
    """``python -m vidpipe ARGS`` on the same registry, models and job settings as ``settings``."""
    env = {
        **os.environ,
        "VIDPIPE_MODEL_DIR": str(settings.model_dir),
        "VIDPIPE_DATA_DIR": str(settings.data_dir),
        "VIDPIPE_DATABASE_URL": settings.resolved_database_url,
        "VIDPIPE_JOBS__LEASE_SECONDS": str(settings.jobs.lease_seconds),
        "VIDPIPE_JOBS__HEARTBEAT_SECONDS": str(settings.jobs.heartbeat_seconds),
        "VIDPIPE_DESCRIBE__PROVIDERS": "offline",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "vidpipe", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def signal_mid_run(ctx: AppContext, child: subprocess.Popen[str], manifest_id: uuid.UUID, signum: int) -> float:
    """Signal the child once its run is inside the detection sweep; returns when it was signalled."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        jobs = runs.list_jobs(ctx, str(manifest_id), limit=1)
        if jobs and jobs[0].status is JobStatus.RUNNING and jobs[0].step in ("detect", "people"):
            child.send_signal(signum)
            return time.monotonic()
        if child.poll() is not None:
            raise VidpipeError(f"the run ended before it could be killed: {child.communicate()[1][-500:]}")
        time.sleep(0.02)
    child.kill()
    raise VidpipeError("the run never reached its detection step")


def run_recovery_bench(
    images_dir: Path, settings: Settings, *, lease_seconds: float, poll_seconds: float = 0.5
) -> dict[str, Any]:
    photos = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in SUFFIXES)
    if not photos:
        raise VidpipeError(f"no photos in {str(images_dir)!r} (looked for {', '.join(sorted(SUFFIXES))})")
    jobs = JobSettings(lease_seconds=lease_seconds, heartbeat_seconds=min(5.0, lease_seconds / 3))
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as folder:
        here = settings.model_copy(update={"data_dir": Path(folder), "database_url": None, "jobs": jobs})
        with AppContext.open(here) as ctx:
            inputs = [PhotoIn(p, AssetType.OBJECT) for p in photos]
            clean = manifests.create_manifest(ctx, "clean", inputs).manifest.id
            killed = manifests.create_manifest(ctx, "killed", inputs).manifest.id

            start = time.monotonic()
            child = vidpipe_child(here, "manifest", "process", str(clean))
            if child.wait() != 0:
                raise VidpipeError(f"the clean run failed: {child.communicate()[1][-500:]}")
            clean_seconds = time.monotonic() - start

            child = vidpipe_child(here, "manifest", "process", str(killed))
            killed_at = signal_mid_run(ctx, child, killed, signal.SIGKILL)
            child.wait()
            # Any vidpipe process opening the registry recovers; poll the way a retrying user would.
            while True:
                with AppContext.open(here) as probe:
                    if any(r.target_id == killed for r in probe.recovered):
                        break
                time.sleep(poll_seconds)
            requeued_at = time.monotonic()
            child = vidpipe_child(here, "manifest", "process", str(killed))
            code = child.wait()
            ready_at = time.monotonic()
            if code != 0:
                raise VidpipeError(f"the recovering run failed: {child.communicate()[1][-500:]}")
            job = runs.list_jobs(ctx, str(killed), limit=1)[0]
            recovered, expected = (
                sorted((a.tag, a.asset_type.value, a.name, len(a.references)) for a in view.assets)
                for view in (manifests.show_manifest(ctx, str(m)) for m in (killed, clean))
            )
    return {
        "photos": len(photos),
        "lease_seconds": lease_seconds,
        "heartbeat_seconds": jobs.heartbeat_seconds,
        "poll_seconds": poll_seconds,
        "clean_run_process_seconds": round(clean_seconds, 2),
        "kill_to_requeued_seconds": round(requeued_at - killed_at, 2),
        "requeued_to_ready_seconds": round(ready_at - requeued_at, 2),
        "kill_to_ready_seconds": round(ready_at - killed_at, 2),
        "attempts": job.attempts,
        "same_registry_as_clean_run": recovered == expected,
        "registry_differences": sorted(set(recovered) ^ set(expected)),
    }
