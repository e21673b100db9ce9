"""``vidpipe serve``: the web app and its API on the embedded defaults (SQLite, local files, the
in-process job runner), or whatever the settings name."""

from __future__ import annotations

import typer

from vidpipe.cli.common import err_console, open_app


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on"),
) -> None:
    """Run the API (OpenAPI at /docs) with the job runner; stale runs are recovered on start."""
    import uvicorn

    from vidpipe.api.app import create_app

    ctx = open_app()
    err_console.print(
        f"vidpipe on http://{host}:{port}/ (API docs at /docs), registry {ctx.settings.resolved_database_url}"
    )
    try:
        uvicorn.run(create_app(ctx), host=host, port=port, log_level="warning")
    finally:
        ctx.close()
