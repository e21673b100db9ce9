"""Gemini's vision models through the ``google-genai`` SDK: an API key, or Vertex AI by project and location.

One ``generateContent`` request per asset: the crop inline as JPEG bytes, the shared system prompt as
the system instruction, the per-type prompt as text, temperature 0.4, and a JSON response with
`prompts.reply_json_schema()` as the response JSON schema. The SDK's own retries are switched off so
that `RemoteDescriber` alone decides what is retried and when.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import httpx2
from google import genai
from google.auth import exceptions as auth_exceptions
from google.genai import errors as genai_errors
from google.genai import types

from vidpipe.describe.cache import DescribeCache
from vidpipe.describe.prompts import SYSTEM_PROMPT, TEMPERATURE, reply_json_schema
from vidpipe.describe.remote import Fault, ModelReply, RemoteDescriber, RemoteOptions, status_fault

DEFAULT_MODEL = "gemini-2.5-flash"
# The SDK now defaults to v1 for the Developer API; the response JSON schema is documented on v1beta.
API_VERSION = "v1beta"
# Gemini answers a bad API key with 400 INVALID_ARGUMENT and this reason, not with 401.
KEY_REJECTED_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _error_details(body: Any) -> list[Mapping[str, Any]]:
    error = body.get("error", body) if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    return [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []


def _retry_delay_seconds(body: Any) -> float | None:
    """Gemini's 429 carries its wait in a google.rpc.RetryInfo detail (``"retryDelay": "38s"``), not a header."""
    for detail in _error_details(body):
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _key_rejected(body: Any) -> bool:
    return any(detail.get("reason") in KEY_REJECTED_REASONS for detail in _error_details(body))


class GeminiDescriber(RemoteDescriber):
    """Describes assets with a Gemini vision model.

    Give ``api_key`` for the Gemini Developer API, or ``vertex_project`` (and ``vertex_location``) for
    Vertex AI with Application Default Credentials. ``base_url`` replaces the endpoint (a proxy, a
    gateway, or a local test server speaking the same REST protocol).
    """

    name: ClassVar[str] = "gemini"
    key_hint: ClassVar[str] = "VIDPIPE_DESCRIBE__GEMINI__API_KEY (or GEMINI_API_KEY / GOOGLE_API_KEY)"

    def __init__(
        self,
        options: RemoteOptions,
        *,
        api_key: str | None = None,
        vertex_project: str | None = None,
        vertex_location: str | None = None,
        base_url: str | None = None,
        cache: DescribeCache | None = None,
        force: bool = False,
    ) -> None:
        if not api_key and not vertex_project:
            raise ValueError("the Gemini describer needs an API key or a Vertex AI project")
        super().__init__(options, cache=cache, force=force, secrets=(api_key,))
        http_options = types.HttpOptions(
            base_url=base_url,
            api_version=None if vertex_project else API_VERSION,  # Vertex keeps the SDK's own (v1beta1)
            timeout=max(1, round(options.timeout_seconds * 1000)),  # the SDK counts milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # one try: RemoteDescriber retries
        )
        if vertex_project:
            self._client = genai.Client(
                vertexai=True, project=vertex_project, location=vertex_location or "global", http_options=http_options
            )
        else:
            # vertexai=False explicitly, so GOOGLE_GENAI_USE_VERTEXAI in the environment cannot switch it.
            self._client = genai.Client(vertexai=False, api_key=api_key, http_options=http_options)
        self._config = types.GenerateContentConfig(
            system_instruction=SYSTEM_PROMPT,
            temperature=TEMPERATURE,
            response_mime_type="application/json",
            response_json_schema=reply_json_schema(),
            # No tools are offered, so automatic function calling has nothing to do (and logs each call).
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )

    def _send(self, image_jpeg: bytes, prompt: str) -> ModelReply:
        response = self._client.models.generate_content(
            model=self.model,
            contents=[
                types.Content(
                    role="user",
                    parts=[
                        types.Part.from_bytes(data=image_jpeg, mime_type="image/jpeg"),
                        types.Part.from_text(text=prompt),
                    ],
                )
            ],
            config=self._config,
        )
        usage = response.usage_metadata
        input_tokens = usage.prompt_token_count if usage else None
        output_tokens = None
        if usage and (usage.candidates_token_count is not None or usage.thoughts_token_count is not None):
            # Thinking tokens are billed as output, so they count here.
            output_tokens = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
        return ModelReply(response.text, input_tokens, output_tokens, note=self._why_no_text(response))

    @staticmethod
    def _why_no_text(response: types.GenerateContentResponse) -> str:
        if response.prompt_feedback and response.prompt_feedback.block_reason:
            return f"prompt blocked: {response.prompt_feedback.block_reason}"
        if not response.candidates:
            return "no candidates"
        reason = response.candidates[0].finish_reason
        return f"finish reason {reason.value if reason else 'unknown'}"

    def _classify(self, exc: Exception) -> Fault | None:
        if isinstance(exc, genai_errors.APIError):
            reason = f"HTTP {exc.code} {exc.status or ''}: {exc.message or 'no message'}"
            if exc.code == 400 and _key_rejected(exc.details):
                return Fault("auth", reason)
            headers = getattr(exc.response, "headers", None)
            fault = status_fault(exc.code, reason, headers)
            if fault.kind == "transient" and fault.retry_after_seconds is None:
                return Fault("transient", reason, _retry_delay_seconds(exc.details))
            return fault
        if isinstance(exc, httpx.TimeoutException | httpx2.TimeoutException | TimeoutError):
            return Fault("transient", f"no answer within {self.options.timeout_seconds:g} s")
        if isinstance(exc, httpx.TransportError | httpx2.TransportError | ConnectionError):
            return Fault("transient", f"connection failed ({type(exc).__name__}: {exc})")
        if isinstance(exc, auth_exceptions.GoogleAuthError):
            # Vertex AI without usable Application Default Credentials.
            return Fault("auth", f"Google credentials unusable ({type(exc).__name__}: {exc})")
        return None
