"""``vidpipe faces group``: who is who across photos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from vidpipe.cli.common import console, err_console, load_images, print_json, progress_bar, settings_with
from vidpipe.cli.tables import ColumnKind, narrow_table, shorten_paths
from vidpipe.imaging.draw import montage, save_image
from vidpipe.inference.face_analysis import Face, FaceAnalyzer, face_crop

app = typer.Typer(help="Face identity across photos.", no_args_is_help=True)


def _pairs(values: list[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2 or not all(parts):
            raise typer.BadParameter(f"expected two face keys separated by a comma, got {value!r}", param_hint=option)
        pairs.append((parts[0], parts[1]))
    return pairs


@app.command("group")
def group(
    images: list[Path] = typer.Argument(..., help="Photos"),
    out: Path | None = typer.Option(None, "--out", help="Write one montage image per person into this folder"),
    detector: str | None = typer.Option(None, "--detector", help="Face detector model"),
    embedder: str | None = typer.Option(None, "--embedder", help="Face identity model"),
    threshold: float | None = typer.Option(None, "--threshold", help="Same-person cosine similarity"),
    same: list[str] = typer.Option([], "--same", help="KEY1,KEY2: these faces are the same person"),
    different: list[str] = typer.Option([], "--different", help="KEY1,KEY2: these faces are different people"),
    as_json: bool = typer.Option(False, "--json"),
    model_dir: Path | None = typer.Option(None, "--model-dir", help="Model folder (default: VIDPIPE_MODEL_DIR)"),
) -> None:
    """Find faces in the photos and group them into people.

    Face keys look like ``photo.jpg#0`` (the photo's path as given, then the face's index in it).
    """
    analyzer = FaceAnalyzer(detector, embedder, settings=settings_with(model_dir))
    loaded, failed = load_images(images)
    faces: list[Face] = []
    crops: dict[str, Any] = {}
    with progress_bar("Finding faces", len(loaded), quiet=as_json) as tick:
        for n, (path, image) in enumerate(loaded, 1):
            for face in analyzer.analyze(image, str(path)):
                faces.append(face)
                crops[face.key] = face_crop(image, face.box, padding=0.3)[0]
            tick(n, len(loaded))
    groups = analyzer.group(
        faces, same=_pairs(same, "--same"), different=_pairs(different, "--different"), threshold=threshold
    )
    by_key = {f.key: f for f in faces}
    # A face key is its photo's path then "#N"; tables and captions show the photo's short name.
    photos = list(dict.fromkeys(f.photo for f in faces))
    short_photo = dict(zip(photos, shorten_paths(photos), strict=True))

    def short_key(key: str) -> str:
        face = by_key[key]
        return short_photo[face.photo] + key[len(face.photo) :]

    montages: list[str | None] = []
    for number, person in enumerate(groups, 1):
        if out is None:
            montages.append(None)
            continue
        path = out / f"person_{number:02d}.jpg"
        captions = [f"{short_key(k)} q{by_key[k].quality.score:.1f}" for k in person.members]
        tiles = [crops[k] for k in person.members]
        save_image(montage(tiles, captions=captions, title=f"Person {number}: {len(tiles)} face(s)"), path)
        montages.append(str(path))
    if as_json:
        print_json(
            {
                "detector": analyzer.detector.name,
                "embedder": analyzer.embedder.name,
                "threshold": analyzer.threshold if threshold is None else threshold,
                "people": [
                    {
                        "person": i,
                        "faces": list(g.members),
                        "representative": g.representative,
                        "cohesion": round(g.cohesion, 4),
                        "montage": m,
                    }
                    for i, (g, m) in enumerate(zip(groups, montages, strict=True), 1)
                ],
                "errors": [{"file": str(p), "error": e} for p, e in failed],
            }
        )
    else:
        # The representative is one of the faces: marked there (when a person has several) rather
        # than in a column of its own, so that two columns of long file names need not share 80
        # characters. Montages all lie in --out, which the caption names once.
        marked = any(len(g.members) > 1 for g in groups)
        notes = ["* the face that represents the person"] if marked else []
        columns: list[tuple[str, ColumnKind]] = [("person", "key"), ("faces", "key")]
        if out is not None:
            notes.append(f"montages in {out}")
            columns.append(("montage", "key"))
        title = f"{len(groups)} people in {len(faces)} faces ({analyzer.embedder.name})"
        table = narrow_table(title, columns, caption=escape("; ".join(notes)) or None)
        for i, (g, m) in enumerate(zip(groups, montages, strict=True), 1):
            keys = [escape(short_key(k)) + (" *" if marked and k == g.representative else "") for k in g.members]
            montage_cell = [escape(Path(m).name)] if m else []
            table.add_row(str(i), "\n".join(keys), *montage_cell, end_section=i < len(groups))
        console.print(table)
    for path, error in failed:
        err_console.print(f"[red]skipped[/] {path}: {error}")
    if failed:
        raise typer.Exit(1)
