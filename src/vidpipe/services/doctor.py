"""What vidpipe needs on this machine, and whether it is there and works.

Read-only: nothing is downloaded, migrated or written (but one probe file in the data folder).
"""

from __future__ import annotations

import importlib.util
import shutil
import uuid
from dataclasses import dataclass

from vidpipe.settings import Settings

# Below this much free space in the data folder a run may fail to store its crops.
LOW_SPACE_BYTES = 1 << 30


@dataclass(frozen=True)
class Check:
    area: str  # "model", "library", "database", "data folder", "jobs", "describer"
    name: str
    ok: bool
    detail: str
    required: bool = True  # needed by the default main job; a failed optional check is a warning


@dataclass(frozen=True)
class Diagnosis:
    checks: tuple[Check, ...]

    @property
    def main_job_can_run(self) -> bool:
        return all(c.ok for c in self.checks if c.required)


def diagnose(settings: Settings) -> Diagnosis:
    return Diagnosis(
        (
            *_models(settings),
            *_libraries(settings),
            _database(settings),
            _data_folder(settings),
            _jobs(settings),
            *_describers(settings),
        )
    )


def _models(settings: Settings) -> list[Check]:
    from vidpipe.inference.defaults import default_models, load_model
    from vidpipe.inference.store import ModelStore, how_to_obtain

    store = ModelStore(settings.model_dir, settings.model_mirror_url)
    checks = []
    for spec in default_models(settings):
        problems = []
        for result in store.check(spec):
            if not result.state.usable:
                fix = how_to_obtain(spec, result.file)
                problems.append(
                    f"{result.file.name}: {result.state.value}{': ' + result.detail if result.detail else ''}; {fix}"
                )
        if not problems:
            try:
                load_model(spec, settings)
            except Exception as exc:  # whatever stops the model loading is what the user must read
                problems.append(f"does not load: {exc}")
        detail = "; ".join(problems) or f"present, verified, loads ({spec.licence})"
        checks.append(Check("model", spec.name, not problems, detail))
    return checks


def _libraries(settings: Settings) -> list[Check]:
    from vidpipe.inference.specs import get_spec

    def found(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    dlib_needed = get_spec(settings.vision.face_embedder).backend == "dlib"
    return [
        Check(
            "library",
            "dlib",
            found("dlib") or not dlib_needed,
            "importable" if found("dlib") else "missing: `pip install 'vidpipe[dlib]'`",
            required=dlib_needed,
        ),
        Check(
            "library",
            "OCR (rapidocr)",
            found("rapidocr_onnxruntime"),
            "importable: descriptions include lettering"
            if found("rapidocr_onnxruntime")
            else "missing (optional): see the README's OCR line",
            required=False,
        ),
        Check(
            "library",
            "tflite2onnx",
            found("tflite2onnx"),
            "importable: `models pull` can convert the Coral MobileNets"
            if found("tflite2onnx")
            else "missing (optional; needed to pull the MobileNets): `pip install 'vidpipe[convert]'`",
            required=False,
        ),
    ]


def _database(settings: Settings) -> Check:
    from sqlalchemy import text

    from vidpipe.db.engine import make_engine
    from vidpipe.db.migrate import is_current

    url = settings.resolved_database_url
    shown = url.split("@")[-1] if "@" in url else url  # never a password
    try:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            current = is_current(engine)
        finally:
            engine.dispose()
    except Exception as exc:  # the driver's own error says why (refused, no such database...)
        return Check("database", shown, False, f"not reachable: {str(exc).splitlines()[0]}")
    return Check(
        "database", shown, True, "reachable, schema current" if current else "reachable; migrated on first use"
    )


def _data_folder(settings: Settings) -> Check:
    folder = settings.data_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".doctor-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return Check("data folder", str(folder), False, f"not writable: {exc.strerror or exc}")
    detail = f"writable, {free / 1e9:.1f} GB free"
    if free < LOW_SPACE_BYTES:
        return Check("data folder", str(folder), False, detail + " (under 1 GB)", required=False)
    return Check("data folder", str(folder), True, detail)


def _jobs(settings: Settings) -> Check:
    jobs = settings.jobs
    return Check(
        "jobs",
        "runner",
        True,
        f"embedded thread pool ({jobs.workers} worker(s)), lease {jobs.lease_seconds:g} s; "
        "no Redis or worker backend configured",
    )


def _describers(settings: Settings) -> list[Check]:
    from vidpipe.describe.chain import gemini_api_key, openai_api_key

    checks = []
    for name in settings.describe.providers:
        if name == "offline":
            checks.append(Check("describer", name, True, "always available", required=False))
        elif name == "gemini":
            gemini = settings.describe.gemini
            how = (
                "Vertex AI project set" if gemini.vertex_project else "API key set" if gemini_api_key(settings) else ""
            )
            checks.append(
                Check("describer", name, bool(how), how or "not configured (no key): skipped", required=False)
            )
        else:
            compat = settings.describe.openai
            how = "base URL set" if compat.base_url else "API key set" if openai_api_key(settings) else ""
            checks.append(
                Check(
                    "describer", name, bool(how), how or "not configured (no key or base URL): skipped", required=False
                )
            )
    # The main job needs one describer that works: any configured one will do.
    any_ready = any(c.ok for c in checks)
    checks.append(
        Check(
            "describer",
            "chain",
            any_ready,
            "at least one configured" if any_ready else "none of the providers is configured; add 'offline'",
        )
    )
    return checks
