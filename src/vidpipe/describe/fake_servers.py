"""Local stand-ins for Gemini's and OpenAI's HTTP APIs, for tests and for ``vidpipe bench describe``.

`FakeVisionServer` listens on a loopback port and speaks one provider's real wire protocol, so the
real SDKs talk to it through their base-URL setting:

* ``gemini``: ``POST /v1beta/models/{model}:generateContent`` with the key in ``x-goog-api-key`` (or
  ``?key=``); answers ``candidates[].content.parts[].text`` and ``usageMetadata``; a wrong key gets
  Gemini's own answer, 400 INVALID_ARGUMENT with reason API_KEY_INVALID; errors carry
  ``google.rpc`` details such as RetryInfo.
* ``openai``: ``POST /v1/chat/completions`` with ``Authorization: Bearer``; answers
  ``choices[].message.content`` and ``usage``; a wrong key gets 401 ``invalid_api_key``, with the key
  echoed in the message (so that tests can check the client never repeats it).

Each request takes the next `FakeReply` from the script (then the default: a valid description after
``latency_seconds``). Every answered request is kept in `received`; `arrived` counts requests as
they come in (a client that timed out is counted before its answer is due), and `max_in_flight` is
the most requests handled at once. Nothing leaves the machine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

Dialect = Literal["gemini", "openai"]

GEMINI_PATH = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^/:]+):generateContent$")
OPENAI_PATH = "/v1/chat/completions"
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class FakeReply:
    """One scripted answer.

    A 200 carries ``text`` as the model's output (None: a valid description of the image sent) with
    the given token counts. Any other status is an error in the dialect's format with ``message``,
    extra ``details`` (Gemini) or ``code`` (OpenAI). ``delay_seconds`` is waited before answering
    (on top of the server's latency).
    """

    status: int = 200
    text: str | None = None
    delay_seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "scripted failure"
    details: tuple[dict[str, Any], ...] = ()
    code: str | None = None
    input_tokens: int = 300
    output_tokens: int = 120


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server saw it. ``headers`` has lower-cased names."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    model: str
    started: float  # time.perf_counter() when it arrived
    finished: float  # when the answer was written (or abandoned)


def default_text(image: bytes, prompt: str) -> str:
    """A valid description that names the image's SHA-256 prefix, so each asset's answer can be told apart."""
    sha = hashlib.sha256(image).hexdigest()[:12]
    named = re.search(r'Name given by the user: "([^"]*)"', prompt)
    return json.dumps(
        {
            "reverse_prompt": f"test subject {sha}, centred, even studio light, sharp focus, eye-level camera",
            "visual_description": f"Test asset {sha}. Keep its colours and shape; the light may vary.",
            "quality_score": 7,
            "suggested_name": named.group(1) if named else f"Subject {sha[:6]}",
        }
    )


def gemini_parts(body: dict[str, Any]) -> tuple[bytes, str]:
    """The inline image bytes and the text of a ``generateContent`` body's user turn."""
    image, texts = b"", []
    for content in body.get("contents", []):
        for part in content.get("parts", []):
            inline = part.get("inlineData") or part.get("inline_data")
            if inline:
                # google-genai sends base64url; the REST docs show plain base64. Accept both.
                image = base64.urlsafe_b64decode(inline["data"].replace("+", "-").replace("/", "_"))
            if "text" in part:
                texts.append(part["text"])
    return image, "\n".join(texts)


def openai_parts(body: dict[str, Any]) -> tuple[bytes, str]:
    """The image bytes (from its data URL) and the text of a chat-completions body's user message."""
    image, texts = b"", []
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for part in parts:
            if part.get("type") == "image_url":
                url = part["image_url"]["url"]
                image = base64.b64decode(url.split(",", 1)[1])
            elif part.get("type") == "text":
                texts.append(part.get("text") or "")
    return image, "\n".join(texts)


class FakeVisionServer:
    """A loopback HTTP server speaking Gemini's or OpenAI's protocol; use it as a context manager."""

    def __init__(
        self,
        dialect: Dialect,
        *,
        api_key: str = "test-key",
        latency_seconds: float = 0.0,
        script: Sequence[FakeReply] = (),
        reject_response_format: bool = False,
    ) -> None:
        if dialect not in ("gemini", "openai"):
            raise ValueError(f"unknown dialect {dialect!r}: expected 'gemini' or 'openai'")
        self.dialect = dialect
        self.api_key = api_key
        self.latency_seconds = latency_seconds
        self.reject_response_format = reject_response_format
        self._received: list[ReceivedRequest] = []
        self.max_in_flight = 0
        self.arrived = 0  # requests that reached the handler, answered or not yet
        self._script: deque[FakeReply] = deque(script)
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life

    def start(self) -> FakeVisionServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        # A short poll interval, so that stop() returns promptly.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-vision", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that are still "thinking"
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeVisionServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give the SDK: ``http://127.0.0.1:PORT`` (Gemini) or ``…/v1`` (OpenAI)."""
        if self._server is None:
            raise RuntimeError("the fake server is not started")
        root = f"http://127.0.0.1:{self._server.server_address[1]}"
        return root if self.dialect == "gemini" else f"{root}/v1"

    @property
    def received(self) -> list[ReceivedRequest]:
        """Every request handled so far, in order of arrival."""
        with self._lock:
            return sorted(self._received, key=lambda r: r.started)

    def add(self, *replies: FakeReply) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(replies)

    def image_and_prompt(self, request: ReceivedRequest) -> tuple[bytes, str]:
        """What a received request carried: the image bytes and the user text."""
        return gemini_parts(request.body) if self.dialect == "gemini" else openai_parts(request.body)

    def generation_settings(self, request: ReceivedRequest) -> tuple[float | None, dict[str, Any] | None]:
        """The temperature and the response JSON schema a received request asked for (None where absent)."""
        if self.dialect == "gemini":
            config = request.body.get("generationConfig", {})
            return config.get("temperature"), config.get("responseJsonSchema")
        response_format = request.body.get("response_format")
        schema = response_format.get("json_schema", {}).get("schema") if isinstance(response_format, dict) else None
        return request.body.get("temperature"), schema

    # -- handling (called on the server's threads)

    def _next(self) -> FakeReply:
        with self._lock:
            return self._script.popleft() if self._script else FakeReply()

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.arrived += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._in_flight -= 1
            self._received.append(request)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _authorised(self, handler: _Handler, query: dict[str, list[str]]) -> str | None:
        """The key presented, or None when it is the right one."""
        if self.dialect == "gemini":
            presented = handler.headers.get("x-goog-api-key") or (query.get("key") or [""])[0]
        else:
            auth = handler.headers.get("authorization") or ""
            presented = auth.removeprefix("Bearer ").strip()
        return None if presented == self.api_key else presented

    def handle(self, handler: _Handler) -> None:
        started = time.perf_counter()
        self._enter()
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        model = ""
        if self.dialect == "gemini" and (match := GEMINI_PATH.match(parts.path)):
            model = match["model"]
        elif self.dialect == "openai" and parts.path == OPENAI_PATH:
            model = str(body.get("model", ""))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        answer = None
        try:
            answer = self._answer_for(handler, parts.path, parse_qs(parts.query), body, model)
        finally:
            # Recorded before the answer is written: a client holding the answer finds its request here.
            self._leave(ReceivedRequest(parts.path, headers, body, model, started, time.perf_counter()))
        if answer is None:
            handler.close_connection = True
        else:
            handler.answer(*answer)

    def _answer_for(
        self, handler: _Handler, path: str, query: dict[str, list[str]], body: dict[str, Any], model: str
    ) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """Status, JSON body and headers for one request; None when the server is stopping."""
        if not model:
            return 404, self._error_body(404, f"no such endpoint {path}", (), None), {}
        wrong_key = self._authorised(handler, query)
        if wrong_key is not None:
            return *self._key_refused(wrong_key), {}
        if self.dialect == "openai" and self.reject_response_format and "response_format" in body:
            message = "response_format of type json_schema is not supported by this server"
            return 400, self._error_body(400, message, (), None), {}
        reply = self._next()
        self._sleep(self.latency_seconds + reply.delay_seconds)
        if self._stopping.is_set():
            return None
        if reply.status != 200:
            return reply.status, self._error_body(reply.status, reply.message, reply.details, reply.code), reply.headers
        image, prompt = gemini_parts(body) if self.dialect == "gemini" else openai_parts(body)
        text = reply.text if reply.text is not None else default_text(image, prompt)
        return 200, self._success_body(model, text, reply), reply.headers

    def _key_refused(self, presented: str) -> tuple[int, dict[str, Any]]:
        if self.dialect == "gemini":
            detail = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
            return 400, self._error_body(400, "API key not valid. Please pass a valid API key.", (detail,), None)
        message = f"Incorrect API key provided: {presented}. You can find your API key in your account settings."
        return 401, self._error_body(401, message, (), "invalid_api_key")

    def _error_body(
        self, status: int, message: str, details: Sequence[dict[str, Any]], code: str | None
    ) -> dict[str, Any]:
        if self.dialect == "gemini":
            error: dict[str, Any] = {"code": status, "message": message, "status": GOOGLE_STATUS.get(status, "UNKNOWN")}
            if details:
                error["details"] = list(details)
            return {"error": error}
        kind = "invalid_request_error" if status < 500 else "server_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def _success_body(self, model: str, text: str, reply: FakeReply) -> dict[str, Any]:
        if self.dialect == "gemini":
            return {
                "candidates": [
                    {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}
                ],
                "usageMetadata": {
                    "promptTokenCount": reply.input_tokens,
                    "candidatesTokenCount": reply.output_tokens,
                    "totalTokenCount": reply.input_tokens + reply.output_tokens,
                },
                "modelVersion": model,
                "responseId": f"fake-{time.perf_counter_ns()}",
            }
        return {
            "id": f"chatcmpl-fake-{time.perf_counter_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": reply.input_tokens,
                "completion_tokens": reply.output_tokens,
                "total_tokens": reply.input_tokens + reply.output_tokens,
            },
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    fake: FakeVisionServer

    def do_POST(self) -> None:
        self.fake.handle(self)

    def answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the bench read `received` instead
