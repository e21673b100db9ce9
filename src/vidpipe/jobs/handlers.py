"""What each kind of job does, and what its failure means for the thing it works on."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from vidpipe.db.repositories import jobs as jobs_repo
from vidpipe.db.repositories import manifests as manifests_repo
from vidpipe.domain.enums import ClipStatus, ManifestStatus
from vidpipe.errors import VidpipeError
from vidpipe.jobs.progress import LOST, JobStoppedError, JobTracker

if TYPE_CHECKING:
    from vidpipe.app import AppContext

MANIFEST_PROCESS = "manifest.process"
CLIP_ANALYZE = "clip.analyze"
MANIFEST_PHOTOS = "manifest.photos"  # a part of a split manifest run (jobs.split)


class StepFailedError(VidpipeError):
    """A run failed in one of its steps; the message names the step and the reason."""

    def __init__(self, step: str, exc: Exception) -> None:
        super().__init__(f"step {step!r} failed: {exc}")
        self.step = step


class JobHandler(Protocol):
    kind: str

    def run(self, ctx: AppContext, target_id: uuid.UUID, params: dict[str, Any], tracker: JobTracker) -> None:
        """Do the work; success is committed through ``tracker.commit`` with the work's own writes."""

    def failure_message(self, exc: BaseException) -> str:
        """What the user reads about a failure (which step, why)."""

    def settle(self, session: Session, target_id: uuid.UUID, message: str) -> None:
        """The job ended without success (failed, cancelled, interrupted): release its target."""


class ManifestProcess:
    """``manifest.process``: a manifesting run. Params: describers (list or None), force_describe."""

    kind = MANIFEST_PROCESS

    def run(self, ctx: AppContext, target_id: uuid.UUID, params: dict[str, Any], tracker: JobTracker) -> None:
        from vidpipe.jobs.split import fan_out, should_split
        from vidpipe.pipeline.manifesting import ManifestRunner

        with ctx.factory() as session:
            photos = manifests_repo.get_manifest(session, target_id).upload_count
        # In the dramatiq backend a big manifest's per-photo work is split across workers.
        split = should_split(ctx, photos)
        try:
            # Models and describers are made here, inside the job: a failure is the run's "prepare" step.
            runner = ManifestRunner(
                ctx.factory,
                ctx.store,
                ctx.toolkit(),
                ctx.describer(params.get("describers"), force=bool(params.get("force_describe"))),
                analyze_all=(lambda refs: fan_out(ctx, tracker, refs)) if split else None,
            )
        except Exception as exc:
            raise StepFailedError("prepare", exc) from exc
        try:
            runner.run(target_id, tracker)
        except JobStoppedError:
            raise
        except Exception as exc:
            raise StepFailedError(runner.failed_step, exc) from exc

    def failure_message(self, exc: BaseException) -> str:
        return str(exc) if isinstance(exc, StepFailedError) else f"{type(exc).__name__}: {exc}"

    def settle(self, session: Session, target_id: uuid.UUID, message: str) -> None:
        manifests_repo.move_status(session, target_id, (ManifestStatus.PROCESSING,), ManifestStatus.ERROR, message)


class ClipAnalyze:
    """``clip.analyze``: a clip against its project's registry. Params: expect (tags, or None for the scene's)."""

    kind = CLIP_ANALYZE

    def run(self, ctx: AppContext, target_id: uuid.UUID, params: dict[str, Any], tracker: JobTracker) -> None:
        from vidpipe.pipeline.clip_analysis import ClipAnalysisRunner

        try:
            runner = ClipAnalysisRunner(
                ctx.factory, ctx.store, ctx.toolkit(), ctx.settings.cv_analysis, ctx.settings.max_upload_bytes
            )
        except Exception as exc:
            raise StepFailedError("prepare", exc) from exc
        try:
            runner.run(target_id, params, tracker)
        except JobStoppedError:
            raise
        except VidpipeError as exc:
            # A bad clip or a registry that is not ready: the user reads the reason as it is.
            raise StepFailedError(runner.failed_step, exc) from exc
        except Exception as exc:
            raise StepFailedError(runner.failed_step, exc) from exc

    def failure_message(self, exc: BaseException) -> str:
        return str(exc) if isinstance(exc, StepFailedError) else f"{type(exc).__name__}: {exc}"

    def settle(self, session: Session, target_id: uuid.UUID, message: str) -> None:
        from vidpipe.db.models import Clip

        clip = session.get(Clip, target_id)
        if clip is not None and clip.status == ClipStatus.ANALYZING:
            clip.status, clip.error = ClipStatus.ERROR, message


class ManifestPhotos:
    """``manifest.photos``: one part of a split manifest run (see `jobs.split`); its target is the
    run's job. Params: refs (the photos, as data). Result: each photo's record key."""

    kind = MANIFEST_PHOTOS

    def run(self, ctx: AppContext, target_id: uuid.UUID, params: dict[str, Any], tracker: JobTracker) -> None:
        from vidpipe.jobs.split import analyze_part, refs_of

        try:
            keys = analyze_part(ctx, refs_of(params), tracker)
        except JobStoppedError:
            raise
        except Exception as exc:
            raise StepFailedError("detect", exc) from exc
        with ctx.transaction() as session:
            if not jobs_repo.set_result(session, tracker.job_id, tracker.owner, {"records": keys}):
                raise JobStoppedError(LOST)
            tracker.commit(session)

    def failure_message(self, exc: BaseException) -> str:
        return str(exc) if isinstance(exc, StepFailedError) else f"{type(exc).__name__}: {exc}"

    def settle(self, session: Session, target_id: uuid.UUID, message: str) -> None:
        """Nothing to release: the run that split it notices and fails or retries."""


HANDLERS: dict[str, JobHandler] = {
    MANIFEST_PROCESS: ManifestProcess(),
    CLIP_ANALYZE: ClipAnalyze(),
    MANIFEST_PHOTOS: ManifestPhotos(),
}


def handler_for(kind: str) -> JobHandler:
    try:
        return HANDLERS[kind]
    except KeyError:
        raise ValueError(f"no handler for job kind {kind!r}; known: {', '.join(HANDLERS)}") from None
