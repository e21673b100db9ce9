"""Helpers every command shares: console, progress bars, settings overrides, image loading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vidpipe.domain.coco import COCO80
from vidpipe.domain.detections import Detections
from vidpipe.errors import VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.settings import Settings, get_settings

if TYPE_CHECKING:
    from vidpipe.app import AppContext

console = Console()
err_console = Console(stderr=True)


def settings_with(
    model_dir: Path | None = None, *, describers: str | None = None, force_describe: bool = False
) -> Settings:
    """The process settings with a command's overrides: model folder, describe providers
    ("gemini,offline"; validated as VIDPIPE_DESCRIBE__PROVIDERS is) and a cache bypass."""
    settings = get_settings()
    if model_dir is not None:
        settings = settings.model_copy(update={"model_dir": model_dir.expanduser()})
    try:
        settings = settings.with_describers(describers, force=force_describe)
    except ValidationError as exc:
        raise VidpipeError(f"--describer {describers!r}: {exc.errors()[0]['msg']}") from None
    return settings


@contextmanager
def progress_bar(description: str, total: int, *, quiet: bool = False) -> Iterator[Any]:
    """A rich progress bar on stderr; yields a callback taking (done, total)."""
    if quiet:
        yield lambda done, total_: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done, total_: progress.update(task, completed=done, total=total_)


def load_images(paths: list[Path]) -> tuple[list[tuple[Path, np.ndarray[Any, Any]]], list[tuple[Path, str]]]:
    """Each path's image, and the files that could not be used with the reason (nothing is raised)."""
    loaded, failed = [], []
    for path in paths:
        try:
            loaded.append((path, load_image(path)))
        except VidpipeError as exc:
            failed.append((path, str(exc)))
    return loaded, failed


def print_json(payload: Any) -> None:
    """JSON on stdout, unstyled so that other tools can parse it."""
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def objects_and_faces(objects: Detections, faces: Detections) -> Detections:
    """One Detections holding both, with "face" appended to the COCO names, for drawing in one image."""
    names = (*COCO80, "face")

    def relabel(found: Detections, offset: int) -> Detections:
        return Detections(
            xyxy=found.xyxy,
            confidence=found.confidence,
            class_id=found.class_id + offset,
            class_names=names,
            landmarks=None,
        )

    return Detections.merge([relabel(objects, 0), relabel(faces, len(COCO80))])


def open_app(
    model_dir: Path | None = None, *, describers: str | None = None, force_describe: bool = False
) -> AppContext:
    """The application context for a command (see `vidpipe.app`), with the command's overrides.

    Opening it brings the schema up to date and recovers runs whose process died.
    """
    from vidpipe.app import AppContext

    return AppContext.open(settings_with(model_dir, describers=describers, force_describe=force_describe))
