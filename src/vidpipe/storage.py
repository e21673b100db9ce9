"""The local file store: uploads, crops, thumbnails and contact sheets, named by the hash of their content.

A file's key is ``{kind}/{sha[:2]}/{sha}{suffix}``, with ``sha`` the SHA-256 of its bytes, so a key always
names the same bytes: storing them again writes nothing, and no upload can overwrite another's file.
Every write goes to a temporary file first and is renamed into place, so a reader never sees half a file.
Keys coming back from outside (a database row, a URL) go through `FileStore.path`, which accepts nothing
but the exact key shape; that is the guard against path traversal.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vidpipe.errors import VidpipeError
from vidpipe.fileio import atomic_write, temporary_file

KIND_PATTERN = re.compile(r"[a-z][a-z0-9_-]*")
SUFFIX_PATTERN = re.compile(r"\.[a-z0-9]{1,5}")
KEY_PATTERN = re.compile(r"(?P<kind>[a-z][a-z0-9_-]*)/(?P<prefix>[0-9a-f]{2})/(?P<sha>[0-9a-f]{64})\.[a-z0-9]{1,5}")

CHUNK_BYTES = 1 << 20
THUMBNAIL_KIND = "thumbnails"
_IMAGE_FORMATS = {"jpg": ("JPEG", ".jpg"), "jpeg": ("JPEG", ".jpg"), "png": ("PNG", ".png"), "webp": ("WEBP", ".webp")}


class MissingKeyError(VidpipeError):
    """A well-formed store key with no file behind it."""

    status = 404


class FileStore:
    """Content-addressed files under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"

    # Writing

    def put_bytes(self, data: bytes, *, kind: str, suffix: str) -> str:
        """Store ``data`` and return its key; if the same bytes are stored already, nothing is written."""
        _check_kind(kind)
        if not isinstance(suffix, str) or not SUFFIX_PATTERN.fullmatch(suffix):
            raise ValueError(f"bad file suffix {suffix!r}: expected a dot and 1 to 5 of a-z, 0-9, like '.jpg'")
        key = _key(kind, hashlib.sha256(data).hexdigest(), suffix)
        target = self.path(key)
        if target.exists():
            return key
        with atomic_write(target) as handle:
            handle.write(data)
        return key

    def put_image(self, image: np.ndarray[Any, Any], *, kind: str, fmt: str = "jpg", quality: int = 92) -> str:
        """Encode an H×W×3 uint8 RGB array as JPEG, PNG or WebP and store it; the same pixels give the same key."""
        _check_kind(kind)
        if not isinstance(fmt, str) or fmt.lower().lstrip(".") not in _IMAGE_FORMATS:
            raise ValueError(f"bad image format {fmt!r}: expected one of {', '.join(_IMAGE_FORMATS)}")
        if not 1 <= quality <= 100:
            raise ValueError(f"bad image quality {quality!r}: expected 1 to 100")
        pil_format, suffix = _IMAGE_FORMATS[fmt.lower().lstrip(".")]
        buffer = io.BytesIO()
        # Only pixels and fixed options go in (no EXIF, no timestamps, no optimiser passes), so the bytes,
        # and with them the key, depend on nothing but the pixels.
        options: dict[str, Any] = {}
        if pil_format == "JPEG":
            options = {"quality": quality, "subsampling": "4:2:0", "optimize": False, "progressive": False}
        elif pil_format == "WEBP":
            options = {"quality": quality, "method": 4}
        _to_pil(image).save(buffer, format=pil_format, **options)
        return self.put_bytes(buffer.getvalue(), kind=kind, suffix=suffix)

    def put_file(self, path: Path, *, kind: str) -> tuple[str, str, int]:
        """Copy a file into the store in chunks, hashing as it goes; return (key, sha256, size in bytes).

        The suffix is the file's own, lower-cased, when it is 1 to 5 of a-z, 0-9; otherwise ``.bin``.
        The file's name plays no other part in the key.
        """
        _check_kind(kind)
        path = Path(path)
        body = path.suffix.lower()[1:]
        suffix = f".{body}" if re.fullmatch(r"[a-z0-9]{1,5}", body) else ".bin"
        try:
            source = open(path, "rb")  # noqa: SIM115 - closed by the `with` below, after the errors are mapped
        except FileNotFoundError:
            raise VidpipeError(f"cannot store {str(path)!r}: no such file") from None
        except IsADirectoryError:
            raise VidpipeError(f"cannot store {str(path)!r}: is a directory") from None
        except OSError as exc:
            raise VidpipeError(f"cannot store {str(path)!r}: {exc.strerror or exc}") from None
        staging = self.root / kind
        staging.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        # One pass: the copy is written while it is hashed, into a temporary file on the store's own
        # file system, and renamed into its folder once the hash (and so the key) is known.
        with source, temporary_file(staging) as (handle, tmp_path):
            while chunk := source.read(CHUNK_BYTES):
                digest.update(chunk)
                handle.write(chunk)
                size += len(chunk)
            handle.close()
            sha = digest.hexdigest()
            key = _key(kind, sha, suffix)
            target = self.path(key)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_path, target)
        return key, sha, size

    def thumbnail(self, image: np.ndarray[Any, Any], *, max_side: int = 256) -> str:
        """Store a JPEG no larger than ``max_side`` on its longer side (aspect kept, never enlarged)."""
        if max_side < 1:
            raise ValueError(f"bad thumbnail size {max_side!r}: expected at least 1 pixel")
        picture = _to_pil(image)
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return self.put_image(np.asarray(picture), kind=THUMBNAIL_KIND, fmt="jpg", quality=85)

    # Reading

    def path(self, key: str) -> Path:
        """The absolute path of a key; anything but a well-formed store key is refused."""
        if (
            not isinstance(key, str)
            or key.startswith("/")
            or "\\" in key
            or ".." in key
            or (match := KEY_PATTERN.fullmatch(key)) is None
            or match["prefix"] != match["sha"][:2]
        ):
            raise VidpipeError(
                f"{key!r} is not a store key",
                detail="expected kind/xx/<64 hex digits>.suffix, like 'originals/3f/3f…9a.jpg'",
            )
        return self.root.joinpath(*key.split("/"))

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise MissingKeyError(f"no stored file for the key {key!r}") from None

    def delete(self, key: str) -> None:
        """Remove a stored file; a key with no file is fine."""
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def url_path(self, key: str) -> str:
        """The key as the POSIX path a web shell serves it under (checked like `path`)."""
        self.path(key)
        return key


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"bad file kind {kind!r}: expected a-z, then a-z, 0-9, '_' or '-', like 'originals'")


def _key(kind: str, sha: str, suffix: str) -> str:
    return f"{kind}/{sha[:2]}/{sha}{suffix}"


def _to_pil(image: np.ndarray[Any, Any]) -> Image.Image:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or 0 in array.shape:
        raise ValueError(f"expected an H×W×3 uint8 RGB image, got shape {array.shape} and dtype {array.dtype}")
    return Image.fromarray(np.ascontiguousarray(array))
