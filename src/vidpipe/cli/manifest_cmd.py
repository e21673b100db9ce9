"""``vidpipe manifest``: build, process, inspect, correct and export Asset Registries.

Each command parses its arguments, calls one service of the engine API (`vidpipe.services`) with
the application context, and renders what comes back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from vidpipe.cli.common import console, err_console, open_app, settings_with
from vidpipe.cli.tables import narrow_table
from vidpipe.domain.enums import AssetSource, AssetType, ManifestStatus
from vidpipe.errors import VidpipeError

if TYPE_CHECKING:  # imported lazily at run time, so that `--help` stays fast
    from vidpipe.pipeline.run_stats import RunStats
    from vidpipe.services.views import AssetView, IntakeResult, JobView, ManifestView

app = typer.Typer(help="Build and inspect Asset Registries from reference photos.", no_args_is_help=True)
ModelDir = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)")
Describers = typer.Option(
    None,
    "--describer",
    help="Describers in order of preference, e.g. 'gemini,offline' (default: VIDPIPE_DESCRIBE__PROVIDERS)",
)
ManifestRef = typer.Argument(..., help="Manifest id (or its first 6+ characters)")
AssetRef = typer.Argument(..., help="Asset tag (e.g. CHAR_01) or asset id")

# Exit status when some photos were refused and the rest kept (as `detect` does with bad files).
EXIT_PARTIAL = 1


def _types() -> str:
    return ", ".join(t.value for t in AssetType)


def _providers(describers: str | None) -> list[str] | None:
    """``--describer`` as a validated list (the same rules as VIDPIPE_DESCRIBE__PROVIDERS)."""
    return None if describers is None else settings_with(None, describers=describers).describe.providers


def _print_intake(result: IntakeResult, verb: str) -> None:
    for note in result.refused:
        err_console.print(f"[red]refused[/] {escape(note.path)}: {escape(note.reason)}", highlight=False)
    for note in result.duplicates:
        err_console.print(f"[yellow]skipped[/] {escape(note.path)}: {escape(note.reason)}", highlight=False)
    # On stderr with the notes, so that stdout holds only what a script reads (create's id).
    err_console.print(f"{verb} {len(result.added)} photo(s)", highlight=False)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Name of the production or manifest"),
    images: list[Path] = typer.Argument(..., help="Reference photos"),
    asset_type: str = typer.Option(
        "CHARACTER", "--type", help=f"Type of every photo without one in --names: {_types()}"
    ),
    names: Path | None = typer.Option(None, "--names", help="CSV with file,name,type per photo"),
) -> None:
    """Create a manifest from reference photos and print its id. Bad photos are refused, the rest
    kept (exit 1); with no usable photo nothing is created (exit 2)."""
    from vidpipe.pipeline.uploads import photos_from_paths
    from vidpipe.services.manifests import create_manifest

    photos = photos_from_paths(images, asset_type, names)
    with open_app() as ctx:
        result = create_manifest(ctx, name, photos)
    _print_intake(result, f"created manifest [bold]{escape(result.manifest.name)}[/] with")
    print(result.manifest.id)
    if result.refused:
        raise typer.Exit(EXIT_PARTIAL)


@app.command("add")
def add(
    manifest_id: str = ManifestRef,
    images: list[Path] = typer.Argument(..., help="More reference photos"),
    asset_type: str = typer.Option("CHARACTER", "--type", help=f"Type of each photo: {_types()}"),
    names: Path | None = typer.Option(None, "--names", help="CSV with file,name,type per photo"),
) -> None:
    """Add photos to a manifest. The same bytes twice are added once (each skipped photo is named
    with the reason); refused photos exit 1, and exit 2 when none could be added."""
    from vidpipe.pipeline.uploads import photos_from_paths
    from vidpipe.services.manifests import add_manifest_photos

    photos = photos_from_paths(images, asset_type, names)
    with open_app() as ctx:
        result = add_manifest_photos(ctx, manifest_id, photos)
    _print_intake(result, f"{escape(result.manifest.name)}: added")
    if result.added and result.manifest.status is not ManifestStatus.DRAFT:
        console.print(
            f"the registry does not show them yet: `vidpipe manifest reprocess {str(result.manifest.id)[:8]}`",
            highlight=False,
        )
    if result.refused:
        raise typer.Exit(EXIT_PARTIAL)


def run_manifest(
    manifest_ref: str,
    *,
    reprocess: bool,
    model_dir: Path | None,
    quiet: bool = False,
    describers: str | None = None,
    force_describe: bool = False,
) -> tuple[JobView, RunStats]:
    """Process a manifest as a job run here, with live progress; shared by `process`, `reprocess`
    and `demo`. A job already waiting in the queue for this manifest (after a crash) is the one run."""
    from vidpipe.cli.running import run_job_with_progress
    from vidpipe.pipeline.run_stats import RunStats
    from vidpipe.services import manifests, runs

    providers = _providers(describers)
    with open_app(model_dir) as ctx:
        for item in ctx.recovered:
            if item.target_id is not None:
                err_console.print(
                    f"[yellow]recovered[/] an interrupted run of manifest {item.target_id}: {item.action}",
                    highlight=False,
                )
        job = runs.request_run(
            ctx, manifest_ref, reprocess=reprocess, describers=providers, force_describe=force_describe, submit=False
        )
        if job.attempts:
            err_console.print(f"running job {job.id}, queued again after an interruption (attempt {job.attempts + 1})")
        finished = run_job_with_progress(ctx, job, quiet=quiet)
        view = manifests.show_manifest(ctx, str(finished.target_id))
    return finished, view.stats or RunStats()


def _print_stats(stats: RunStats) -> None:
    per_type = ", ".join(f"{k} {v}" for k, v in stats.assets_per_type.items()) or "none"
    console.print(
        f"[green]READY[/]: {stats.uploads} photos, {stats.crops} crops, {stats.assets} assets ({per_type}), "
        f"{stats.people_merged} face(s) merged into people, {stats.seconds_total:.2f} s",
        highlight=False,
    )
    console.print("seconds per step: " + ", ".join(f"{k} {v:.2f}" for k, v in stats.seconds.items()), highlight=False)


@app.command("process")
def process(
    manifest_id: str = ManifestRef,
    reprocess: bool = typer.Option(False, "--reprocess", help="Run again a manifest that is READY or ERROR"),
    as_json: bool = typer.Option(False, "--json", help="Print the run's statistics as JSON"),
    describers: str | None = Describers,
    force_describe: bool = typer.Option(False, "--force-describe", help="Ignore cached descriptions"),
    model_dir: Path | None = ModelDir,
    queue: bool = typer.Option(
        False, "--queue", help="Only queue the run for a worker (`vidpipe worker`, `vidpipe jobs work`) and return"
    ),
) -> None:
    """Detect, group, describe and tag: turn the manifest's photos into registry assets.

    Runs as a job in this process with live progress; Ctrl-C (exit 130) or SIGTERM (exit 143)
    cancel it and leave the registry as it was. A run queued again after a crash is run here.
    With --queue the job goes to the workers instead (`vidpipe jobs show JOB` follows it).
    """
    if queue:
        from vidpipe.services import runs

        with open_app(model_dir) as ctx:
            ctx.queue_only = True  # embedded backend: the row is the queue a `jobs work` worker takes from
            queued = runs.request_run(
                ctx, manifest_id, reprocess=reprocess, describers=_providers(describers), force_describe=force_describe
            )
        if as_json:
            print(json.dumps({"job_id": str(queued.id), "status": queued.status.value}))
        else:
            console.print(f"queued job {queued.id}; follow it with `vidpipe jobs show {str(queued.id)[:8]}`")
        return
    job, stats = run_manifest(
        manifest_id,
        reprocess=reprocess,
        model_dir=model_dir,
        quiet=as_json,
        describers=describers,
        force_describe=force_describe,
    )
    if as_json:
        print(json.dumps({**stats.model_dump(), "job_id": str(job.id)}, indent=2))
    else:
        _print_stats(stats)


@app.command("reprocess")
def reprocess_cmd(
    manifest_id: str = ManifestRef,
    describers: str | None = Describers,
    force_describe: bool = typer.Option(False, "--force-describe", help="Ignore cached descriptions"),
    model_dir: Path | None = ModelDir,
) -> None:
    """Run a processed manifest again; assets that are found again keep their tags and ids."""
    _, stats = run_manifest(
        manifest_id, reprocess=True, model_dir=model_dir, describers=describers, force_describe=force_describe
    )
    _print_stats(stats)


@app.command("swap-reference")
def swap_reference_cmd(
    first: str = typer.Argument(..., help="Manifest id (or, in the older form, the asset id)"),
    second: str = typer.Argument(..., help="Asset tag or id (or, in the older form, the photo)"),
    image: Path | None = typer.Argument(None, help="The new reference photo"),
    force: bool = typer.Option(False, "--force", help="Accept a photo whose face does not match the character"),
    describers: str | None = Describers,
    model_dir: Path | None = ModelDir,
) -> None:
    """Make a photo the asset's primary reference and describe only that asset again:
    `swap-reference MANIFEST ASSET PHOTO` (ASSET is a tag such as CHAR_01, or an id).

    A character's new photo must show the same face (else refused; --force overrides); for other
    types a photo without a detection of the asset's class is accepted with a warning.
    """
    from vidpipe.services import assets

    manifest_ref: str | None
    if image is None:  # older form: swap-reference ASSET_ID PHOTO
        manifest_ref, asset_ref, photo = None, first, Path(second)
    else:
        manifest_ref, asset_ref, photo = first, second, image
    with open_app(model_dir) as ctx:
        result = assets.swap(ctx, manifest_ref, asset_ref, photo, force=force, describers=_providers(describers))
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    match = f", face similarity {result.similarity:.2f}" if result.similarity is not None else ""
    console.print(
        f"{result.tag} {escape(result.name)}: new primary reference, quality {result.quality_score}{match}",
        highlight=False,
    )


@app.command("list")
def list_cmd() -> None:
    """Every manifest, newest first."""
    from vidpipe.services.manifests import list_manifests

    with open_app() as ctx:
        manifests = list_manifests(ctx)
    table = Table(title="Manifests", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("name", min_width=8, overflow="fold")
    for column in ("status", "photos", "assets", "created"):
        table.add_column(column, no_wrap=True)
    for m in manifests:
        table.add_row(
            str(m.id)[:8],
            escape(m.name),
            m.status.value,
            str(m.upload_count),
            str(m.asset_count),
            f"{m.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)
    if manifests:
        console.print("[dim]ids are shortened: any 6+ first characters name a manifest[/]")


def _job_line(job: JobView, lease_seconds: float) -> str:
    if job.status.value == "QUEUED":
        return (
            f"run queued (job {str(job.id)[:8]}, {job.attempts} attempt(s) so far): "
            f"`vidpipe manifest process {job.target_id}` runs it now"
        )
    age = job.heartbeat_age_seconds()
    beat = f", heartbeat {age:.0f} s ago" if age is not None else ""
    stale = " (stale: recovered by the next command)" if age is not None and age > lease_seconds else ""
    counters = job.progress
    done = f", photos {counters.get('uploads_processed', 0)}/{counters.get('uploads_total', 0)}" if counters else ""
    return f"running (job {str(job.id)[:8]}, step {job.step or '-'}{done}{beat}){stale}"


@app.command("show")
def show(
    manifest_id: str = ManifestRef,
    references: bool = typer.Option(False, "--references", help="Also list each asset's references, numbered"),
) -> None:
    """The manifest: its photos, then its assets with tags, types, names and scores (with
    --references, each asset's views, numbered for `split`)."""
    from vidpipe.services.manifests import show_manifest

    with open_app() as ctx:
        view = show_manifest(ctx, manifest_id)
        lease = ctx.settings.jobs.lease_seconds
    summary = view.summary
    console.print(
        f"[bold]{escape(summary.name)}[/] — {summary.status.value}"
        + (f" ({escape(summary.error)})" if summary.error else ""),
        highlight=False,
    )
    console.print(f"[dim]{summary.id}[/]", highlight=False)
    if view.job is not None and view.job.active:
        console.print(_job_line(view.job, lease), highlight=False)
    _print_uploads(view)
    if summary.status is ManifestStatus.DRAFT:
        console.print(f"not processed yet: `vidpipe manifest process {str(summary.id)[:8]}`", highlight=False)
        return
    if view.assets:
        _print_assets(view)
    if references:
        _print_references(view)


def _print_uploads(view: ManifestView) -> None:
    table = narrow_table(
        f"Photos ({len(view.uploads)})",
        [("#", "key"), ("name", "text"), ("type", "key"), ("file", "text"), ("size", "key")],
    )
    for u in view.uploads:
        table.add_row(
            str(u.position), escape(u.name), u.asset_type.value, escape(u.original_filename), f"{u.width}×{u.height}"
        )
    console.print(table)


def _print_assets(view: ManifestView) -> None:
    # Tag, type, score and counts are short keys, never wrapped; the name wraps between words. Who
    # described each asset is its provider here; the model and tokens are in the exports.
    table = narrow_table(
        f"Assets ({len(view.assets)})",
        [("tag", "key"), ("type", "key"), ("name", "text"), ("score", "key"), ("refs", "key"), ("detected", "text")],
        caption="described by: " + _providers_used(view.assets),
    )
    for a in view.assets:
        name = escape(a.name)
        if a.source is not AssetSource.UPLOADED:
            name += f" [dim]({a.source.value})[/]"
        if a.user_tags:
            name += f" [dim]#{' #'.join(escape(t) for t in a.user_tags)}[/]"
        if a.describe_error and not a.describe_provider:
            name += f" [red](not described: {escape(a.describe_error[:60])})[/]"
        detected = (
            f"{a.detection_class} {a.detection_confidence:.2f}" if a.detection_class and a.detection_confidence else ""
        )
        table.add_row(
            a.tag or "-",
            a.asset_type.value,
            name,
            f"{a.quality_score:.1f}" if a.quality_score is not None else "-",
            str(len(a.references)),
            escape(detected),
        )
    console.print(table)


def _providers_used(assets: Sequence[AssetView]) -> str:
    """Who described the assets, with the tokens remote providers reported (models: in the exports)."""
    count: dict[str, int] = {}
    tokens: dict[str, int] = {}
    for a in assets:
        who = a.describe_provider or "failed"
        count[who] = count.get(who, 0) + 1
        if a.input_tokens is not None or a.output_tokens is not None:
            tokens[who] = tokens.get(who, 0) + (a.input_tokens or 0) + (a.output_tokens or 0)
    return ", ".join(f"{who} ×{n}" + (f" ({tokens[who]} tokens)" if who in tokens else "") for who, n in count.items())


def _print_references(view: ManifestView) -> None:
    refs = narrow_table(
        "References (positions for `manifest split`)",
        [
            ("tag", "key"),
            ("#", "key"),
            ("from", "text"),
            ("box", "key"),
            ("face", "key"),
            ("quality", "key"),
            ("primary", "key"),
        ],
    )
    for a in view.assets:
        for r in a.references:
            refs.add_row(
                a.tag or "-",
                str(r.position),
                escape(r.source),
                ",".join(f"{v:.0f}" for v in r.bbox) if r.bbox else "-",
                "yes" if r.has_face else "",
                f"{r.quality_score:.1f}" if r.quality_score is not None else "-",
                "*" if r.primary else "",
            )
    console.print(refs)


@app.command("merge")
def merge_cmd(
    manifest_id: str = ManifestRef,
    keep: str = typer.Argument(..., help="The asset that stays (tag such as CHAR_01, or id)"),
    others: list[str] = typer.Argument(..., help="The assets folded into it (tags or ids)"),
    force: bool = typer.Option(False, "--force", help="Merge even assets of different types"),
) -> None:
    """Merge assets that are one character, prop or place; kept through every re-run."""
    from vidpipe.services import assets

    with open_app() as ctx:
        result = assets.merge(ctx, manifest_id, keep, others, force=force)
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
    manifest_id: str = ManifestRef,
    tag: str = AssetRef,
    positions: list[int] = typer.Argument(..., help="Reference numbers to move out (see `show --references`)"),
    name: str | None = typer.Option(None, "--name", help="Name of the new asset (default: the describer's)"),
    describers: str | None = Describers,
    model_dir: Path | None = ModelDir,
) -> None:
    """Move references that show something else into a new asset; kept through every re-run."""
    from vidpipe.services import assets

    with open_app(model_dir) as ctx:
        result = assets.split(ctx, manifest_id, tag, positions, name, _providers(describers))
    console.print(
        f"split {result.references_moved} reference(s) of {result.source} into {result.new_tag}", highlight=False
    )
    if result.describe_error:
        err_console.print(f"note: {result.new_tag} has no description: {escape(result.describe_error)}")


@app.command("rename")
def rename_cmd(
    manifest_id: str = ManifestRef,
    tag: str = AssetRef,
    name: str = typer.Argument(..., help="Its new name"),
) -> None:
    """Rename an asset; re-runs keep the name."""
    from vidpipe.services import assets

    with open_app() as ctx:
        asset = assets.rename(ctx, manifest_id, tag, name)
    console.print(f"{asset.tag} is now {asset.name!r}", highlight=False)


@app.command("tag")
def tag_cmd(
    manifest_id: str = ManifestRef,
    tag: str = AssetRef,
    add: list[str] = typer.Option([], "--add", help="User tag to add (repeatable)"),
    remove: list[str] = typer.Option([], "--remove", help="User tag to remove (repeatable)"),
) -> None:
    """Add or remove an asset's own tags (hero, night-scene...); re-runs keep them."""
    from vidpipe.services import assets

    with open_app() as ctx:
        tags = assets.edit_tags(ctx, manifest_id, tag, add, remove)
    console.print(f"{tag.upper()} user tags: {', '.join(tags) or 'none'}", highlight=False)


@app.command("delete")
def delete_cmd(
    manifest_id: str = ManifestRef,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation"),
) -> None:
    """Delete a manifest with its photos' records, assets and corrections (not while a run is active)."""
    from vidpipe.services import manifests

    with open_app() as ctx:
        view = manifests.show_manifest(ctx, manifest_id)
        if not yes and not typer.confirm(
            f"delete manifest {view.summary.name!r} with {len(view.uploads)} photo(s) and {len(view.assets)} asset(s)?"
        ):
            raise typer.Exit(1)
        deleted = manifests.delete_manifest(ctx, str(view.summary.id))
    console.print(f"deleted manifest {escape(deleted.name)} ({deleted.id})", highlight=False)


@app.command("delete-asset")
def delete_asset_cmd(manifest_id: str = ManifestRef, tag: str = AssetRef) -> None:
    """Delete an asset extracted from a photo (a passer-by, a stray cup); later runs leave it out.
    An uploaded photo's own asset cannot be deleted."""
    from vidpipe.services import assets

    with open_app() as ctx:
        deleted = assets.delete(ctx, manifest_id, tag)
    console.print(
        f"deleted {deleted.tag} {escape(deleted.name)}; {deleted.views_dismissed} view(s) kept out of later runs",
        highlight=False,
    )


@app.command("export")
def export(
    manifest_id: str = ManifestRef,
    fmt: str = typer.Option(
        "json",
        "--format",
        help="json (registry for other tools), md (production bible), zip (both, with their images, in one "
        "file) or pack (per asset: its best references and prompt.txt, to attach in a video generator)",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        help="Where to write: for json and md a new folder holding the document, contact_sheet.jpg and "
        "assets/<TAG>/<n>.jpg, all linked relatively; for zip a .zip file; for pack a folder, or a zip if "
        "the name ends in .zip. Its parent folder must exist. Without it, json and md print the document "
        "(links as in the folder).",
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing file or non-empty folder at --output (once the new one is done)"
    ),
    max_refs: int = typer.Option(4, "--max-refs", min=1, help="pack: at most this many references per asset"),
) -> None:
    """Export the registry as JSON, a Markdown production bible, a zip of both with their images, or a
    reference pack. Nothing is half-written: the export is made beside the target and renamed into place."""
    from vidpipe.pipeline.exports import EXPORT_FORMATS
    from vidpipe.services.manifests import export_bundle, export_manifest

    chosen = next((f for f in EXPORT_FORMATS if f == fmt), None)
    if chosen is None:
        raise VidpipeError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    if output is None:
        if fmt not in ("json", "md"):
            raise VidpipeError(f"--format {fmt} writes files: give --output PATH")
        kind: Literal["json", "md"] = "json" if fmt == "json" else "md"
        with open_app() as ctx:
            print(export_manifest(ctx, manifest_id, kind))
        return
    with open_app() as ctx:
        result = export_bundle(ctx, manifest_id, chosen, output, max_refs=max_refs, force=force)
    what = "zip" if result.archive else "folder"
    err_console.print(
        f"wrote {what} {escape(str(result.path))}: {result.files} files, {result.assets} assets, "
        f"{result.bytes / 1e6:.1f} MB",
        highlight=False,
    )
