"""``vidpipe detect``: objects and faces in images, as a table, JSON or annotated previews."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from vidpipe.cli.common import (
    console,
    err_console,
    load_images,
    objects_and_faces,
    print_json,
    progress_bar,
    settings_with,
)
from vidpipe.cli.tables import narrow_table, shorten_paths
from vidpipe.domain.detections import Detections
from vidpipe.imaging.draw import draw_detections, save_image
from vidpipe.inference.face_analysis import drop_animal_faces
from vidpipe.inference.face_detector import create_face_detector
from vidpipe.inference.object_detector import create_object_detector


def detect(
    images: list[Path] = typer.Argument(..., help="Image files"),
    model: str | None = typer.Option(None, "--model", help="Object detector: a model name or an .onnx file"),
    face_model: str | None = typer.Option(None, "--face-model", help="Face detector model name"),
    confidence: float | None = typer.Option(None, "--confidence", min=0.0, max=1.0, help="Object score threshold"),
    faces: bool = typer.Option(True, "--faces/--no-faces", help="Also detect faces"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
    preview: Path | None = typer.Option(None, "--preview", help="Write annotated copies into this folder"),
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)"),
) -> None:
    """Detect objects (COCO-80) and faces in each image."""
    settings = settings_with(model_dir)
    detector = create_object_detector(model, settings=settings, confidence=confidence)
    face_detector = create_face_detector(face_model, settings=settings) if faces else None
    loaded, failed = load_images(images)
    report: list[dict[str, Any]] = []
    with progress_bar("Detecting", len(loaded), quiet=as_json) as tick:
        for n, (path, image) in enumerate(loaded, 1):
            objects = detector.detect(image)
            found_faces = (
                drop_animal_faces(face_detector.detect(image), objects)
                if face_detector
                else Detections.empty(("face",))
            )
            report.append(
                {
                    "file": str(path),
                    "width": int(image.shape[1]),
                    "height": int(image.shape[0]),
                    "objects": objects.to_records(),
                    "faces": found_faces.to_records(),
                }
            )
            if preview is not None:
                both = objects_and_faces(objects, found_faces)
                out = preview / f"{path.stem}.detections.jpg"
                save_image(draw_detections(image, both), out)
                report[-1]["preview"] = str(out)
            tick(n, len(loaded))
    if as_json:
        print_json(
            {
                "object_model": detector.name,
                "face_model": face_detector.name if face_detector else None,
                "images": report,
                "errors": [{"file": str(p), "error": e} for p, e in failed],
            }
        )
    else:
        _print_table(report)
    for path, error in failed:
        err_console.print(f"[red]skipped[/] {path}: {error}")
    if failed:
        raise typer.Exit(1)


def _print_table(report: list[dict[str, Any]]) -> None:
    # No "kind" column: a face's class is "face", which no COCO object class is. A box split over
    # two lines reads as two boxes, so only the class may wrap.
    table = narrow_table(
        "Detections", [("file", "key"), ("class", "text"), ("score", "key"), ("x1, y1, x2, y2", "key")]
    )
    names = shorten_paths([e["file"] for e in report])
    for number, (entry, name) in enumerate(zip(report, names, strict=True), 1):
        rows = entry["objects"] + entry["faces"]
        last = number == len(report)
        if not rows:
            table.add_row(escape(name), "nothing found", "", "", end_section=not last)
        for n, row in enumerate(rows):
            # The file once per group of rows: a column repeating one name says less than a blank.
            table.add_row(
                escape(name) if n == 0 else "",
                row["class_name"],
                f"{row['confidence']:.2f}",
                ", ".join(f"{v:.0f}" for v in row["box"]),
                end_section=n == len(rows) - 1 and not last,
            )
    console.print(table)
