"""``vidpipe demo``: the vision core on sample photos that ship with scikit-image."""

from __future__ import annotations

from pathlib import Path

import typer

from vidpipe.cli.common import console, objects_and_faces, settings_with
from vidpipe.imaging.draw import draw_detections, montage, save_image
from vidpipe.imaging.loading import load_image
from vidpipe.inference.face_analysis import FaceAnalyzer, drop_animal_faces, face_crop
from vidpipe.inference.object_detector import create_object_detector

SAMPLES = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")


def sample_paths() -> list[Path]:
    """The sample photos scikit-image installs with itself."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    return [folder / name for name in SAMPLES if (folder / name).is_file()]


def demo(
    out: Path = typer.Option(Path("vidpipe-demo"), "--out", help="Folder for previews and montages"),
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)"),
) -> None:
    """Detect objects and faces in sample photos, group the faces into people, write previews."""
    settings = settings_with(model_dir)
    detector = create_object_detector(settings=settings)
    analyzer = FaceAnalyzer(settings=settings)
    faces, crops = [], {}
    for path in sample_paths():
        image = load_image(path)
        objects = detector.detect(image)
        found = drop_animal_faces(analyzer.detect(image), objects)
        analysed = analyzer.analyze(image, path.name, faces=found)
        for face in analysed:
            faces.append(face)
            crops[face.key] = face_crop(image, face.box)[0]
        labels = [
            *(f"{n} {c:.2f}" for n, c in zip(objects.names, objects.confidence.tolist(), strict=True)),
            *(f"face {f.confidence:.2f} q{f.quality.score:.1f}" for f in analysed),
        ]
        drawn = draw_detections(image, objects_and_faces(objects, found), labels=labels)
        preview = save_image(drawn, out / f"{path.stem}.jpg")
        summary = ", ".join(labels[: len(objects)]) or "no objects"
        console.print(f"[bold]{path.name}[/]: {summary}; {len(analysed)} face(s) -> {preview}")
    groups = analyzer.group(faces)
    for number, person in enumerate(groups, 1):
        tiles = [crops[k] for k in person.members]
        sheet = montage(tiles, captions=list(person.members), title=f"Person {number}")
        console.print(
            f"person {number}: {', '.join(person.members)} -> {save_image(sheet, out / f'person_{number:02d}.jpg')}"
        )
    console.print(f"[green]done[/]: {len(faces)} face(s), {len(groups)} people; pictures in {out}/")
