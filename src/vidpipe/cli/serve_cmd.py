"""``vidpipe serve``: the web app and its API on the embedded defaults (SQLite, local files) or
whatever the settings name.

Runs go to a worker process (`vidpipe jobs work`) started beside the server, so that the models never
compete with the event loop for the interpreter: pages and progress stay quick while a run goes on.
`--no-worker` runs them on the server's own threads instead. In the dramatiq backend
(`VIDPIPE_JOBS__BACKEND=dramatiq`) runs go through Redis to `vidpipe worker` processes started apart.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys

import typer

from vidpipe.cli.common import err_console, open_app
from vidpipe.errors import VidpipeError

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

    listening = _listen(host, port)  # first: a taken port is refused before anything starts
    ctx = open_app()
    child = None
    distributed = ctx.settings.jobs.backend == "dramatiq"
    if worker and not distributed:
        ctx.queue_only = True
        env = {**os.environ, "VIDPIPE_JOBS__SWEEP_SECONDS": WORKER_SWEEP_SECONDS}
        child = subprocess.Popen(
            [sys.executable, "-m", "vidpipe", "jobs", "work", "--parent", str(os.getpid())], env=env
        )
    err_console.print(
        f"vidpipe on http://{host}:{port}/ (API docs at /docs), registry {ctx.settings.resolved_database_url}"
        + (f", worker process {child.pid}" if child else "")
        + (f", jobs sent to `vidpipe worker` processes through {ctx.settings.redis_url}" if distributed else "")
    )
    try:
        server = uvicorn.Server(uvicorn.Config(create_app(ctx), host=host, port=port, log_level="warning"))
        server.run(sockets=[listening])
    finally:
        if child is not None:
            child.terminate()  # the worker hands running jobs back to the queue and stops
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        ctx.close()
        listening.close()


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for the server, or a clear refusal naming what is wrong."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise VidpipeError(f"cannot listen on {host!r}: {exc.strerror}") from None
    listening = socket.socket(family, kind, proto)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind(address)
    except OSError as exc:
        listening.close()
        hint = "another server is using it; stop it or choose another port with --port"
        reason = hint if exc.errno == errno.EADDRINUSE else exc.strerror
        raise VidpipeError(f"cannot listen on {host}:{port}: {reason}") from None
    listening.set_inheritable(True)
    return listening
