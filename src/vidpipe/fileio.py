"""Writing files so that a reader never sees half of one: a temporary file beside the target, renamed."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from vidpipe.errors import VidpipeError


@contextmanager
def temporary_file(folder: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """A new file in ``folder``, open for writing; deleted afterwards unless the caller renamed it away.

    Created with mode 0666 minus the umask, as a plain ``open`` would (``mkstemp`` gives 0600, which
    would leave stored files unreadable to a web server).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{uuid.uuid4().hex}.part"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, path
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_write(target: Path) -> Iterator[IO[bytes]]:
    """Write ``target`` whole or not at all: the new content replaces it only if the block succeeds.

    A target that cannot be written (a folder, no permission, a missing or read-only place) raises
    `VidpipeError` naming it, and leaves nothing behind.
    """
    if target.is_dir():
        raise VidpipeError(f"cannot write {str(target)!r}: it is a folder; give a file name")
    try:
        with temporary_file(target.parent) as (handle, path):
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.replace(path, target)
    except OSError as exc:
        raise VidpipeError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from exc
