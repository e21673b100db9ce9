"""``vidpipe doctor``: what vidpipe needs here, and whether it is there and works."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.markup import escape

from vidpipe.cli.common import console, print_json, settings_with
from vidpipe.cli.tables import narrow_table


def doctor(
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Check the default models (present, verified, load), dlib, OCR, the database, the data folder,
    the job runner and the describers. Exits 0 only when the default main job can run."""
    from vidpipe.services.doctor import diagnose

    settings = settings_with(model_dir)
    result = diagnose(settings)
    if as_json:
        print_json(
            {"main_job_can_run": result.main_job_can_run, "checks": [dataclasses.asdict(c) for c in result.checks]}
        )
    else:
        table = narrow_table(
            f"vidpipe doctor (models in {settings.model_dir})",
            [("area", "key"), ("check", "text"), ("", "key"), ("detail", "text")],
        )
        for c in result.checks:
            mark = "[green]ok[/]" if c.ok else "[red]FAIL[/]" if c.required else "[yellow]warn[/]"
            table.add_row(c.area, escape(c.name), mark, escape(c.detail))
        console.print(table)
        if result.main_job_can_run:
            console.print("[green]the default main job can run[/]")
        else:
            console.print("[red]the default main job cannot run yet[/]: fix the FAIL lines above")
    if not result.main_job_can_run:
        raise typer.Exit(1)
