"""OpenAI's chat completions with image input, and every server that speaks the same protocol.

That covers OpenAI itself and local vision models behind Ollama, vLLM, the llama.cpp server or LM
Studio (set ``base_url``, e.g. ``http://localhost:11434/v1`` for Ollama). One request per asset: the
system prompt, then the per-type prompt and the crop as a ``data:image/jpeg;base64`` URL, at
temperature 0.4.

The reply format is the JSON-schema ``response_format`` (strict) when ``json_schema`` is on. Not every
server accepts it: when one answers that with a 400 that names the response format, this describer
stops asking for it (for the rest of its life) and relies on the prompt's instructions and the
tolerant JSON parse instead. The SDK's own retries are off: `RemoteDescriber` owns retrying.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import openai
from openai import OpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema

from vidpipe.describe.cache import DescribeCache
from vidpipe.describe.prompts import SYSTEM_PROMPT, TEMPERATURE, reply_json_schema
from vidpipe.describe.remote import Fault, ModelReply, RemoteDescriber, RemoteOptions, status_fault

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4.1-mini"
SCHEMA_NAME = "asset_description"
# Local servers mostly take no key, but the SDK insists on one; this is what they receive instead.
NO_KEY = "no-key"
# Words in a 400's message that mean "this server does not do structured outputs".
_FORMAT_WORDS = ("response_format", "json_schema", "response format", "structured output")


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        message = body.get("message") or body.get("detail") or body.get("error")
        if isinstance(message, str) and message:
            return message
    return exc.message


class OpenAICompatDescriber(RemoteDescriber):
    """Describes assets through an OpenAI-compatible chat-completions endpoint with image input."""

    name: ClassVar[str] = "openai"
    key_hint: ClassVar[str] = "VIDPIPE_DESCRIBE__OPENAI__API_KEY (or OPENAI_API_KEY)"

    def __init__(
        self,
        options: RemoteOptions,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        json_schema: bool = True,
        cache: DescribeCache | None = None,
        force: bool = False,
    ) -> None:
        super().__init__(options, cache=cache, force=force, secrets=(api_key,))
        self.base_url = base_url
        self._client = OpenAI(
            base_url=base_url or None,
            api_key=api_key or NO_KEY,
            max_retries=0,  # RemoteDescriber retries, with Retry-After and a cap on attempts
            timeout=options.timeout_seconds,
        )
        self.json_schema = json_schema
        self._response_format: ResponseFormatJSONSchema = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": reply_json_schema()},
        }

    def _create(self, messages: list[ChatCompletionMessageParam], with_schema: bool) -> ChatCompletion:
        if with_schema:
            return self._client.chat.completions.create(
                model=self.model, messages=messages, temperature=TEMPERATURE, response_format=self._response_format
            )
        return self._client.chat.completions.create(model=self.model, messages=messages, temperature=TEMPERATURE)

    def _send(self, image_jpeg: bytes, prompt: str) -> ModelReply:
        data_url = "data:image/jpeg;base64," + base64.b64encode(image_jpeg).decode("ascii")
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt},
                    {"type": "image_url", "image_url": {"url": data_url}},
                ],
            },
        ]
        with_schema = self.json_schema
        try:
            completion = self._create(messages, with_schema)
        except openai.BadRequestError as exc:
            message = _status_message(exc).lower()
            if not with_schema or not any(word in message for word in _FORMAT_WORDS):
                raise
            # Plain bool assignment: threads racing here all write False, which is the point.
            self.json_schema = False
            logger.warning(
                "%s (%s) at %s does not accept a JSON-schema response format (%s); asking for JSON in the prompt only",
                self.name,
                self.model,
                self.base_url or "the default endpoint",
                self.redact(message[:200]),
            )
            completion = self._create(messages, False)
        return self._reply(completion)

    @staticmethod
    def _reply(completion: ChatCompletion) -> ModelReply:
        usage = completion.usage
        tokens_in = usage.prompt_tokens if usage else None
        tokens_out = usage.completion_tokens if usage else None
        if not completion.choices:
            return ModelReply(None, tokens_in, tokens_out, note="no choices")
        choice = completion.choices[0]
        message = choice.message
        note = f"refused: {message.refusal}" if message.refusal else f"finish reason {choice.finish_reason}"
        return ModelReply(message.content, tokens_in, tokens_out, note=note)

    def _classify(self, exc: Exception) -> Fault | None:
        if isinstance(exc, openai.APITimeoutError):
            return Fault("transient", f"no answer within {self.options.timeout_seconds:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return Fault("transient", f"connection failed ({exc.message})")
        if isinstance(exc, openai.APIStatusError):
            reason = f"HTTP {exc.status_code}: {_status_message(exc)}"
            if exc.status_code == 429 and exc.code == "insufficient_quota":
                # Out of credit, not rate limited: waiting will not help.
                return Fault("refused", reason)
            headers: Any = exc.response.headers
            return status_fault(exc.status_code, reason, headers)
        return None
