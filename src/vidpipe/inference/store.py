"""Where model files live: resolving, verifying, downloading and converting them.

Nothing here downloads unless ``pull`` is called explicitly (the ``vidpipe models pull`` command).
A file is looked for in the model folder, then in the Python package that ships it. Pulling tries a
mirror first (``VIDPIPE_MODEL_MIRROR_URL``: studios mirror model files internally), then the public
addresses; a file published only in another format is made from its official source file, verified
by that file's sha256, converted locally, and verified by its output on a fixed input.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from vidpipe.errors import ModelError, ModelMissingError
from vidpipe.fileio import temporary_file
from vidpipe.inference.specs import ModelFile, ModelSpec, OutputCheck

PULL_FIX = "run `vidpipe models pull --defaults` (or `vidpipe doctor` to see what is missing)"

ProgressCallback = Callable[[int, int | None], None]
"""Called with (bytes so far, total bytes or None)."""


class FileState(StrEnum):
    PRESENT = "present"
    CONVERTED = "present (converted here, output verified)"
    MISSING = "missing"
    BAD_CHECKSUM = "bad checksum"
    BAD_OUTPUT = "wrong output"
    UNVERIFIED = "present (no checksum known)"

    @property
    def usable(self) -> bool:
        return self in (FileState.PRESENT, FileState.CONVERTED, FileState.UNVERIFIED)


@dataclass(frozen=True)
class FileCheck:
    file: ModelFile
    path: Path | None
    state: FileState
    actual_sha256: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class PullResult:
    file: ModelFile
    path: Path
    action: str  # "present", "downloaded" or "converted"
    source: str | None = None  # the address it came from
    bytes_fetched: int = 0
    seconds: float = 0.0


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def output_mismatch(path: Path, check: OutputCheck) -> str | None:
    """Run the ONNX model at ``path`` on the check's fixed input; None if its output matches the
    reference, else what differs."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
        return f"onnxruntime cannot load it: {exc}"
    rng = np.random.default_rng(check.seed)
    x = (rng.integers(0, 256, check.input_shape).astype(np.float32) - check.offset) * check.scale
    try:
        output = np.asarray(session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0])
    except Exception as exc:
        return f"it does not run on a {list(check.input_shape)} input: {exc}"
    flat = output.astype(np.float64).ravel()
    for index, value in check.top_values:
        if index >= flat.size or abs(flat[index] - value) > check.tolerance * max(1.0, abs(value)):
            got = flat[index] if index < flat.size else "nothing"
            return f"output[{index}] is {got}, expected {value}"
    norm = float(np.linalg.norm(flat))
    if abs(norm - check.l2_norm) > check.tolerance * max(1.0, check.l2_norm):
        return f"output norm is {norm:.6g}, expected {check.l2_norm:.6g}"
    return None


def _package_dir(package: str) -> Path | None:
    # find_spec locates the package without importing it: face_recognition_models' __init__
    # imports pkg_resources, which newer setuptools no longer ships.
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


class ModelStore:
    """The model folder, plus files that Python packages ship."""

    def __init__(self, folder: Path, mirror_url: str | None = None) -> None:
        self.folder = Path(folder)
        self.mirror_url = mirror_url.rstrip("/") if mirror_url else None

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
            raise ModelMissingError(spec.name, wanted.name, self.folder, how_to_obtain(spec, wanted))
        return found

    def paths(self, spec: ModelSpec) -> list[Path]:
        return [self.path(spec, f) for f in spec.files]

    def is_present(self, spec: ModelSpec) -> bool:
        return all(self.locate(f) is not None for f in spec.files)

    def verify(self, file: ModelFile, path: Path) -> FileCheck:
        """Whether the file at ``path`` is the right one: by its checksum, or for a file converted
        here (whose bytes depend on the converter's version) by its output on a fixed input."""
        if file.sha256 is None and file.conversion is None:
            return FileCheck(file, path, FileState.UNVERIFIED)
        actual = sha256_of(path)
        if actual == file.sha256:
            return FileCheck(file, path, FileState.PRESENT, actual)
        if file.conversion is not None:
            mismatch = output_mismatch(path, file.conversion.check)
            if mismatch is None:
                return FileCheck(file, path, FileState.CONVERTED, actual)
            return FileCheck(file, path, FileState.BAD_OUTPUT, actual, mismatch)
        return FileCheck(file, path, FileState.BAD_CHECKSUM, actual)

    def check(self, spec: ModelSpec) -> list[FileCheck]:
        """Verify each of the spec's files that is present."""
        results = []
        for file in spec.files:
            path = self.locate(file)
            results.append(FileCheck(file, None, FileState.MISSING) if path is None else self.verify(file, path))
        return results

    # --------------------------------------------------------------------------------- pulling

    def pull(
        self,
        spec: ModelSpec,
        *,
        progress: Callable[[ModelFile], ProgressCallback] | None = None,
        force: bool = False,
        timeout_seconds: float = 60.0,
    ) -> list[PullResult]:
        """Bring each of the spec's files into the model folder unless a valid one is there.

        Addresses are tried in order: the mirror, then the public ones; a file with a conversion is
        then made from its source. Every file is written under a temporary name and renamed only
        once verified, so an interrupted, corrupt or mismatching download or conversion never
        leaves a file that looks valid.
        """
        results = []
        for file in spec.files:
            found = None if force else self.locate(file)
            if found is not None:
                state = self.verify(file, found)
                if state.state.usable:
                    results.append(PullResult(file, found, "present"))
                    continue
            results.append(self._obtain(spec, file, progress(file) if progress else None, timeout_seconds))
        return results

    def _addresses(self, file: ModelFile) -> list[str]:
        mirrored = [f"{self.mirror_url}/{file.name}"] if self.mirror_url else []
        return [*mirrored, *file.urls]

    def _obtain(
        self, spec: ModelSpec, file: ModelFile, progress: ProgressCallback | None, timeout_seconds: float
    ) -> PullResult:
        target = self.folder / file.name
        errors: list[str] = []
        start = time.perf_counter()
        for url in self._addresses(file):
            try:
                fetched = self._download(url, target, file, progress, timeout_seconds)
                return PullResult(file, target, "downloaded", url, fetched, time.perf_counter() - start)
            except (httpx.HTTPError, ModelError, OSError) as exc:
                errors.append(f"{url}: {exc}")
        if file.conversion is not None:
            try:
                url, fetched = self._convert(spec, file, progress, timeout_seconds)
                return PullResult(file, target, "converted", url, fetched, time.perf_counter() - start)
            except ModelError as exc:
                errors.append(str(exc))
        if not errors:
            raise ModelError(
                f"model {spec.name!r}: no download address is known for {file.name!r}; {how_to_obtain(spec, file)}"
            )
        raise ModelError(f"model {spec.name!r}: could not obtain {file.name!r}: " + "; ".join(errors))

    def _download(
        self, url: str, target: Path, file: ModelFile, progress: ProgressCallback | None, timeout_seconds: float
    ) -> int:
        """Fetch ``url`` into ``target`` if it verifies (checksum, or output for a converted file)."""
        with temporary_file(target.parent) as (out, temp):
            done = _fetch(url, out, progress, timeout_seconds)
            out.close()
            check = self.verify(file, temp)
            if not check.state.usable:
                raise ModelError(
                    f"the file does not verify ({check.state.value}"
                    + (f": {check.detail}" if check.detail else f", sha256 {check.actual_sha256}")
                    + ")"
                )
            os.replace(temp, target)
        return done

    def _convert(
        self, spec: ModelSpec, file: ModelFile, progress: ProgressCallback | None, timeout_seconds: float
    ) -> tuple[str, int]:
        """Make ``file`` from its official source: fetch the source (verified by its sha256),
        convert it, verify the output, then put it in place. Returns the source's address and the
        bytes fetched."""
        conversion = file.conversion
        assert conversion is not None
        converter = _converter(conversion.tool, spec.name)
        source = conversion.source
        errors = []
        with tempfile.TemporaryDirectory(prefix="vidpipe-convert-") as work:
            source_path = Path(work) / Path(source.name).name
            fetched, used = 0, ""
            for url in self._addresses(source):
                try:
                    with source_path.open("wb") as out:
                        fetched = _fetch(url, out, progress, timeout_seconds)
                    if sha256_of(source_path) != source.sha256:
                        raise ModelError(f"the source file's sha256 is {sha256_of(source_path)}, not {source.sha256}")
                    used = url
                    break
                except (httpx.HTTPError, ModelError, OSError) as exc:
                    errors.append(f"{url}: {exc}")
            else:
                raise ModelError(f"its source {source.name!r} could not be fetched: " + "; ".join(errors))
            # The converter writes a path of its own; the result enters the model folder only
            # after it is verified, through a temporary file renamed into place.
            converted = Path(work) / Path(file.name).name
            try:
                converter(str(source_path), str(converted))
            except Exception as exc:  # the converter raises whatever its parser hits
                raise ModelError(f"model {spec.name!r}: {conversion.tool} failed on {source.name}: {exc}") from exc
            mismatch = output_mismatch(converted, conversion.check)
            if mismatch is not None:
                raise ModelError(
                    f"model {spec.name!r}: the conversion of {source.name} does not give the reference output "
                    f"({mismatch}); nothing was written"
                )
            target = self.folder / file.name
            with temporary_file(target.parent) as (out, temp), converted.open("rb") as made:
                shutil.copyfileobj(made, out)
                out.close()
                os.replace(temp, target)
        return used, fetched


def _fetch(url: str, out: Any, progress: ProgressCallback | None, timeout_seconds: float) -> int:
    done = 0
    with httpx.stream("GET", url, follow_redirects=True, timeout=timeout_seconds) as response:
        response.raise_for_status()
        total = int(response.headers["content-length"]) if "content-length" in response.headers else None
        for chunk in response.iter_bytes(1 << 20):
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return done


def _converter(tool: str, model: str) -> Callable[[str, str], None]:
    if tool != "tflite2onnx":
        raise ModelError(f"model {model!r}: unknown converter {tool!r}")
    try:
        import tflite2onnx
    except ImportError:
        raise ModelError(
            f"model {model!r} is converted locally from TFLite and needs tflite2onnx: "
            "`pip install 'vidpipe[convert]'` (or `pip install tflite2onnx`)"
        ) from None
    convert: Callable[[str, str], None] = tflite2onnx.convert
    return convert


def how_to_obtain(spec: ModelSpec, file: ModelFile) -> str:
    """How a user gets this file: the command, or where to bring it from."""
    ways = []
    if file.urls or file.conversion is not None:
        ways.append(PULL_FIX)
    if file.package:
        ways.append(f"`pip install {file.package.replace('_', '-')}`")
    if not ways:
        ways.append(f"copy {file.name} ({spec.source}; licence {spec.licence}) into the model folder")
    return " or ".join(ways) + " (the folder is VIDPIPE_MODEL_DIR)"
