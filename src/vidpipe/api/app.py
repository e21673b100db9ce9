"""The FastAPI application: the engine behind HTTP, with the job runner serving in the background.

CPU-heavy work never runs on the event loop: runs go to the runner's threads, and the synchronous
route functions run in FastAPI's thread pool. On start-up the runner recovers stale jobs and picks up
queued ones (`EmbeddedRunner.serve`), behind the runner interface a distributed backend can replace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from vidpipe import __version__
from vidpipe.api.middleware import ServerTiming, TokenForWrites
from vidpipe.api.routes import assets, files, jobs, manifests, projects
from vidpipe.api.schemas import HealthOut
from vidpipe.app import AppContext
from vidpipe.errors import NeedsForceError, VidpipeError
from vidpipe.services.health import check_health
from vidpipe.web import pages
from vidpipe.web.pages import page


def _error(status: int, error: str, detail: str | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def create_app(ctx: AppContext, *, serve_jobs: bool = True) -> FastAPI:
    """The app over ``ctx``. With ``serve_jobs`` the runner sweeps for queued and stale jobs."""

    # In the dramatiq backend, `vidpipe worker` processes run the jobs; this process only sends them.
    runs_jobs_here = serve_jobs and not ctx.queue_only and ctx.settings.jobs.backend == "embedded"

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if runs_jobs_here:
            ctx.runner.serve()
        yield
        if runs_jobs_here:
            ctx.runner.close(release=True)  # running jobs go back to the queue for the next start

    app = FastAPI(
        title="vidpipe",
        version=__version__,
        description="Asset Registry for AI video production: manifests, photos, runs, assets.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    api = ctx.settings.api

    # The last added runs first: CORS outermost, so refusals carry its headers too; the timing
    # covers the token check and everything after it.
    app.add_middleware(TokenForWrites, token=api.token)
    app.add_middleware(ServerTiming)
    if api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=api.cors_origins, allow_methods=["*"], allow_headers=["*"])

    @app.exception_handler(VidpipeError)
    async def vidpipe_error(request: Request, exc: VidpipeError) -> Response:
        if _wants_page(request):
            return page(request, "error.html", status=exc.status, message=str(exc))
        if isinstance(exc, NeedsForceError) and exc.detail is None:
            return _error(exc.status, exc.message, "send the request again with force set to true to do it anyway")
        return _error(exc.status, exc.message, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(422, "the request is not valid", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.get(
        "/api/health",
        response_model=HealthOut,
        tags=["health"],
        responses={503: {"model": HealthOut, "description": "The database or the broker is down"}},
    )
    def health(response: Response) -> HealthOut:
        found = check_health(ctx)
        if not found.ok:
            response.status_code = 503
        return HealthOut(
            status="ok" if found.ok else "unavailable",
            version=found.version,
            database=found.database["dialect"],
            database_ok=bool(found.database.get("ok")),
            jobs_backend=found.jobs_backend,
            broker=found.broker,
            problems=found.problems,
            notes=found.notes,
        )

    for router in (manifests.router, jobs.router, assets.router, projects.router, files.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
    return app


def _wants_page(request: Request) -> bool:
    # The pages' own errors read as a page; the API's stay JSON.
    path = request.url.path
    return not path.startswith(("/api/", "/files/")) and "text/html" in request.headers.get("accept", "")
