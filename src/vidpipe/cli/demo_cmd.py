"""``vidpipe demo``: a manifest built and processed from sample photos that ship with scikit-image."""

from __future__ import annotations

from pathlib import Path

import typer

from vidpipe.cli.common import console, objects_and_faces, open_app, settings_with
from vidpipe.domain.enums import AssetType
from vidpipe.imaging.draw import draw_detections, save_image
from vidpipe.imaging.loading import load_image
from vidpipe.inference.face_analysis import drop_animal_faces
from vidpipe.inference.face_detector import create_face_detector
from vidpipe.inference.object_detector import create_object_detector

# (file in skimage's data folder, name a production would give it, type)
SAMPLES: tuple[tuple[str, str, AssetType], ...] = (
    ("astronaut.png", "Commander Reyes", AssetType.CHARACTER),
    ("camera.png", "The Photographer", AssetType.CHARACTER),
    ("coffee.png", "Espresso cup", AssetType.PROP),
    ("motorcycle_left.png", "Red motorcycle", AssetType.VEHICLE),
    ("chelsea.png", "Chelsea the cat", AssetType.OBJECT),
    ("rocket.jpg", "Launch pad", AssetType.ENVIRONMENT),
    ("hubble_deep_field.jpg", "Deep-field look", AssetType.STYLE),
)


def sample_photos() -> list[tuple[Path, str, AssetType]]:
    """The sample photos scikit-image installs with itself, with names and types."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    return [(folder / f, name, kind) for f, name, kind in SAMPLES if (folder / f).is_file()]


def demo(
    out: Path = typer.Option(
        Path("vidpipe-demo"), "--out", help="Folder for previews, contact sheet and bible (with its images)"
    ),
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)"),
) -> None:
    """Build a manifest from sample photos, process it, and write what a person would look at."""
    from vidpipe.cli.manifest_cmd import _print_stats, run_manifest
    from vidpipe.pipeline.uploads import PhotoIn
    from vidpipe.services import manifests

    settings = settings_with(model_dir)
    photos = [PhotoIn(path=p, asset_type=kind, name=name) for p, name, kind in sample_photos()]
    with open_app(model_dir) as ctx:
        created = manifests.create_manifest(ctx, "vidpipe demo", photos)
    manifest_id = str(created.manifest.id)
    console.print(f"manifest {manifest_id}: {len(created.added)} sample photos ({settings.resolved_database_url})")
    _, stats = run_manifest(manifest_id, reprocess=False, model_dir=model_dir)

    # Pictures: each photo with what was found, the contact sheet, and the production bible.
    detector = create_object_detector(settings=settings)
    faces = create_face_detector(settings=settings)
    for path, _, _ in sample_photos():
        image = load_image(path)
        objects = detector.detect(image)
        found = objects_and_faces(objects, drop_animal_faces(faces.detect(image), objects))
        save_image(draw_detections(image, found), out / f"{path.stem}.detections.jpg")
    # The bible as a bundle that travels: bible.md beside contact_sheet.jpg and assets/<TAG>/<n>.jpg,
    # linked relatively, written whole and then moved in beside the previews.
    with open_app(model_dir) as ctx:
        view = manifests.show_manifest(ctx, manifest_id)
        manifests.export_bundle(ctx, manifest_id, "md", out, into=True)
    for asset in view.assets:
        console.print(
            f"  {asset.tag or '-':<9} {asset.asset_type.value:<12} {asset.name}  (quality {asset.quality_score})",
            highlight=False,
        )
    _print_stats(stats)
    console.print(
        f"pictures, and bible.md with its images, in {out}/; `vidpipe manifest show {manifest_id}` lists the registry"
    )
