"""``vidpipe models``: list, check and download model weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from vidpipe.cli.common import console, err_console, print_json, settings_with
from vidpipe.cli.tables import narrow_table
from vidpipe.errors import ModelError, VidpipeError
from vidpipe.inference.specs import SPECS, ModelFile, ModelSpec, get_spec
from vidpipe.inference.store import FileState, ModelStore

app = typer.Typer(help="List, verify and download model weights.", no_args_is_help=True)

ModelDir = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)")


def _store(model_dir: Path | None) -> ModelStore:
    settings = settings_with(model_dir)
    return ModelStore(settings.model_dir, settings.model_mirror_url)


def obtained_by(spec: ModelSpec) -> str:
    """How each model's files are had: pulled, converted from an official source, a package, or by hand."""
    ways = []
    for file in spec.files:
        if file.urls:
            ways.append("pull")
        elif file.conversion is not None:
            ways.append(f"pull (official TFLite converted by {file.conversion.tool})")
        elif file.package:
            ways.append(f"pip install {file.package.replace('_', '-')}")
        else:
            ways.append(f"copy in by hand: {spec.source}")
    return ", ".join(dict.fromkeys(ways))


@app.command("list")
def list_models(model_dir: Path | None = ModelDir, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every registered model: task, licence, whether its files are present, and how it is obtained."""
    from vidpipe.inference.defaults import default_models

    store = _store(model_dir)
    defaults = {s.name for s in default_models(settings_with(model_dir))}
    rows = [
        {
            "name": spec.name,
            "task": spec.task.value,
            "licence": spec.licence,
            "licence_clean": spec.licence_clean,
            "default": spec.name in defaults,
            "present": store.is_present(spec),
            "obtained_by": obtained_by(spec),
            "files": [f.name for f in spec.files],
        }
        for spec in SPECS
    ]
    if as_json:
        print_json({"model_dir": str(store.folder), "models": rows})
        return
    table = Table(title=f"Models in {store.folder}", caption="* used by the default settings")
    for column in ("name", "task", "licence", "status", "obtained by"):
        table.add_column(column, overflow="fold")
    for row in rows:
        licence = str(row["licence"]) if row["licence_clean"] else f"[yellow]{row['licence']}[/] (not for defaults)"
        status = "[green]present[/]" if row["present"] else "[red]missing[/]"
        name = f"{row['name']}{' *' if row['default'] else ''}"
        table.add_row(name, str(row["task"]), licence, status, str(row["obtained_by"]))
    console.print(table)


@app.command("check")
def check_models(
    names: list[str] = typer.Argument(None, help="Models to check (default: all present)"),
    model_dir: Path | None = ModelDir,
) -> None:
    """Verify model files (checksum, or output for files converted here); exits 1 if any is wrong.
    Also tells which files copied into the model folder by hand are valid."""
    store = _store(model_dir)
    specs = [get_spec(n) for n in names] if names else [s for s in SPECS if any(store.locate(f) for f in s.files)]
    bad = 0
    table = narrow_table(f"Model files in {store.folder}", [("model", "key"), ("file", "text"), ("state", "text")])
    for spec in specs:
        for check in store.check(spec):
            colour = "green" if check.state.usable else "yellow" if check.state is FileState.MISSING else "red"
            bad += check.state in (FileState.BAD_CHECKSUM, FileState.BAD_OUTPUT)
            state = check.state.value + (f": {check.detail}" if check.detail else "")
            elsewhere = check.path is not None and check.path != store.folder / check.file.name
            name = check.file.name + (" (from its package)" if elsewhere else "")
            table.add_row(spec.name, name, f"[{colour}]{state}[/]")
    console.print(table)
    if bad:
        err_console.print(
            f"[red]{bad} file(s) are not the right ones; fetch them again with `vidpipe models pull NAME --force`"
        )
        raise typer.Exit(1)


@app.command("pull")
def pull_model(
    names: list[str] = typer.Argument(None, help="Model names, as `vidpipe models list` shows them"),
    defaults: bool = typer.Option(False, "--defaults", help="Every model the default settings use"),
    model_dir: Path | None = ModelDir,
    force: bool = typer.Option(False, "--force", help="Fetch even files that are present and valid"),
    as_json: bool = typer.Option(False, "--json", help="Print what was done as JSON"),
) -> None:
    """Download models into the model folder (a mirror first, VIDPIPE_MODEL_MIRROR_URL, then the
    public addresses), converting those published only as TFLite; every file is verified and written
    atomically. Files already present and valid are kept, so this needs no network then."""
    import time

    from vidpipe.inference.defaults import default_models

    settings = settings_with(model_dir)
    specs = [*(default_models(settings) if defaults else []), *(get_spec(n) for n in names or [])]
    if not specs:
        raise VidpipeError("name the models to pull, or give --defaults")
    specs = list({s.name: s for s in specs}.values())
    store = _store(model_dir)
    start = time.perf_counter()
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as progress:

        def on_file(file: ModelFile) -> Callable[[int, int | None], None]:
            task = progress.add_task(file.name, total=None)
            return lambda done, total: progress.update(task, completed=done, total=total)

        failures: list[str] = []
        for spec in specs:
            # One model that cannot be had does not stop the others: the user sees every problem at once.
            try:
                results += [(spec, r) for r in store.pull(spec, progress=on_file, force=force)]
            except ModelError as exc:
                failures.append(str(exc))
    seconds = time.perf_counter() - start
    fetched = sum(r.bytes_fetched for _, r in results)
    if failures:
        for _, r in results:
            err_console.print(f"{r.action:<10} {r.file.name}", highlight=False)
        raise VidpipeError(
            f"{len(failures)} of {len(specs)} model(s) could not be had: "
            + " | ".join(failures)
            + " (a studio mirror: VIDPIPE_MODEL_MIRROR_URL; files copied into the model folder by hand work too)"
        )
    if as_json:
        print_json(
            {
                "model_dir": str(store.folder),
                "seconds": round(seconds, 3),
                "bytes_fetched": fetched,
                "files": [
                    {
                        "model": s.name,
                        "file": r.file.name,
                        "action": r.action,
                        "source": r.source,
                        "bytes": r.bytes_fetched,
                    }
                    for s, r in results
                ],
            }
        )
        return
    for spec, r in results:
        colour = "green" if r.action != "present" else "dim"
        where = "" if r.path.parent == store.folder / Path(r.file.name).parent else " (from its package)"
        console.print(f"[{colour}]{r.action:<10}[/] {spec.name:<23} {r.file.name}{where}", highlight=False)
    console.print(
        f"{len(results)} file(s) in {store.folder}: {fetched / 1e6:.1f} MB fetched in {seconds:.1f} s", highlight=False
    )
