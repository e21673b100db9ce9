"""``vidpipe analyze``: which registry assets a generated clip shows, how faithfully, and the verdict."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vidpipe.cli.common import console, err_console, open_app
from vidpipe.cli.running import EXIT_CANCELLED_ELSEWHERE, EXIT_FOR_SIGNAL, EXIT_SIGINT, cancel_on_signals
from vidpipe.domain.enums import JobStatus
from vidpipe.errors import VidpipeError
from vidpipe.imaging.draw import save_image
from vidpipe.jobs.progress import StopSignal
from vidpipe.services.views import AnalysisView

# Exit status of an analysis that ran to its end but whose clip failed the quality gate.
EXIT_GATE_FAILED = 3


def analyze(
    clip: Path = typer.Argument(..., help="The generated clip (mp4, webm, mov or mkv)"),
    project: str | None = typer.Option(None, "--project", help="Project id or name (with --scene)"),
    scene: int | None = typer.Option(None, "--scene", min=0, help="The scene's number in the project"),
    manifest: str | None = typer.Option(None, "--manifest", help="Check against a manifest alone (no project)"),
    expect: str | None = typer.Option(
        None, "--expect", help="Expected tags, e.g. CHAR_01,PROP_02 (default: the scene's)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
    frames: Path | None = typer.Option(None, "--frames", help="Save the sampled frames, with what was found drawn"),
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)"),
) -> None:
    """Sample the clip's frames, find the registry's assets in them, score its continuity (0-10)
    and apply the quality gate; a clip that passes adds its best new views to the registry.

    Exit status: 0 the clip passed the gate, 3 it failed it, 2 the clip or the options could not
    be used, 130/143 the run was cancelled (Ctrl-C/SIGTERM).
    """
    from vidpipe.services import projects, runs

    if (manifest is None) == (project is None):
        raise VidpipeError("name either --project (with --scene) or --manifest")
    if project is not None and scene is None:
        raise VidpipeError("--project needs --scene N (see `vidpipe project show`)")
    with open_app(model_dir) as ctx:
        where = (
            projects.ad_hoc_scene(ctx, manifest) if manifest else projects.scene_for(ctx, str(project), int(scene or 0))
        )
        tags = projects.parse_tags(expect) if expect is not None else None
        added = projects.add_clip(ctx, str(where.id), clip)
        job = projects.request_analysis(ctx, str(added.id), expect=tags, submit=False)
        stop = StopSignal()
        with Progress(
            TextColumn("[bold]{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        ) as bars:
            task = bars.add_task("sampling frames", total=None)

            def on_progress(step: str, counters: dict[str, int]) -> None:
                bars.update(
                    task,
                    description=f"{step} frames",
                    completed=counters.get("frames_done", 0),
                    total=counters.get("frames_total") or None,
                )

            try:
                with cancel_on_signals(stop) as received:
                    finished = runs.run_here(ctx, job, sink=on_progress, stop=stop)
            except KeyboardInterrupt:
                err_console.print(f"[yellow]cancelled[/]: job {job.id}")
                raise typer.Exit(EXIT_SIGINT) from None
        if finished.status is JobStatus.CANCELLED:
            err_console.print(f"[yellow]cancelled[/]: job {finished.id}; nothing was written")
            raise typer.Exit(EXIT_FOR_SIGNAL[signal.Signals(received[0])] if received else EXIT_CANCELLED_ELSEWHERE)
        if finished.status is not JobStatus.SUCCEEDED:
            raise VidpipeError(f"{clip.name}: {finished.error or finished.status.value}")
        analysis = projects.get_analysis(ctx, str(added.id))
        appearances = projects.appearances_of_clip(ctx, str(added.id))
        if frames is not None:
            for name, picture in projects.annotated_frames(ctx, str(added.id)):
                save_image(picture, frames / name)
    payload = result_json(analysis, str(added.id), appearances)
    if as_json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        _print(analysis)
        if frames is not None:
            console.print(f"frames with what was found: {frames}")
    if analysis.summary.gate != "pass":
        raise typer.Exit(EXIT_GATE_FAILED)


def result_json(analysis: AnalysisView, clip_id: str, appearances: list[dict[str, Any]]) -> dict[str, Any]:
    record = analysis.record
    return {
        "clip_id": clip_id,
        "analysis_id": str(analysis.summary.id),
        "clip": record.get("clip"),
        "expected": record.get("expected"),
        "frames": record.get("frames", []),
        "assets": record.get("assets", []),
        "appearances": appearances,
        "enriched": record.get("enriched", []),
        "thresholds": record.get("thresholds"),
        "seconds": analysis.seconds,
        "continuity_score": analysis.summary.continuity_score,
        "gate": analysis.summary.gate,
        "reasons": list(analysis.summary.reasons),
    }


def _print(analysis: AnalysisView) -> None:
    record = analysis.record
    clip = record.get("clip", {})
    console.print(
        f"[bold]{clip.get('name')}[/]  {clip.get('width')}×{clip.get('height')}, "
        f"{clip.get('duration_seconds') or 0:.1f} s, {clip.get('shots')} shot(s); "
        f"expects {', '.join(record.get('expected') or []) or 'nothing in particular'}"
    )
    table = Table("time", "why sampled", "assets found (similarity)", "unexpected people", "missing")
    for frame in record.get("frames", []):
        found = ", ".join(
            f"{s['tag']} {s['similarity']:.2f}" if s["similarity"] is not None else f"{s['tag']} (class)"
            for s in frame["sightings"]
        )
        table.add_row(
            f"{frame['seconds']:.2f} s",
            ", ".join(frame["reasons"]),
            found or "-",
            str(len(frame["strangers"])) if frame["strangers"] else "-",
            ", ".join(frame["expected_missing"]) or "-",
        )
    console.print(table)
    colour = "green" if analysis.summary.gate == "pass" else "red"
    console.print(
        f"continuity [bold]{analysis.summary.continuity_score:.1f}[/]/10: [{colour}]{analysis.summary.gate}[/]"
    )
    for reason in analysis.summary.reasons[1:]:
        console.print(f"  - {reason}")
    for view in record.get("enriched", []):
        console.print(f"  + new generated reference of {view['tag']} from {view['seconds']:.1f} s")
