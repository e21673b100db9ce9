"""Stored files (uploads, crops, thumbnails, contact sheets, clips), named by the hash of their content.

A file's key is ``{kind}/{sha[:2]}/{sha}{suffix}``, with ``sha`` the SHA-256 of its bytes, so a key always
names the same bytes: storing them again writes nothing, and no upload can overwrite another's file.
Two backends keep them: `FileStore`, a local folder (or a shared volume), and `S3Store` (in
`vidpipe.storage_s3`), a bucket of AWS S3 or an S3-compatible server (MinIO, R2). Callers see only `Store`;
`make_store` picks the backend from the settings.
Keys coming back from outside (a database row, a URL) go through `check_key`, which accepts nothing but
the exact key shape; that is the guard against path traversal, shared by both backends.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from vidpipe.errors import VidpipeError
from vidpipe.fileio import atomic_write, temporary_file

if TYPE_CHECKING:
    from vidpipe.settings import Settings

KIND_PATTERN = re.compile(r"[a-z][a-z0-9_-]*")
SUFFIX_PATTERN = re.compile(r"\.[a-z0-9]{1,5}")
KEY_PATTERN = re.compile(r"(?P<kind>[a-z][a-z0-9_-]*)/(?P<prefix>[0-9a-f]{2})/(?P<sha>[0-9a-f]{64})\.[a-z0-9]{1,5}")

CHUNK_BYTES = 1 << 20
THUMBNAIL_KIND = "thumbnails"
_IMAGE_FORMATS = {"jpg": ("JPEG", ".jpg"), "jpeg": ("JPEG", ".jpg"), "png": ("PNG", ".png"), "webp": ("WEBP", ".webp")}
MEDIA_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "heic": "image/heic",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
}


class MissingKeyError(VidpipeError):
    """A well-formed store key with no file behind it."""

    status = 404


class StoreUnavailableError(VidpipeError):
    """The store could not be reached or refused the request (credentials, bucket, network)."""

    status = 503


def check_key(key: str) -> str:
    """``key`` itself if it is a well-formed store key; anything else is refused (no path of its own)."""
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
    return key


def sha_of(key: str) -> str:
    """The SHA-256 a store key names."""
    match = KEY_PATTERN.fullmatch(check_key(key))
    assert match is not None  # check_key refused anything else
    return match["sha"]


def media_type(key: str) -> str:
    """The MIME type a key's suffix stands for; ``application/octet-stream`` when unknown."""
    return MEDIA_TYPES.get(key.rpartition(".")[2], "application/octet-stream")


class Store(abc.ABC):
    """What callers may do with stored files, whichever backend keeps them.

    Writing the same bytes twice gives the same key and writes nothing the second time. Reading a
    well-formed key with nothing behind it raises `MissingKeyError`; a malformed key, `VidpipeError`.
    """

    # Writing

    @abc.abstractmethod
    def put_bytes(self, data: bytes, *, kind: str, suffix: str) -> str:
        """Store ``data`` and return its key; if the same bytes are stored already, nothing is written."""

    @abc.abstractmethod
    def put_file(self, path: Path, *, kind: str) -> tuple[str, str, int]:
        """Copy a file into the store in chunks, hashing as it goes; return (key, sha256, size in bytes).

        The suffix is the file's own, lower-cased, when it is 1 to 5 of a-z, 0-9; otherwise ``.bin``.
        The file's name plays no other part in the key.
        """

    def put_image(self, image: np.ndarray[Any, Any], *, kind: str, fmt: str = "jpg", quality: int = 92) -> str:
        """Encode an H×W×3 uint8 RGB array as JPEG, PNG or WebP and store it; the same pixels give the same key."""
        check_kind(kind)
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

    def thumbnail(self, image: np.ndarray[Any, Any], *, max_side: int = 256) -> str:
        """Store a JPEG no larger than ``max_side`` on its longer side (aspect kept, never enlarged)."""
        if max_side < 1:
            raise ValueError(f"bad thumbnail size {max_side!r}: expected at least 1 pixel")
        picture = _to_pil(image)
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return self.put_image(np.asarray(picture), kind=THUMBNAIL_KIND, fmt="jpg", quality=85)

    # Reading

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def size(self, key: str) -> int:
        """The stored file's size in bytes."""

    @abc.abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abc.abstractmethod
    def iter_bytes(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The file's bytes from ``start`` up to ``end`` (exclusive; None: its end), in chunks, without
        holding the whole file. The key is checked and the file looked up before the first chunk is asked for."""

    @abc.abstractmethod
    def local_copy(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A local path holding the file for the block (for readers that want a path, like video decoding):
        the stored file itself, or a temporary download removed afterwards. Do not write to it."""

    @abc.abstractmethod
    def presigned_url(self, key: str, seconds: int) -> str | None:
        """An address that serves the file to anyone for ``seconds``, or None where the backend has none."""

    def url_path(self, key: str) -> str:
        """The key as the POSIX path a web shell serves it under (checked like every key)."""
        return check_key(key)

    # Removing

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove a stored file; a key with no file is fine."""


class FileStore(Store):
    """Content-addressed files under one root folder (local, or a volume shared by several machines)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"

    def put_bytes(self, data: bytes, *, kind: str, suffix: str) -> str:
        check_kind(kind)
        key = key_of(kind, hashlib.sha256(data).hexdigest(), check_suffix(suffix))
        target = self.path(key)
        if target.exists():
            return key
        with atomic_write(target) as handle:
            handle.write(data)
        return key

    def put_file(self, path: Path, *, kind: str) -> tuple[str, str, int]:
        check_kind(kind)
        suffix = suffix_of(path)
        staging = self.root / kind
        with open_source(path) as source:
            staging.mkdir(parents=True, exist_ok=True)
            # One pass: the copy is written while it is hashed, into a temporary file on the store's own
            # file system, and renamed into its folder once the hash (and so the key) is known.
            with temporary_file(staging) as (handle, tmp_path):
                sha, size = copy_hashing(source, handle)
                handle.close()
                key = key_of(kind, sha, suffix)
                target = self.path(key)
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp_path, target)
        return key, sha, size

    def path(self, key: str) -> Path:
        """The absolute path of a key (this backend only); anything but a well-formed store key is refused."""
        return self.root.joinpath(*check_key(key).split("/"))

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise missing_key(key) from None

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise missing_key(key) from None

    def iter_bytes(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            source = open(self.path(key), "rb")  # noqa: SIM115 - closed by the generator below
        except FileNotFoundError:
            raise missing_key(key) from None
        return _chunks(source, start, end)

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise missing_key(key)
        yield path

    def presigned_url(self, key: str, seconds: int) -> str | None:
        check_key(key)
        return None

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()


def make_store(settings: Settings) -> Store:
    """The store the settings choose: the local folder ``data_dir/files``, or an S3-compatible bucket."""
    config = settings.store
    if config.backend == "s3":
        # Imported here: boto3 takes a while to import, and the local backend never needs it.
        from vidpipe.storage_s3 import S3Store

        return S3Store.from_settings(config)
    return FileStore(settings.data_dir / "files")


# Helpers both backends share


def check_kind(kind: str) -> str:
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"bad file kind {kind!r}: expected a-z, then a-z, 0-9, '_' or '-', like 'originals'")
    return kind


def check_suffix(suffix: str) -> str:
    if not isinstance(suffix, str) or not SUFFIX_PATTERN.fullmatch(suffix):
        raise ValueError(f"bad file suffix {suffix!r}: expected a dot and 1 to 5 of a-z, 0-9, like '.jpg'")
    return suffix


def suffix_of(path: Path) -> str:
    """The stored suffix of a file brought in: its own, lower-cased, if it is 1 to 5 of a-z, 0-9; else ``.bin``."""
    body = Path(path).suffix.lower()[1:]
    return f".{body}" if re.fullmatch(r"[a-z0-9]{1,5}", body) else ".bin"


def open_source(path: Path) -> IO[bytes]:
    """``path`` opened for reading, or a `VidpipeError` naming it and saying why not."""
    try:
        return open(path, "rb")  # the caller closes it
    except FileNotFoundError:
        raise VidpipeError(f"cannot store {str(path)!r}: no such file") from None
    except IsADirectoryError:
        raise VidpipeError(f"cannot store {str(path)!r}: is a directory") from None
    except OSError as exc:
        raise VidpipeError(f"cannot store {str(path)!r}: {exc.strerror or exc}") from None


def copy_hashing(source: IO[bytes], target: IO[bytes]) -> tuple[str, int]:
    """Copy ``source`` to ``target`` in chunks; return the SHA-256 of what was copied and its size."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK_BYTES):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def key_of(kind: str, sha: str, suffix: str) -> str:
    return f"{kind}/{sha[:2]}/{sha}{suffix}"


def missing_key(key: str) -> MissingKeyError:
    return MissingKeyError(f"no stored file for the key {key!r}")


def _chunks(source: IO[bytes], start: int, end: int | None) -> Iterator[bytes]:
    with source:
        source.seek(start)
        left = None if end is None else max(end - start, 0)
        while left is None or left > 0:
            chunk = source.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


def _to_pil(image: np.ndarray[Any, Any]) -> Image.Image:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or 0 in array.shape:
        raise ValueError(f"expected an H×W×3 uint8 RGB image, got shape {array.shape} and dtype {array.dtype}")
    return Image.fromarray(np.ascontiguousarray(array))
