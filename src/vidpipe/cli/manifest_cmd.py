"""``vidpipe manifest``: build, process, inspect and export Asset Registries."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from vidpipe.cli.common import console, err_console, open_registry, settings_with
from vidpipe.db.models import Asset, Manifest
from vidpipe.domain.enums import AssetSource, AssetType
from vidpipe.errors import VidpipeError
from vidpipe.fileio import atomic_write

if TYPE_CHECKING:  # imported lazily at run time, so that `--help` stays fast
    import uuid

    from sqlalchemy.orm import sessionmaker

    from vidpipe.storage import FileStore

app = typer.Typer(help="Build and inspect Asset Registries from reference photos.", no_args_is_help=True)
ModelDir = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)")
Describers = typer.Option(
    None,
    "--describer",
    help="Describers in order of preference, e.g. 'gemini,offline' (default: VIDPIPE_DESCRIBE__PROVIDERS)",
)


def _types() -> str:
    return ", ".join(t.value for t in AssetType)


def _parse_type(value: str, where: str) -> AssetType:
    try:
        return AssetType(value.strip().upper())
    except ValueError:
        raise VidpipeError(f"{where}: unknown asset type {value!r}; expected one of {_types()}") from None


def _read_names(csv_path: Path) -> dict[str, tuple[str | None, str | None]]:
    """file → (name, type) from a CSV with columns file,name[,type]; files match by path or file name."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "file" not in reader.fieldnames:
                raise VidpipeError(f"names file {str(csv_path)!r} needs a 'file' column (and 'name', 'type')")
            return {row["file"]: (row.get("name") or None, row.get("type") or None) for row in reader}
    except OSError as exc:
        raise VidpipeError(f"cannot read names file {str(csv_path)!r}: {exc}") from exc


def build_photos(images: list[Path], default_type: str, names_csv: Path | None) -> list[Any]:
    from vidpipe.pipeline.uploads import PhotoIn

    names = _read_names(names_csv) if names_csv else {}
    photos = []
    for path in images:
        name, kind = names.get(str(path), names.get(path.name, (None, None)))
        asset_type = _parse_type(kind or default_type, f"type of {path}")
        photos.append(PhotoIn(path=path, asset_type=asset_type, name=name))
    return photos


def _take_photos(
    target: Callable[[Session], Manifest], images: list[Path], asset_type: str, names: Path | None
) -> tuple[Manifest, int, list[Any]]:
    """Add photos to the manifest ``target`` returns (a new or an existing one) in one transaction;
    print the refused ones. Returns the manifest, how many photos were added, and the refusals."""
    from vidpipe.pipeline.uploads import add_photos

    settings = settings_with(None)
    photos = build_photos(images, asset_type, names)
    factory, store = open_registry(settings)
    with factory() as session, session.begin():
        manifest = target(session)
        added, refused = add_photos(session, store, manifest, photos, settings)
    for refusal in refused:
        err_console.print(f"[red]refused[/] {refusal.path}: {refusal.reason}")
    return manifest, len(added), refused


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Name of the production or manifest"),
    images: list[Path] = typer.Argument(..., help="Reference photos"),
    asset_type: str = typer.Option(
        "CHARACTER", "--type", help=f"Type of every photo without one in --names: {_types()}"
    ),
    names: Path | None = typer.Option(None, "--names", help="CSV with file,name,type per photo"),
) -> None:
    """Create a manifest from reference photos and print its id. Bad photos are refused, the rest kept."""

    def new_manifest(session: Session) -> Manifest:
        manifest = Manifest(name=name.strip() or "Untitled")
        session.add(manifest)
        session.flush()
        return manifest

    manifest, added, refused = _take_photos(new_manifest, images, asset_type, names)
    console.print(f"created manifest [bold]{manifest.name}[/] with {added} photo(s)", highlight=False)
    print(manifest.id)
    if refused:
        raise typer.Exit(1)


@app.command("add")
def add(
    manifest_id: str = typer.Argument(..., help="Manifest id (or its first characters)"),
    images: list[Path] = typer.Argument(..., help="More reference photos"),
    asset_type: str = typer.Option("CHARACTER", "--type", help=f"Type of each photo: {_types()}"),
    names: Path | None = typer.Option(None, "--names", help="CSV with file,name,type per photo"),
) -> None:
    """Add photos to a manifest (the same bytes twice are added once)."""
    from vidpipe.pipeline.registry import find_manifest

    manifest, added, refused = _take_photos(
        lambda session: find_manifest(session, manifest_id), images, asset_type, names
    )
    console.print(f"added {added} photo(s) to {manifest.name}", highlight=False)
    if refused:
        raise typer.Exit(1)


def run_manifest(
    manifest_ref: str,
    *,
    reprocess: bool,
    model_dir: Path | None,
    quiet: bool = False,
    describers: str | None = None,
    force_describe: bool = False,
) -> dict[str, Any]:
    """Process a manifest with rich progress bars; shared by `process`, `reprocess` and `demo`."""
    from vidpipe.describe.chain import build_describer
    from vidpipe.pipeline.manifesting import ManifestRunner
    from vidpipe.pipeline.registry import find_manifest
    from vidpipe.pipeline.toolkit import VisionToolkit

    settings = settings_with(model_dir, describers=describers, force_describe=force_describe)
    factory, store = open_registry(settings)
    with factory() as session:
        manifest_id = find_manifest(session, manifest_ref).id
    toolkit = VisionToolkit.create(settings)
    runner = ManifestRunner(factory, store, toolkit, build_describer(settings))
    with Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=quiet,
    ) as bars:
        photos = bars.add_task("photos", total=None)
        crops = bars.add_task("descriptions", total=None)
        step_task = bars.add_task("step", total=None)

        def on_progress(step: str, counters: dict[str, int]) -> None:
            bars.update(step_task, description=f"step: {step}")
            bars.update(photos, completed=counters.get("uploads_processed", 0), total=counters.get("uploads_total"))
            bars.update(
                crops, completed=counters.get("crops_described", 0), total=counters.get("describe_total") or None
            )

        return runner.run(manifest_id, reprocess=reprocess, progress=on_progress)


def _print_stats(stats: dict[str, Any]) -> None:
    per_type = ", ".join(f"{k} {v}" for k, v in stats["assets_per_type"].items()) or "none"
    console.print(
        f"[green]READY[/]: {stats['uploads']} photos, {stats['crops']} crops, {stats['assets']} assets ({per_type}), "
        f"{stats['people_merged']} face(s) merged into people, {stats['seconds_total']:.2f} s",
        highlight=False,
    )
    console.print(
        "seconds per step: " + ", ".join(f"{k} {v:.2f}" for k, v in stats["seconds"].items()), highlight=False
    )


@app.command("process")
def process(
    manifest_id: str = typer.Argument(..., help="Manifest id (or its first characters)"),
    reprocess: bool = typer.Option(False, "--reprocess", help="Run again a manifest that is READY or ERROR"),
    as_json: bool = typer.Option(False, "--json", help="Print the run's statistics as JSON"),
    describers: str | None = Describers,
    force_describe: bool = typer.Option(False, "--force-describe", help="Ignore cached descriptions"),
    model_dir: Path | None = ModelDir,
) -> None:
    """Detect, group, describe and tag: turn the manifest's photos into registry assets."""
    stats = run_manifest(
        manifest_id,
        reprocess=reprocess,
        model_dir=model_dir,
        quiet=as_json,
        describers=describers,
        force_describe=force_describe,
    )
    if as_json:
        print(json.dumps(stats, indent=2))
    else:
        _print_stats(stats)


@app.command("reprocess")
def reprocess_cmd(
    manifest_id: str = typer.Argument(..., help="Manifest id (or its first characters)"),
    describers: str | None = Describers,
    force_describe: bool = typer.Option(False, "--force-describe", help="Ignore cached descriptions"),
    model_dir: Path | None = ModelDir,
) -> None:
    """Run a processed manifest again; assets that are found again keep their tags and ids."""
    _print_stats(
        run_manifest(
            manifest_id, reprocess=True, model_dir=model_dir, describers=describers, force_describe=force_describe
        )
    )


@app.command("swap-reference")
def swap_reference_cmd(
    asset_id: str = typer.Argument(..., help="Asset id (from `vidpipe manifest export ID`)"),
    image: Path = typer.Argument(..., help="The new reference photo"),
    describers: str | None = Describers,
    model_dir: Path | None = ModelDir,
) -> None:
    """Make a photo the asset's primary reference and describe only that asset again."""
    import uuid

    from vidpipe.describe.chain import build_describer
    from vidpipe.pipeline.reference_swap import swap_reference
    from vidpipe.pipeline.toolkit import VisionToolkit

    try:
        parsed = uuid.UUID(asset_id)
    except ValueError:
        raise VidpipeError(f"{asset_id!r} is not an asset id") from None
    settings = settings_with(model_dir, describers=describers)
    factory, store = open_registry(settings)
    toolkit = VisionToolkit.create(settings)
    asset = swap_reference(factory, store, toolkit, build_describer(settings), parsed, image)
    console.print(
        f"{asset.manifest_tag} {asset.name}: new primary reference, quality {asset.quality_score}", highlight=False
    )


@app.command("list")
def list_cmd() -> None:
    """Every manifest, newest first."""
    from vidpipe.pipeline.registry import list_manifests

    factory, _ = open_registry(settings_with(None))
    with factory() as session:
        manifests = list_manifests(session)
        table = Table(title="Manifests")
        for column in ("id", "name", "status", "photos", "assets", "created"):
            table.add_column(column)
        for m in manifests:
            table.add_row(
                str(m.id),
                m.name,
                m.status.value,
                str(m.upload_count),
                str(m.asset_count),
                f"{m.created_at:%Y-%m-%d %H:%M}",
            )
    console.print(table)


@app.command("show")
def show(
    manifest_id: str = typer.Argument(..., help="Manifest id (or its first characters)"),
    references: bool = typer.Option(False, "--references", help="Also list each asset's references, numbered"),
) -> None:
    """The manifest's assets: tags, types, names, scores (and with --references, their views)."""
    from vidpipe.pipeline.registry import find_manifest

    factory, _ = open_registry(settings_with(None))
    with factory() as session:
        manifest = find_manifest(session, manifest_id)
        title = f"{manifest.name} — {manifest.status.value}"
        if manifest.error:
            title += f" ({manifest.error})"
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
        with_tokens = any(a.describe_input_tokens is not None for a in manifest.assets)
        # Tag, type and name are what a user looks for: never wrapped; the rest folds to fit.
        table.add_column("tag", no_wrap=True)
        table.add_column("type", no_wrap=True)
        table.add_column("name", min_width=12)
        table.add_column("score", no_wrap=True)
        table.add_column("refs", no_wrap=True)
        table.add_column("detected as", min_width=8)
        table.add_column("described by", min_width=8, overflow="fold")
        if with_tokens:
            table.add_column("tokens")
        for a in manifest.assets:
            detected = (
                f"{a.detection_class} {a.detection_confidence:.2f}"
                if a.detection_class and a.detection_confidence
                else ""
            )
            name = escape(a.name)
            if a.source is not AssetSource.UPLOADED:
                name += f" [dim]({a.source.value})[/]"
            if a.user_tags:
                name += f" [dim]#{' #'.join(escape(t) for t in a.user_tags)}[/]"
            table.add_row(
                a.manifest_tag or "-",
                a.asset_type.value,
                name,
                f"{a.quality_score:.1f}" if a.quality_score is not None else "-",
                str(len(a.references)),
                detected,
                _described_by(a),
                *([_tokens(a)] if with_tokens else []),
            )
        console.print(table)
        if references:
            uploads = {u.id: u.name for u in manifest.uploads}
            refs = Table(title="References (positions for `manifest split`)")
            for column in ("tag", "#", "from", "box", "face", "quality", "primary"):
                refs.add_column(column)
            for a in manifest.assets:
                for n, r in enumerate(a.references, 1):
                    refs.add_row(
                        a.manifest_tag or "-",
                        str(n),
                        uploads.get(r.upload_id, "-") if r.upload_id else "user reference",
                        ",".join(f"{v:.0f}" for v in r.bbox) if r.bbox else "-",
                        "yes" if r.face_embedding is not None else "",
                        f"{r.quality_score:.1f}" if r.quality_score is not None else "-",
                        "*" if r.id == a.primary_reference_id else "",
                    )
            console.print(refs)


def _described_by(asset: Asset) -> str:
    if asset.describe_provider:
        return f"{asset.describe_provider} [dim]{escape(asset.describe_model or '')}[/]"
    if asset.describe_error:
        return f"[red]failed[/]: {escape(asset.describe_error[:80])}"
    return "-"


def _tokens(asset: Asset) -> str:
    if asset.describe_input_tokens is None and asset.describe_output_tokens is None:
        return "-"
    return f"{asset.describe_input_tokens or 0} in / {asset.describe_output_tokens or 0} out"


def _open_manifest(ref: str) -> tuple[sessionmaker[Session], FileStore, uuid.UUID]:
    """The registry's session factory and file store, and the id of the manifest ``ref`` names."""
    from vidpipe.pipeline.registry import find_manifest

    factory, store = open_registry(settings_with(None))
    with factory() as session:
        return factory, store, find_manifest(session, ref).id


@app.command("merge")
def merge_cmd(
    manifest_id: str = typer.Argument(..., help="Manifest id (or its first characters)"),
    keep: str = typer.Argument(..., help="Tag of the asset that stays (e.g. CHAR_01)"),
    others: list[str] = typer.Argument(..., help="Tags of the assets folded into it"),
) -> None:
    """Merge assets that are one character, prop or place; kept through every re-run."""
    from vidpipe.pipeline.corrections import merge_assets

    factory, _, parsed = _open_manifest(manifest_id)
    result = merge_assets(factory, parsed, keep, others)
    console.print(
        f"merged {', '.join(result.merged)} into {result.kept} ({result.references_moved} reference(s) moved)",
        highlight=False,
    )
    if result.unrecorded:
        err_console.print(
            f"note: {', '.join(result.unrecorded)} had no view of an uploaded photo, so a re-run cannot repeat "
            "this merge"
        )


@app.command("split")
def split_cmd(
    manifest_id: str = typer.Argument(..., help="Manifest id (or its first characters)"),
    tag: str = typer.Argument(..., help="Tag of the asset to split (e.g. CHAR_01)"),
    positions: list[int] = typer.Argument(..., help="Reference numbers to move out (see `show --references`)"),
    name: str | None = typer.Option(None, "--name", help="Name of the new asset (default: the describer's)"),
    describers: str | None = Describers,
    model_dir: Path | None = ModelDir,
) -> None:
    """Move references that show something else into a new asset; kept through every re-run."""
    from vidpipe.describe.chain import build_describer
    from vidpipe.pipeline.corrections import split_asset

    factory, store, parsed = _open_manifest(manifest_id)
    describer = build_describer(settings_with(model_dir, describers=describers))
    result = split_asset(factory, store, describer, parsed, tag, positions, name)
    console.print(
        f"split {result.references_moved} reference(s) of {result.source} into {result.new_tag}", highlight=False
    )
    if result.describe_error:
        err_console.print(f"note: {result.new_tag} has no description: {result.describe_error}")


@app.command("rename")
def rename_cmd(
    manifest_id: str = typer.Argument(..., help="Manifest id (or its first characters)"),
    tag: str = typer.Argument(..., help="Tag of the asset (e.g. PROP_02)"),
    name: str = typer.Argument(..., help="Its new name"),
) -> None:
    """Rename an asset; re-runs keep the name."""
    from vidpipe.pipeline.corrections import rename_asset

    factory, _, parsed = _open_manifest(manifest_id)
    asset = rename_asset(factory, parsed, tag, name)
    console.print(f"{asset.manifest_tag} is now {asset.name!r}", highlight=False)


@app.command("tag")
def tag_cmd(
    manifest_id: str = typer.Argument(..., help="Manifest id (or its first characters)"),
    tag: str = typer.Argument(..., help="Tag of the asset (e.g. CHAR_01)"),
    add: list[str] = typer.Option([], "--add", help="User tag to add (repeatable)"),
    remove: list[str] = typer.Option([], "--remove", help="User tag to remove (repeatable)"),
) -> None:
    """Add or remove an asset's own tags (hero, night-scene...); re-runs keep them."""
    from vidpipe.pipeline.corrections import edit_user_tags

    factory, _, parsed = _open_manifest(manifest_id)
    tags = edit_user_tags(factory, parsed, tag, add, remove)
    console.print(f"{tag.upper()} user tags: {', '.join(tags) or 'none'}", highlight=False)


@app.command("export")
def export(
    manifest_id: str = typer.Argument(..., help="Manifest id (or its first characters)"),
    fmt: str = typer.Option("json", "--format", help="json (registry for other tools) or md (production bible)"),
    output: Path | None = typer.Option(None, "--output", help="Write to this file instead of standard output"),
) -> None:
    """Export the registry as JSON or as a Markdown production bible."""
    from vidpipe.pipeline.registry import find_manifest, registry_json, registry_markdown

    if fmt not in ("json", "md"):
        raise VidpipeError(f"--format must be json or md, not {fmt!r}")
    factory, store = open_registry(settings_with(None))
    with factory() as session:
        manifest = find_manifest(session, manifest_id)
        text = (
            json.dumps(registry_json(manifest, store), indent=2, ensure_ascii=False)
            if fmt == "json"
            else registry_markdown(manifest, store)
        )
    if output is None:
        print(text)
        return
    with atomic_write(output) as handle:
        handle.write((text + "\n").encode("utf-8"))
    err_console.print(f"wrote {output}")
