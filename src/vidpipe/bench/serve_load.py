"""The web app under load: clients polling a manifest's progress (and others on its event stream)
while the manifest processes, against the same run with nobody watching.

The server is a real `vidpipe serve` process (with its worker process); the clients are asyncio
tasks in this one, each polling at the pages' own pace (every ``poll_seconds``), already connected
when the run starts. Quiet and watched runs alternate for several rounds and the medians are
compared, since a run of a few seconds varies by several percent on its own. On one small
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

import h11
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


class _Poller:
    """One browser-like poller on its own keep-alive connection, speaking HTTP/1.1 through h11.

    Lighter than an httpx client per request (about a tenth of its CPU here), so that on a machine
    shared with the server the clients take as little as they can from the run they measure.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host
        self.connection = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, host: str, port: int) -> _Poller:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host)

    async def get(self, target: str) -> tuple[int, dict[str, str]]:
        """The status and headers of a GET (its body is read and dropped)."""
        request = h11.Request(method="GET", target=target, headers=[("Host", self.host)])
        self.writer.write(self.connection.send(request) + (self.connection.send(h11.EndOfMessage()) or b""))
        await self.writer.drain()
        status, headers = 0, {}
        while True:
            event = self.connection.next_event()
            if event is h11.NEED_DATA:
                self.connection.receive_data(await self.reader.read(65536))
            elif isinstance(event, h11.Response):
                status, headers = event.status_code, {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.EndOfMessage):
                self.connection.start_next_cycle()
                return status, headers
            elif isinstance(event, h11.ConnectionClosed):
                raise VidpipeError("the server closed a polling connection")

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _load(
    base: str, manifest_id: str, pollers: int, streams: int, poll_seconds: float, settle_seconds: float = 1.0
) -> dict[str, Any]:
    """One run of the manifest with ``pollers`` + ``streams`` clients already watching when it starts
    (as users on the processing page are); only requests made during the run are counted."""
    latencies: list[float] = []
    server_ms: list[float] = []
    counting = False
    done = asyncio.Event()
    host, port = base.removeprefix("http://").split(":")[0], int(base.rsplit(":", 1)[1])
    limits = httpx.Limits(max_connections=pollers + streams + 5, max_keepalive_connections=pollers + streams + 5)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def poll(phase: float) -> None:
            # Browsers poll on their own clocks: each client starts at its own point of the interval.
            poller = await _Poller.open(host, port)
            try:
                await asyncio.sleep(phase)
                while not done.is_set():
                    t0 = time.perf_counter()
                    status, headers = await poller.get(f"/api/manifests/{manifest_id}/progress")
                    elapsed = time.perf_counter() - t0
                    if status != 200:
                        raise VidpipeError(f"progress answered {status}")
                    if counting:
                        latencies.append(elapsed)
                        timing = headers.get("server-timing", "")
                        if "dur=" in timing:
                            server_ms.append(float(timing.split("dur=")[1].split(";")[0]))
                    await asyncio.sleep(max(0.0, poll_seconds - (time.perf_counter() - t0)))
            finally:
                await poller.close()

        async def stream() -> None:
            # The stream of a READY manifest ends at once; a watcher on the page opens it again.
            while not done.is_set():
                async with client.stream("GET", f"/api/manifests/{manifest_id}/events") as response:
                    async for _ in response.aiter_lines():
                        if done.is_set():
                            return
                await asyncio.sleep(poll_seconds)

        tasks = [asyncio.create_task(poll(poll_seconds * n / max(pollers, 1))) for n in range(pollers)]
        tasks += [asyncio.create_task(stream()) for _ in range(streams)]
        await asyncio.sleep(settle_seconds if tasks else 0.0)  # connections open, polls spread out
        counting = True
        started, cpu_started = time.perf_counter(), time.process_time()
        job_id = (await client.post(f"/api/manifests/{manifest_id}/reprocess")).json()["job_id"]
        seconds = await _run_seconds(client, job_id)
        wall = time.perf_counter() - started
        client_cpu = time.process_time() - cpu_started
        counting = False
        done.set()
        failures = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if isinstance(r, Exception)]
        if failures:
            raise VidpipeError(f"{len(failures)} of the bench's clients failed: {failures[0]!r}")
    return {
        "run_seconds": round(seconds, 3),
        "wall_seconds": round(wall, 3),
        "client_cpu_seconds": round(client_cpu, 3),
        "latencies": latencies,
        "server_ms": server_ms,
    }


def run_serve_bench(
    images_dir: Path,
    settings: Settings,
    *,
    pollers: int = 50,
    streams: int = 10,
    poll_seconds: float = 0.5,
    rounds: int = 5,
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

            async def rounds_of_both() -> list[tuple[dict[str, Any], dict[str, Any]]]:
                async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                    first = (await client.post(f"/api/manifests/{manifest.id}/process")).json()["job_id"]
                    await _run_seconds(client, first)  # warm: models loaded, caches filled
                # Quiet and watched runs alternate, so drift of the machine falls on both alike.
                pairs = []
                for _ in range(rounds):
                    quiet = await _load(base, str(manifest.id), 0, 0, poll_seconds)
                    watched = await _load(base, str(manifest.id), pollers, streams, poll_seconds)
                    pairs.append((quiet, watched))
                return pairs

            pairs = asyncio.run(rounds_of_both())
        finally:
            server.terminate()
            server.wait(30)
    quiet_runs = [q["run_seconds"] for q, _ in pairs]
    watched_runs = [w["run_seconds"] for _, w in pairs]
    latencies = sorted(x for _, w in pairs for x in w["latencies"])
    on_server = sorted(x for _, w in pairs for x in w["server_ms"])
    per_round_p99 = [round(1000 * _percentile(sorted(w["latencies"]), 0.99), 1) for _, w in pairs if w["latencies"]]
    baseline, loaded = statistics.median(quiet_runs), statistics.median(watched_runs)
    client_cpu = [w["client_cpu_seconds"] for _, w in pairs]
    return {
        "photos": len(photos),
        "pollers": pollers,
        "streams": streams,
        "poll_seconds": poll_seconds,
        "rounds": rounds,
        "run_seconds_no_clients": quiet_runs,
        "run_seconds_with_clients": watched_runs,
        "slowdown_percent": round(100 * (loaded - baseline) / baseline, 1),
        "slowdown_percent_per_round": [
            round(100 * (w - q) / q, 1) for q, w in zip(quiet_runs, watched_runs, strict=True)
        ],
        # The clients share the machine with the server and its worker: their own CPU time per
        # watched run is what they took from the run (browsers would use their users' machines).
        "client_cpu_seconds_per_watched_run": client_cpu,
        "progress_requests": len(latencies),
        "progress_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "progress_p99_ms": round(1000 * _percentile(latencies, 0.99), 1) if latencies else None,
        "progress_p99_ms_per_round": per_round_p99,
        "progress_server_p50_ms": round(statistics.median(on_server), 2) if on_server else None,
        "progress_server_p99_ms": round(_percentile(on_server, 0.99), 2) if on_server else None,
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }
