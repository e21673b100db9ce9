"""Clip analysis end to end: an excerpt of a real clip (10 s at 720p by default) analysed against a
registry made from a folder of photos, in a throwaway registry, timed step by step."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

from vidpipe.app import AppContext
from vidpipe.bench.manifest import SUFFIXES, model_seconds, warm_up
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, projects, runs
from vidpipe.settings import Settings
from vidpipe.video.decoding import decode_frames, frame_to_rgb


def excerpt(source: Path, target: Path, seconds: float, height: int) -> tuple[int, int, int]:
    """The first ``seconds`` of ``source`` re-encoded (H.264) at ``height`` lines; (width, height, frames)."""
    written = 0
    with av.open(str(target), "w") as out:
        stream = None
        for decoded in decode_frames(source):
            if decoded.seconds >= seconds:
                break
            rgb = frame_to_rgb(decoded.frame, max_side=100_000)
            scale = height / rgb.shape[0]
            width = int(round(rgb.shape[1] * scale / 2) * 2)
            if stream is None:
                stream = out.add_stream("libx264", rate=30)
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(width, height)
            for packet in stream.encode(frame):
                out.mux(packet)
            written += 1
        if stream is None:
            raise VidpipeError(f"{source.name!r} has no frame to make an excerpt of")
        for packet in stream.encode():
            out.mux(packet)
        return stream.width, stream.height, written


def run_analyze_bench(
    video: Path, photos_dir: Path, settings: Settings, *, seconds: float = 10.0, height: int = 720, rounds: int = 3
) -> dict[str, Any]:
    photos = sorted(p for p in photos_dir.iterdir() if p.suffix.lower() in SUFFIXES)[:10]
    if not photos:
        raise VidpipeError(f"no photos in {str(photos_dir)!r}")
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as folder:
        clip = Path(folder) / "excerpt.mp4"
        width, clip_height, frames = excerpt(video, clip, seconds, height)
        here = settings.model_copy(update={"data_dir": Path(folder) / "data", "database_url": None})
        with AppContext.open(here.with_describers(["offline"])) as ctx:
            warm_up(ctx.toolkit())
            typed = []
            for photo in photos:
                guess = manifests.guess_photo_type(ctx, photo)
                typed.append(PhotoIn(photo, guess[0] if guess else AssetType.PROP))
            manifest = manifests.create_manifest(ctx, "bench registry", typed).manifest
            job = runs.process_manifest(ctx, str(manifest.id))
            if job.status.value != "SUCCEEDED":
                raise VidpipeError(f"the bench registry could not be made: {job.error}")
            assets = len(manifests.show_manifest(ctx, str(manifest.id)).assets)
            project = projects.create_project(ctx, "bench", str(manifest.id))
            scene = projects.add_scene(ctx, str(project.id), 1)
            added = projects.add_clip(ctx, str(scene.id), clip)
            toolkit = ctx.toolkit()
            walls, steps, models, decoded = [], [], [], 0
            verdict: dict[str, Any] = {}
            for _ in range(rounds):
                before = model_seconds(toolkit)
                start = time.perf_counter()
                done = projects.analyze_here(ctx, str(added.id))
                walls.append(time.perf_counter() - start)
                if done.status.value != "SUCCEEDED":
                    raise VidpipeError(f"the bench analysis failed: {done.error}")
                models.append(model_seconds(toolkit) - before)
                analysis = projects.get_analysis(ctx, str(added.id))
                steps.append(analysis.seconds)
                decoded = int(analysis.record["clip"]["decoded_frames"])
                verdict = {
                    "continuity_score": analysis.summary.continuity_score,
                    "gate": analysis.summary.gate,
                    "frames_sampled": len(analysis.record["frames"]),
                    "shots": analysis.record["clip"]["shots"],
                }
    median = statistics.median(walls)
    sample = statistics.median(s["sample"] for s in steps)
    return {
        "clip": video.name,
        "excerpt_seconds": seconds,
        "excerpt_size": f"{width}x{clip_height}",
        "excerpt_frames": frames,
        "registry_photos": len(photos),
        "registry_assets": assets,
        "rounds": rounds,
        "seconds": round(median, 3),
        "seconds_all": [round(w, 3) for w in walls],
        "target_seconds": 2.0,
        "sample_seconds": round(sample, 3),
        "decoded_frames": decoded,
        "decode_fps": round(decoded / sample, 1) if sample > 0 else None,
        "match_seconds": round(statistics.median(s["match"] for s in steps), 3),
        "model_seconds": round(statistics.median(models), 3),
        # Storing frames and the result, the job's own bookkeeping, the database.
        "write_and_job_seconds": round(median - statistics.median(s["sample"] + s["match"] for s in steps), 3),
        **verdict,
    }
