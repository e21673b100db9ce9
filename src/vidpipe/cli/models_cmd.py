"""``vidpipe models``: list, check and download model weights."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from vidpipe.cli.common import console, err_console, print_json, settings_with
from vidpipe.inference.specs import SPECS, ModelFile, get_spec
from vidpipe.inference.store import FileState, ModelStore

app = typer.Typer(help="List, verify and download model weights.", no_args_is_help=True)

ModelDir = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)")


@app.command("list")
def list_models(model_dir: Path | None = ModelDir, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every registered model: task, licence and whether its files are present."""
    store = ModelStore(settings_with(model_dir).model_dir)
    rows = [
        {
            "name": spec.name,
            "task": spec.task.value,
            "licence": spec.licence,
            "licence_clean": spec.licence_clean,
            "present": store.is_present(spec),
            "files": [f.name for f in spec.files],
        }
        for spec in SPECS
    ]
    if as_json:
        print_json({"model_dir": str(store.folder), "models": rows})
        return
    table = Table(title=f"Models in {store.folder}")
    for column in ("name", "task", "licence", "status"):
        table.add_column(column)
    for row in rows:
        licence = str(row["licence"]) if row["licence_clean"] else f"[yellow]{row['licence']}[/] (not for defaults)"
        status = "[green]present[/]" if row["present"] else "[red]missing[/]"
        table.add_row(str(row["name"]), str(row["task"]), licence, status)
    console.print(table)


@app.command("check")
def check_models(
    names: list[str] = typer.Argument(None, help="Models to check (default: all present)"),
    model_dir: Path | None = ModelDir,
) -> None:
    """Verify the checksums of model files; exits 1 if any present file is corrupt."""
    store = ModelStore(settings_with(model_dir).model_dir)
    specs = [get_spec(n) for n in names] if names else [s for s in SPECS if store.is_present(s)]
    bad = 0
    table = Table(title=f"Checksums in {store.folder}")
    for column in ("model", "file", "state", "path"):
        table.add_column(column)
    for spec in specs:
        for check in store.check(spec):
            colour = {FileState.PRESENT: "green", FileState.BAD_CHECKSUM: "red"}.get(check.state, "yellow")
            bad += check.state is FileState.BAD_CHECKSUM
            table.add_row(spec.name, check.file.name, f"[{colour}]{check.state.value}[/]", str(check.path or "-"))
    console.print(table)
    if bad:
        err_console.print(
            f"[red]{bad} file(s) do not match their checksum; re-download with `vidpipe models pull NAME --force`"
        )
        raise typer.Exit(1)


@app.command("pull")
def pull_model(
    name: str = typer.Argument(..., help="Model name, as `vidpipe models list` shows it"),
    model_dir: Path | None = ModelDir,
    force: bool = typer.Option(False, "--force", help="Download even if the files are present"),
) -> None:
    """Download a model's files into the model folder and verify their checksums."""
    spec = get_spec(name)
    store = ModelStore(settings_with(model_dir).model_dir)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
    ) as progress:

        def on_file(file: ModelFile):  # type: ignore[no-untyped-def]
            task = progress.add_task(file.name, total=None)
            return lambda done, total: progress.update(task, completed=done, total=total)

        paths = store.pull(spec, progress=on_file, force=force)
    for path in paths:
        console.print(f"[green]ok[/] {path}")
