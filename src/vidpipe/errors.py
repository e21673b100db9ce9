"""One error family for everything vidpipe refuses, so shells can show a clean message.

Every message says what was expected and what came instead, and names the input.
"""

from __future__ import annotations

from pathlib import Path


class VidpipeError(Exception):
    """Base of all errors vidpipe raises on purpose. ``status`` is the HTTP status a web shell uses."""

    status: int = 400

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message if not self.detail else f"{self.message} ({self.detail})"


class NotFoundError(VidpipeError):
    """The manifest, asset or job named does not exist."""

    status = 404


class ConflictError(VidpipeError):
    """The request contradicts the current state (a run in progress, a refused correction)."""

    status = 409


class NeedsForceError(VidpipeError):
    """A check refused a correction that the user may still insist on (each shell says how: the
    CLI's ``--force``, the API's ``force`` field, the page's "even if" box)."""


class CancelledError(VidpipeError):
    """A run stopped because the user asked it to."""

    status = 409


class ImageLoadError(VidpipeError):
    """An input file could not be used as an image."""

    status = 422

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"cannot use {str(path)!r} as an image: {reason}")
        self.path = str(path)
        self.reason = reason


class ImageTooLargeError(ImageLoadError):
    """An input file is over a size or pixel limit (the message names the limit)."""

    status = 413


class FileTooLargeError(VidpipeError):
    """A file brought in is over a configured size limit; the message names the file and the limit."""

    status = 413


class ModelMissingError(VidpipeError):
    """A model's weights are not in the model folder."""

    status = 503

    def __init__(self, model: str, filename: str, folder: Path, fix: str) -> None:
        super().__init__(
            f"model {model!r} needs the file {filename!r}, which is not in the model folder {str(folder)!r}; fix: {fix}"
        )
        self.model = model
        self.filename = filename
        self.folder = folder


class ModelError(VidpipeError):
    """A model exists but cannot be used (bad checksum, wrong format, unknown name)."""

    status = 500


class ConfigError(VidpipeError):
    """A setting has a value vidpipe refuses to run with."""


class ConstraintError(VidpipeError):
    """User constraints contradict each other (for example 'same person' and 'not the same person')."""
