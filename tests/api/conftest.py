"""What the API tests share: an async HTTP client over the app (no network), on each database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from vidpipe.api.app import create_app
from vidpipe.app import AppContext


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(app_ctx: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    # Jobs go to the context's runner when requested; the app's own lifespan is not needed here.
    app = create_app(app_ctx, serve_jobs=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vidpipe.test") as c:
        yield c
