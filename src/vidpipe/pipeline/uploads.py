"""Taking reference photos into a manifest: validated, stored by content, never duplicated."""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vidpipe.db.models import Manifest, Upload
from vidpipe.domain.enums import AssetType, ManifestStatus
from vidpipe.errors import ImageTooLargeError, VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.settings import Settings
from vidpipe.storage import Store

MAX_NAME_CHARS = 200
NAMES_COLUMNS = ("file", "name", "type")


@dataclass(frozen=True)
class PhotoIn:
    """A photo a user brings: where it is, what they call it and what it is."""

    path: Path
    asset_type: AssetType
    name: str | None = None


@dataclass(frozen=True)
class Refusal:
    """A photo not added, and why.

    ``duplicate_of`` is set when the photo's bytes are already an upload of the manifest (its
    name): nothing is wrong with such a photo, so callers may report it as a note, not an error.
    """

    path: Path
    reason: str
    duplicate_of: str | None = None
    status: int = 422  # as HTTP would say it: 413 over a size or pixel limit, 422 not a usable image


def clean_name(raw: str | None, fallback: str) -> str:
    """The user's name as given (Unicode kept), without control characters, never empty.

    Names are only ever stored as text; files are named by content hash, so a name such as
    ``../x`` is harmless.
    """
    text = "".join(ch for ch in (raw or "") if ch.isprintable()).strip()
    return (text or fallback)[:MAX_NAME_CHARS]


def asset_types() -> str:
    """The asset types a user may give, for messages: "CHARACTER, OBJECT, ..."."""
    return ", ".join(t.value for t in AssetType)


def parse_asset_type(value: str, where: str) -> AssetType:
    """``value`` as an asset type (any case, spaces ignored); ``where`` names it in the error."""
    try:
        return AssetType(value.strip().upper())
    except ValueError:
        raise VidpipeError(f"{where}: unknown asset type {value!r}; expected one of {asset_types()}") from None


@dataclass(frozen=True)
class _NameRow:
    line: int
    file: str
    name: str | None
    asset_type: AssetType | None

    def describe(self) -> str:
        values = [f"name {self.name!r}" if self.name else "no name"]
        values.append(f"type {self.asset_type.value}" if self.asset_type else "no type")
        return f"line {self.line} ({self.file!r}: {', '.join(values)})"


def _path_key(path: str | Path) -> str:
    # "./a.jpg", "a.jpg" and its absolute path are one file: compare them in one spelling.
    return os.path.normpath(os.path.abspath(path))


def _is_bare_name(file: str) -> bool:
    return Path(file).name == file


def _read_names(csv_path: Path) -> list[_NameRow]:
    """The rows of a CSV with columns file,name[,type] (header names in any case)."""
    where = f"names file {str(csv_path)!r}"
    rows: list[_NameRow] = []
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [(c or "").strip().lower() for c in reader.fieldnames or []]
            if "file" not in columns:
                found = ", ".join(repr(c) for c in columns) or "none"
                raise VidpipeError(f"{where} needs a 'file' column (and 'name', 'type'); its columns: {found}")
            # A misspelt header ("nme") would silently drop every name: refuse it instead.
            unknown = [c for c in columns if c and c not in NAMES_COLUMNS]
            if unknown:
                raise VidpipeError(
                    f"{where} has unknown column(s) {', '.join(repr(c) for c in unknown)}; "
                    f"its columns can be {', '.join(NAMES_COLUMNS)}"
                )
            reader.fieldnames = columns
            for raw in reader:
                values = {k: (v or "").strip() for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}
                file = values.get("file", "")
                if not file:
                    if any(values.values()):
                        raise VidpipeError(f"{where}, line {reader.line_num}: no file named")
                    continue  # a row of empty cells, as spreadsheets write at the end
                kind = values.get("type")
                asset_type = parse_asset_type(kind, f"{where}, line {reader.line_num} ({file!r})") if kind else None
                rows.append(_NameRow(reader.line_num, file, values.get("name") or None, asset_type))
    except UnicodeDecodeError:
        raise VidpipeError(f"cannot read {where}: it is not UTF-8 text") from None
    except csv.Error as exc:
        raise VidpipeError(f"cannot read {where}: {exc}") from None
    except OSError as exc:
        raise VidpipeError(f"cannot read {where}: {exc.strerror or exc}") from exc
    return rows


def photos_from_paths(images: Sequence[Path], default_type: str, names_csv: Path | None) -> list[PhotoIn]:
    """The photos to add: each image with the name and type its row in ``names_csv`` gives, else no
    name and ``default_type``.

    A row matches a photo by path (as given; "./a.jpg" is "a.jpg") or, when it is a bare file name,
    by file name. Every row must match a photo, and a photo matched by several rows must get the same
    values from each: a typo or a stray path is an error naming the rows, not a silent default.
    """
    fallback = parse_asset_type(default_type, "default type")
    rows = _read_names(names_csv) if names_csv is not None else []
    by_key: dict[str, list[_NameRow]] = {}
    by_name: dict[str, list[_NameRow]] = {}
    for row in rows:
        by_key.setdefault(_path_key(row.file), []).append(row)
        if _is_bare_name(row.file):
            by_name.setdefault(row.file, []).append(row)
    matched: set[int] = set()
    conflicts: list[str] = []
    photos: list[PhotoIn] = []
    for path in images:
        found = {id(r): r for r in [*by_key.get(_path_key(path), []), *by_name.get(path.name, [])]}
        matched.update(found)
        rows_here = sorted(found.values(), key=lambda r: r.line)
        if len({(r.name, r.asset_type) for r in rows_here}) > 1:
            conflicts.append(f"{str(path)!r} is named differently by " + " and ".join(r.describe() for r in rows_here))
            continue
        first = rows_here[0] if rows_here else None
        asset_type = first.asset_type if first and first.asset_type else fallback
        photos.append(PhotoIn(path=path, asset_type=asset_type, name=first.name if first else None))
    unmatched = [r for r in rows if id(r) not in matched]
    problems = []
    if unmatched:
        listed = ", ".join(f"line {r.line} {r.file!r}" for r in unmatched)
        problems.append(
            f"{len(unmatched)} row(s) match none of the photos given: {listed} "
            "(a row matches a photo by its path as given or by its file name)"
        )
    problems.extend(conflicts)
    if problems:
        raise VidpipeError(f"names file {str(names_csv)!r}: " + "; ".join(problems))
    return photos


def add_photos(
    session: Session, store: Store, manifest: Manifest, photos: list[PhotoIn], settings: Settings
) -> tuple[list[Upload], list[Refusal]]:
    """Validate and store each photo; return the uploads added and the photos refused, with reasons.

    A photo whose bytes are already in the manifest, or given earlier in the same call, is not added
    again: it is refused with ``duplicate_of`` set. A refused photo changes nothing.
    """
    if manifest.status is ManifestStatus.PROCESSING:
        raise VidpipeError(f"manifest {manifest.id} is being processed; add photos when it has finished")
    existing = {u.sha256: u for u in manifest.uploads}
    given_earlier: dict[str, Path] = {}
    next_order = (session.scalar(select(func.max(Upload.sort_order)).where(Upload.manifest_id == manifest.id)) or 0) + 1
    added: list[Upload] = []
    refused: list[Refusal] = []
    for photo in photos:
        try:
            size = photo.path.stat().st_size if photo.path.is_file() else None
            if size is not None and size > settings.max_upload_bytes:
                raise ImageTooLargeError(
                    photo.path, f"file is {size} bytes, above the limit of {settings.max_upload_bytes} bytes"
                )
            # A full decode, not just the header: truncated files must be refused now, not mid-run.
            image = load_image(photo.path, max_pixels=settings.vision.max_image_pixels)
        except VidpipeError as exc:
            refused.append(Refusal(photo.path, str(exc), status=exc.status))
            continue
        key, sha, size_bytes = store.put_file(photo.path, kind="originals")
        if sha in existing:
            same = existing[sha]
            if sha in given_earlier:
                reason = f"same bytes as {str(given_earlier[sha])!r} given earlier in this call"
            else:
                reason = f"same bytes as {same.name!r} ({same.original_filename}), already in the manifest"
            refused.append(Refusal(photo.path, reason, duplicate_of=same.name))
            continue
        upload = Upload(
            id=uuid.uuid4(),
            storage_key=key,
            original_filename=clean_name(photo.path.name, "photo"),
            name=clean_name(photo.name, photo.path.stem),
            asset_type=photo.asset_type,
            sort_order=next_order,
            sha256=sha,
            size_bytes=size_bytes,
            width=int(image.shape[1]),
            height=int(image.shape[0]),
        )
        next_order += 1
        manifest.uploads.append(upload)
        existing[sha] = upload
        given_earlier[sha] = photo.path
        added.append(upload)
    manifest.upload_count = len(existing)
    return added, refused
