"""Where model files live: resolving, verifying and downloading them.

Nothing here downloads unless ``pull`` is called explicitly (the ``vidpipe models pull`` command).
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx

from vidpipe.errors import ModelError, ModelMissingError
from vidpipe.fileio import atomic_write
from vidpipe.inference.specs import ModelFile, ModelSpec

ProgressCallback = Callable[[int, int | None], None]
"""Called with (bytes so far, total bytes or None)."""


class FileState(StrEnum):
    PRESENT = "present"
    MISSING = "missing"
    BAD_CHECKSUM = "bad checksum"
    UNVERIFIED = "present (no checksum known)"


@dataclass(frozen=True)
class FileCheck:
    file: ModelFile
    path: Path | None
    state: FileState
    actual_sha256: str | None = None


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _package_dir(package: str) -> Path | None:
    # find_spec locates the package without importing it: face_recognition_models' __init__
    # imports pkg_resources, which newer setuptools no longer ships.
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


class ModelStore:
    """The model folder, plus files that Python packages ship."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def locate(self, file: ModelFile) -> Path | None:
        """The file's path in the model folder, else in its package; None if neither has it."""
        direct = self.folder / file.name
        if direct.is_file():
            return direct
        if file.package:
            pkg = _package_dir(file.package)
            if pkg is not None:
                candidate = pkg / file.package_subdir / Path(file.name).name
                if candidate.is_file():
                    return candidate
        return None

    def path(self, spec: ModelSpec, file: ModelFile | None = None) -> Path:
        """Path of one of the spec's files (the first by default), or a ModelMissingError that says the fix."""
        wanted = file or spec.files[0]
        found = self.locate(wanted)
        if found is None:
            if wanted.urls:
                fix = f"run `vidpipe models pull {spec.name}`"
            else:
                fix = f"copy {wanted.name} ({spec.source}) into that folder"
            if wanted.package:
                fix += f", or `pip install {wanted.package.replace('_', '-')}`"
            fix += " (the folder is set by VIDPIPE_MODEL_DIR)"
            raise ModelMissingError(spec.name, wanted.name, self.folder, fix)
        return found

    def paths(self, spec: ModelSpec) -> list[Path]:
        return [self.path(spec, f) for f in spec.files]

    def is_present(self, spec: ModelSpec) -> bool:
        return all(self.locate(f) is not None for f in spec.files)

    def check(self, spec: ModelSpec) -> list[FileCheck]:
        """Checksum each of the spec's files that is present."""
        results = []
        for file in spec.files:
            path = self.locate(file)
            if path is None:
                results.append(FileCheck(file, None, FileState.MISSING))
                continue
            if file.sha256 is None:
                results.append(FileCheck(file, path, FileState.UNVERIFIED))
                continue
            actual = sha256_of(path)
            state = FileState.PRESENT if actual == file.sha256 else FileState.BAD_CHECKSUM
            results.append(FileCheck(file, path, state, actual))
        return results

    def pull(
        self,
        spec: ModelSpec,
        *,
        progress: Callable[[ModelFile], ProgressCallback] | None = None,
        force: bool = False,
        timeout_seconds: float = 60.0,
    ) -> list[Path]:
        """Download the spec's missing files into the model folder, verifying checksums.

        A file is written to a temporary name and renamed only once its checksum matches, so an
        interrupted or corrupt download never leaves a file that looks valid.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        written = []
        for file in spec.files:
            target = self.folder / file.name
            if not force and self.locate(file) is not None:
                written.append(self.locate(file))
                continue
            if not file.urls:
                raise ModelError(
                    f"model {spec.name!r}: no download address is known for {file.name!r}; "
                    f"copy it into {str(self.folder)!r} ({spec.source})"
                )
            errors = []
            for url in file.urls:
                try:
                    self._download(url, target, file, progress(file) if progress else None, timeout_seconds)
                    break
                except (httpx.HTTPError, ModelError, OSError) as exc:
                    errors.append(f"{url}: {exc}")
            else:
                raise ModelError(f"model {spec.name!r}: could not download {file.name!r}: " + "; ".join(errors))
            written.append(target)
        return [p for p in written if p is not None]

    @staticmethod
    def _download(
        url: str, target: Path, file: ModelFile, progress: ProgressCallback | None, timeout_seconds: float
    ) -> None:
        digest = hashlib.sha256()
        # The download replaces the target only when the block completes, i.e. after the checksum.
        with (
            atomic_write(target) as out,
            httpx.stream("GET", url, follow_redirects=True, timeout=timeout_seconds) as response,
        ):
            response.raise_for_status()
            total = int(response.headers["content-length"]) if "content-length" in response.headers else None
            done = 0
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
            if file.sha256 is not None and digest.hexdigest() != file.sha256:
                raise ModelError(f"checksum mismatch: expected {file.sha256}, got {digest.hexdigest()}")
