"""``vidpipe serve``: the web app and its API on the embedded defaults (SQLite, local files) or
whatever the settings name.

Runs go to a worker process (`vidpipe jobs work`) started beside the server, so that the models never
compete with the event loop for the interpreter: pages and progress stay quick while a run goes on.
`--no-worker` runs them on the server's own threads instead.
"""

from __future__ import annotations

import os
import subprocess
import sys

import typer

from vidpipe.cli.common import err_console, open_app

# The worker beside the server looks for queued runs this often (seconds): a run starts promptly.
WORKER_SWEEP_SECONDS = "0.5"


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on"),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Run jobs in a worker process beside the server"),
) -> None:
    """Run the API (OpenAPI at /docs) and the pages; stale runs are recovered on start."""
    import uvicorn

    from vidpipe.api.app import create_app

    ctx = open_app()
    child = None
    if worker:
        ctx.queue_only = True
        env = {**os.environ, "VIDPIPE_JOBS__SWEEP_SECONDS": WORKER_SWEEP_SECONDS}
        child = subprocess.Popen(
            [sys.executable, "-m", "vidpipe", "jobs", "work", "--parent", str(os.getpid())], env=env
        )
    err_console.print(
        f"vidpipe on http://{host}:{port}/ (API docs at /docs), registry {ctx.settings.resolved_database_url}"
        + (f", worker process {child.pid}" if child else "")
    )
    try:
        uvicorn.run(create_app(ctx), host=host, port=port, log_level="warning")
    finally:
        if child is not None:
            child.terminate()  # the worker hands running jobs back to the queue and stops
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        ctx.close()
