"""A file cache of remote descriptions, so describing the same crop again does not pay for it twice.

A description is stored under a key made of everything that decides the answer: the SHA-256 of the
image bytes the model is sent, the provider, the model, the prompt version and the SHA-256 of the
prompt text itself (which carries the asset type and the user's name for it). Change any of them and
the old entry is simply not found. Entries are one JSON file each, written atomically, so a crash
mid-write leaves either the old entry or none, and two processes can share the folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from pydantic import ValidationError

from vidpipe.describe.describer import Description
from vidpipe.fileio import atomic_write

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the entry layout changes; old entries then stop matching


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def cache_key(*, image_sha256: str, provider: str, model: str, prompt_version: str, prompt_sha256: str) -> str:
    """A hex key for one (image, provider, model, prompt) combination."""
    parts = (str(CACHE_FORMAT), image_sha256, provider, model, prompt_version, prompt_sha256)
    # NUL cannot occur in any part, so no two different tuples join to the same text.
    return sha256_hex("\0".join(parts))


class DescribeCache:
    """Descriptions stored as ``<folder>/<key[:2]>/<key>.json``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"a describe cache key is 64 lower-case hex digits, got {key!r}")
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Description | None:
        """The stored description, or None when there is none or it cannot be read (then it is rewritten)."""
        path = self._path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("describe cache: cannot read %s (%s); describing again", path, exc.strerror or exc)
            return None
        try:
            return Description.model_validate_json(text)
        except ValidationError as exc:
            logger.warning(
                "describe cache: %s is not a valid entry (%d errors); describing again", path, exc.error_count()
            )
            return None

    def put(self, key: str, description: Description) -> None:
        """Store ``description`` under ``key``, replacing any entry there."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            handle.write(json.dumps(description.model_dump(mode="json"), ensure_ascii=False).encode("utf-8"))
