"""What routes take from the app: the application context, and URLs for stored files."""

from __future__ import annotations

from fastapi import Request

from vidpipe.app import AppContext


async def get_ctx(request: Request) -> AppContext:
    # async: a plain function would cost every request a hop through the thread pool.
    ctx: AppContext = request.app.state.ctx
    return ctx


def file_url(key: str) -> str:
    """Where a stored file is served: by its content key, which the store checks on the way in."""
    return f"/files/{key}"
