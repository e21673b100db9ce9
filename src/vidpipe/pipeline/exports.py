"""Exports that travel: the registry as a folder or a zip of its documents and images, or a reference pack.

Formats (`EXPORT_FORMATS`):

* ``md`` / ``json``: a folder holding ``bible.md`` or ``registry.json``, ``contact_sheet.jpg`` and each
  asset's references under ``assets/<TAG>/<n>.jpg``, all linked relative to the document (the layout of
  `vidpipe.pipeline.registry.bundle_layout`).
* ``zip``: the same files with both documents, as one zip file.
* ``pack``: per asset, a folder ``<TAG> <name>/`` with its best references (primary first, then by quality,
  at most ``max_refs``) and ``prompt.txt`` (the recreation prompt, a blank line, the description), ready to
  attach in a video generator; a folder, or a zip.

Nothing is half-written: a bundle is written into a temporary folder or file beside the target and renamed
into place at the end; on any error the temporary one is removed and the target is as it was. Each copied
file is checked against the hash its store key names. Names made from user text go through `safe_name`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
import unicodedata
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from vidpipe.db.models import Asset, AssetReference, Manifest
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.registry import (
    BIBLE_NAME,
    REGISTRY_NAME,
    bundle_layout,
    registry_json,
    registry_markdown,
    sha256_of_key,
)
from vidpipe.storage import MissingKeyError, Store

ExportFormat = Literal["md", "json", "zip", "pack"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("md", "json", "zip", "pack")
DEFAULT_MAX_REFS = 4
PROMPT_NAME = "prompt.txt"
MAX_NAME_CHARS = 80
MAX_NAME_BYTES = 200  # file systems allow 255 bytes a name; room is left for what a shell adds
# Names Windows keeps for devices, whatever the extension: a folder called "CON" cannot be made there.
_RESERVED = re.compile(r"(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$")
# Characters no file name should hold on any common system (path separators, Windows' reserved set).
_UNSAFE = re.compile(r'[<>:"|?*]')
_SEPARATORS = re.compile(r"[/\\]")


@dataclass(frozen=True)
class Entry:
    """One file of a bundle: its POSIX path inside it, and either its bytes or the store key to copy."""

    path: str
    data: bytes | None = None
    key: str | None = None


@dataclass(frozen=True)
class Bundle:
    """What an export writes (built from the manifest while its session is open; written after)."""

    fmt: ExportFormat
    entries: tuple[Entry, ...]
    assets: int
    title: str  # the manifest's name, for a download's file name


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: where, in which format, and how much."""

    path: Path
    fmt: ExportFormat
    files: int
    assets: int
    bytes: int
    archive: bool  # a zip file (else a folder)


# ----------------------------------------------------------------------------------------- names


def safe_name(text: str, fallback: str = "untitled", max_chars: int = MAX_NAME_CHARS) -> str:
    """A file or folder name made from user text, safe on every common file system.

    No path separators or characters Windows refuses, no control or format characters, no ``..``, no
    leading or trailing dots or spaces, not a reserved device name, at most ``max_chars`` characters (and
    well under 255 bytes); ``fallback`` when nothing is left.
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in text)
    text = _SEPARATORS.sub(" ", text)  # "../../evil" is "evil", never a path
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\.{2,}", ".", text)
    text = " ".join(part.strip(".") for part in text.split() if part.strip("."))
    text = text[:max_chars]
    while len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = text[:-1]
    text = text.strip(" .")
    if not text or _RESERVED.match(text):
        text = f"_{text}" if text else fallback
    return text


def archive_name(title: str, fmt: ExportFormat) -> str:
    """A download's file name for a zip of this manifest: ASCII letters, digits, ``_`` and ``-``, then
    ``-registry.zip`` or ``-pack.zip``."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9_]+", "-", ascii_title).strip("-")[:60].strip("-") or "manifest"
    return f"{slug}-{'pack' if fmt == 'pack' else 'registry'}.zip"


def _check_relative(path: str) -> str:
    """Every path inside a bundle is relative, POSIX, with no empty, ``.`` or ``..`` part."""
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a relative bundle path: {path!r}")
    return path


# -------------------------------------------------------------------------------------- building


def build_bundle(manifest: Manifest, store: Store, fmt: ExportFormat, *, max_refs: int = DEFAULT_MAX_REFS) -> Bundle:
    """The files of an export in ``fmt`` (see the module's docstring)."""
    if fmt not in EXPORT_FORMATS:
        raise VidpipeError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    if fmt == "pack":
        return Bundle(fmt, tuple(_pack_entries(manifest, max_refs)), len(manifest.assets), manifest.name)
    layout = bundle_layout(manifest)
    documents: list[Entry] = []
    if fmt in ("md", "zip"):
        text = registry_markdown(manifest, store, layout) + "\n"
        documents.append(Entry(BIBLE_NAME, data=text.encode("utf-8")))
    if fmt in ("json", "zip"):
        text = json.dumps(registry_json(manifest, store, layout), indent=2, ensure_ascii=False) + "\n"
        documents.append(Entry(REGISTRY_NAME, data=text.encode("utf-8")))
    files = [Entry(path, key=key) for path, key in layout.files.items()]
    return Bundle(fmt, (*documents, *files), len(manifest.assets), manifest.name)


def best_references(asset: Asset, max_refs: int = DEFAULT_MAX_REFS) -> list[AssetReference]:
    """The asset's primary reference, then the others by quality (best first; unscored last; ties in
    the asset's own order), at most ``max_refs`` in all."""
    if max_refs < 1:
        raise VidpipeError(f"the number of references per asset must be at least 1, not {max_refs}")
    order = {r.id: i for i, r in enumerate(asset.references)}
    ranked = sorted(
        asset.references,
        key=lambda r: (
            r.id != asset.primary_reference_id,
            r.quality_score is None,
            -(r.quality_score or 0.0),
            order[r.id],
        ),
    )
    return ranked[:max_refs]


def prompt_text(asset: Asset) -> str:
    """``prompt.txt``: the recreation prompt, a blank line, then the description (either may be missing)."""
    parts = [p.strip() for p in (asset.reverse_prompt, asset.visual_description or asset.description) if p]
    return "\n\n".join(parts) + "\n"


def _pack_entries(manifest: Manifest, max_refs: int) -> Iterator[Entry]:
    taken: set[str] = set()
    for index, asset in enumerate(manifest.assets, start=1):
        tag = safe_name(asset.manifest_tag or "", fallback=f"asset-{index}", max_chars=32)
        base = f"{tag} {safe_name(asset.name, fallback='untitled')}"
        folder, n = base, 1
        while folder.lower() in taken:
            n += 1
            folder = f"{base} ({n})"
        taken.add(folder.lower())
        for position, reference in enumerate(best_references(asset, max_refs), start=1):
            suffix = Path(reference.image_key).suffix or ".bin"
            yield Entry(f"{folder}/{position}{suffix}", key=reference.image_key)
        yield Entry(f"{folder}/{PROMPT_NAME}", data=prompt_text(asset).encode("utf-8"))


# --------------------------------------------------------------------------------------- writing


def write_bundle(bundle: Bundle, store: Store, target: Path, *, force: bool = False) -> ExportResult:
    """Write ``bundle`` at ``target``: a zip for ``zip`` (and for ``pack`` when the name ends in .zip),
    else a new folder. An existing target is refused unless ``force``, and then replaced only once the
    new export is complete. The parent folder must exist."""
    as_zip = bundle.fmt == "zip" or (bundle.fmt == "pack" and target.suffix.lower() == ".zip")
    target = Path(os.path.abspath(target))
    _check_target(target, as_zip=as_zip, force=force)
    try:
        write = _write_zip if as_zip else _write_folder
        total = write(bundle.entries, store, target)
    except OSError as exc:
        raise VidpipeError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from exc
    return ExportResult(target, bundle.fmt, len(bundle.entries), bundle.assets, total, as_zip)


def write_into(bundle: Bundle, store: Store, folder: Path) -> ExportResult:
    """Write the bundle's files into ``folder`` (made if missing), next to whatever else is there.

    The bundle is written whole into a temporary folder first; then each of its top-level entries replaces
    the one of the same name (the documents last, so that they appear once what they link to is there).
    Other files in ``folder`` are left alone. For shells that write a bundle beside their own outputs.
    """
    folder = Path(os.path.abspath(folder))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _temporary_folder(folder) as staging:
            total = _fill(staging, bundle.entries, store)
            documents = {e.path for e in bundle.entries if e.data is not None and "/" not in e.path}
            for name in sorted(os.listdir(staging), key=lambda n: (n in documents, n)):
                _replace(staging / name, folder / name)
    except OSError as exc:
        raise VidpipeError(f"cannot write into {str(folder)!r}: {exc.strerror or exc}") from exc
    return ExportResult(folder, bundle.fmt, len(bundle.entries), bundle.assets, total, archive=False)


def _check_target(target: Path, *, as_zip: bool, force: bool) -> None:
    where = str(target)
    parent = target.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise VidpipeError(f"cannot write {where!r}: the folder it would go in, {str(parent)!r}, {what}")
    if target.is_symlink():
        raise VidpipeError(f"cannot write {where!r}: it is a symbolic link; give a new path")
    if as_zip:
        if target.is_dir():
            raise VidpipeError(f"cannot write {where!r}: it is a folder, and a zip is a file; give a file name")
        if target.exists() and not force:
            raise VidpipeError(f"cannot write {where!r}: the file exists (--force replaces it)")
        return
    if target.exists() and not target.is_dir():
        raise VidpipeError(f"cannot write {where!r}: it is a file, and this export is a folder; give a new path")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise VidpipeError(
            f"cannot write {where!r}: the folder exists and is not empty; "
            "give a new path (--force replaces the folder once the new export is complete)"
        )


@contextlib.contextmanager
def _temporary_folder(parent: Path) -> Iterator[Path]:
    """A new hidden folder in ``parent`` (mode 0777 minus the umask); removed afterwards unless moved away."""
    path = parent / f".{uuid.uuid4().hex}.part"
    os.mkdir(path, 0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write_folder(entries: Sequence[Entry], store: Store, target: Path) -> int:
    with _temporary_folder(target.parent) as staging:
        total = _fill(staging, entries, store)
        _replace(staging, target)
    return total


def _replace(new: Path, old: Path) -> None:
    """Move ``new`` to ``old``'s place: a missing or empty folder or any file is replaced in one rename;
    a folder with content is first moved aside, then removed once ``new`` is in place."""
    try:
        os.replace(new, old)
        return
    except OSError:
        if not old.is_dir() or old.is_symlink():
            raise
    aside = old.parent / f".{uuid.uuid4().hex}.part"
    os.rename(old, aside)
    try:
        os.rename(new, old)
    except OSError:
        os.rename(aside, old)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _fill(root: Path, entries: Sequence[Entry], store: Store) -> int:
    total = 0
    for entry in entries:
        path = root.joinpath(*_check_relative(entry.path).split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as out:
            total += _write_entry(entry, store, out)
            out.flush()
            os.fsync(out.fileno())
    return total


def _write_zip(entries: Sequence[Entry], store: Store, target: Path) -> int:
    total = 0
    path = target.parent / f".{uuid.uuid4().hex}.part"
    try:
        with open(path, "xb") as handle:
            with zipfile.ZipFile(handle, "w") as archive:
                now = time.localtime()
                stamp = (now.tm_year, now.tm_mon, now.tm_mday, now.tm_hour, now.tm_min, now.tm_sec)
                for entry in entries:
                    info = zipfile.ZipInfo(_check_relative(entry.path), date_time=stamp)
                    info.external_attr = 0o644 << 16
                    # JPEG and PNG are compressed already: stored as they are; text is deflated.
                    info.compress_type = zipfile.ZIP_STORED if entry.key else zipfile.ZIP_DEFLATED
                    with archive.open(info, "w") as out:
                        total += _write_entry(entry, store, out)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(path, target)
    finally:
        path.unlink(missing_ok=True)
    return total


def _write_entry(entry: Entry, store: Store, out: IO[bytes]) -> int:
    if entry.data is not None:
        out.write(entry.data)
        return len(entry.data)
    assert entry.key is not None
    expected = sha256_of_key(entry.key)
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in store.iter_bytes(entry.key):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    except MissingKeyError:
        raise VidpipeError(f"cannot export {entry.path!r}: its stored file {entry.key!r} is missing") from None
    if digest.hexdigest() != expected:
        raise VidpipeError(f"cannot export {entry.path!r}: its stored file {entry.key!r} is damaged (hash mismatch)")
    return size
