"""The web app under load: clients polling a manifest's progress (and others on its event stream)
while the manifest processes, against the same run with nobody watching.

The server is a real `vidpipe serve` process (with its worker process); the clients are asyncio
tasks in this one, each polling at the pages' own pace (every ``poll_seconds``). On one small
machine the clients' own CPU use slows everything they measure, so the server's own time per request
(its `Server-Timing` header) is reported beside the times the clients saw.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from vidpipe.app import AppContext
from vidpipe.bench.manifest import SUFFIXES
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests
from vidpipe.settings import Settings


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _run_seconds(client: httpx.AsyncClient, job_id: str) -> float:
    job = (await client.get(f"/api/jobs/{job_id}")).json()
    while job["status"] in ("QUEUED", "RUNNING"):
        await asyncio.sleep(0.2)
        job = (await client.get(f"/api/jobs/{job_id}")).json()
    if job["status"] != "SUCCEEDED":
        raise VidpipeError(f"the bench run ended {job['status']}: {job['error']}")
    # From the job's own clock in the worker: claim to success, no client's polling delay in it.
    started, finished = (datetime.fromisoformat(job[k]) for k in ("started_at", "finished_at"))
    return (finished - started).total_seconds()


async def _load(base: str, manifest_id: str, pollers: int, streams: int, poll_seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    server_ms: list[float] = []
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=pollers + streams + 5)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        job_id = (await client.post(f"/api/manifests/{manifest_id}/reprocess")).json()["job_id"]
        started = time.perf_counter()

        async def poll(phase: float) -> None:
            # Browsers poll on their own clocks: each client starts at its own point of the interval.
            await asyncio.sleep(phase)
            while not done.is_set():
                t0 = time.perf_counter()
                response = await client.get(f"/api/manifests/{manifest_id}/progress")
                latencies.append(time.perf_counter() - t0)
                response.raise_for_status()
                timing = response.headers.get("server-timing", "")
                if "dur=" in timing:
                    server_ms.append(float(timing.split("dur=")[1].split(";")[0]))
                await asyncio.sleep(max(0.0, poll_seconds - (time.perf_counter() - t0)))

        async def stream() -> None:
            async with client.stream("GET", f"/api/manifests/{manifest_id}/events") as response:
                async for _ in response.aiter_lines():
                    if done.is_set():
                        return

        tasks = [asyncio.create_task(poll(poll_seconds * n / max(pollers, 1))) for n in range(pollers)]
        tasks += [asyncio.create_task(stream()) for _ in range(streams)]
        seconds = await _run_seconds(client, job_id)
        wall = time.perf_counter() - started
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    ordered = sorted(latencies)
    on_server = sorted(server_ms)
    return {
        "server_p50_ms": round(statistics.median(on_server), 2) if on_server else None,
        "server_p99_ms": round(on_server[min(len(on_server) - 1, int(0.99 * len(on_server)))], 2)
        if on_server
        else None,
        "run_seconds": round(seconds, 3),
        "wall_seconds": round(wall, 3),
        "requests": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered), 1) if ordered else None,
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1) if ordered else None,
    }


def run_serve_bench(
    images_dir: Path, settings: Settings, *, pollers: int = 50, streams: int = 10, poll_seconds: float = 0.5
) -> dict[str, Any]:
    photos = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in SUFFIXES)
    if not photos:
        raise VidpipeError(f"no photos in {str(images_dir)!r}")
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as folder:
        here = settings.model_copy(update={"data_dir": Path(folder), "database_url": None})
        with AppContext.open(here) as ctx:
            manifest = manifests.create_manifest(ctx, "load", [PhotoIn(p, AssetType.OBJECT) for p in photos]).manifest
        port = _free_port()
        env = {
            **os.environ,
            "VIDPIPE_DATA_DIR": folder,
            "VIDPIPE_MODEL_DIR": str(settings.model_dir),
            "VIDPIPE_DESCRIBE__PROVIDERS": "offline",
        }
        env.pop("VIDPIPE_DATABASE_URL", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "vidpipe", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/api/health", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise VidpipeError("the server did not start") from None
                    time.sleep(0.2)

            async def both() -> dict[str, Any]:
                async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                    first = (await client.post(f"/api/manifests/{manifest.id}/process")).json()["job_id"]
                    await _run_seconds(client, first)  # warm: models loaded, caches filled
                quiet = await _load(base, str(manifest.id), 0, 0, poll_seconds)
                loaded = await _load(base, str(manifest.id), pollers, streams, poll_seconds)
                quiet_again = await _load(base, str(manifest.id), 0, 0, poll_seconds)
                return {"quiet": quiet, "loaded": loaded, "quiet_again": quiet_again}

            result = asyncio.run(both())
        finally:
            server.terminate()
            server.wait(30)
    baseline = statistics.mean([result["quiet"]["run_seconds"], result["quiet_again"]["run_seconds"]])
    loaded = result["loaded"]
    return {
        "photos": len(photos),
        "pollers": pollers,
        "streams": streams,
        "poll_seconds": poll_seconds,
        "run_seconds_no_clients": [result["quiet"]["run_seconds"], result["quiet_again"]["run_seconds"]],
        "run_seconds_with_clients": loaded["run_seconds"],
        "slowdown_percent": round(100 * (loaded["run_seconds"] - baseline) / baseline, 1),
        "progress_requests": loaded["requests"],
        "progress_p50_ms": loaded["p50_ms"],
        "progress_p99_ms": loaded["p99_ms"],
        "progress_server_p50_ms": loaded["server_p50_ms"],
        "progress_server_p99_ms": loaded["server_p99_ms"],
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }
