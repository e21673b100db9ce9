"""Plain ASGI middleware: what every answer carries, and the token every write needs.

Written against ASGI directly rather than with ``@app.middleware("http")``: that wrapper runs each
request through extra tasks and memory streams, which on a busy small machine was most of the cost
of answering a progress poll.
"""

from __future__ import annotations

import hmac
import time

from pydantic import SecretStr
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

READS = frozenset({"GET", "HEAD", "OPTIONS"})


class ServerTiming:
    """`Server-Timing: app;dur=…` on every answer: the app's own time to its first byte, so clients
    and load tests can tell it from the network and their own queueing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = 1000 * (time.perf_counter() - start)
                MutableHeaders(scope=message).append("Server-Timing", f"app;dur={elapsed:.2f}")
            await send(message)

        await self.app(scope, receive, timed)


class TokenForWrites:
    """Reads stay open; when a token is set, every write must bring it as `Authorization: Bearer`."""

    def __init__(self, app: ASGIApp, token: SecretStr | None) -> None:
        self.app = app
        self.expected = None if token is None else f"Bearer {token.get_secret_value()}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.expected is not None and scope["method"] not in READS:
            given = Headers(scope=scope).get("authorization", "").encode()
            if not hmac.compare_digest(given, self.expected):
                refusal = JSONResponse(
                    {
                        "error": "this server needs an API token for writes",
                        "detail": "send Authorization: Bearer TOKEN",
                    },
                    status_code=401,
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
