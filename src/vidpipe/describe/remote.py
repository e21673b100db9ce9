"""What every describer that calls a remote vision model shares: limits, retries, parsing, caching.

A subclass only says how to send one request (`RemoteDescriber._send`) and what an SDK exception
means (`RemoteDescriber._classify`). Everything else is here, so both providers behave the same:

* at most ``max_in_flight`` requests to one provider at once (a semaphore per describer, held only
  while a request is on the wire, not while backing off), with `describe_many` running that many
  assets side by side;
* rate limits (429), server errors (5xx), 408 and timeouts are retried with exponential backoff and
  jitter (tenacity), waiting at least as long as the server's Retry-After asks, up to a cap;
* a reply that is not a valid description (not JSON, or against the schema) is asked for once more,
  then becomes that asset's `DescribeReplyError`;
* refused credentials are never retried; any other refused request (400, 404) is not either;
* ``max_attempts`` caps the requests made for one asset, all retries of both kinds included;
* each request has a timeout, set in the SDK client;
* finished descriptions are cached (see `vidpipe.describe.cache`), unless ``force`` is set.

API keys never reach a log line or an error message: every text that came from a server or an SDK
goes through `redact`, and SDK exceptions are not chained onto the errors raised here.
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import math
import random
import re
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from PIL import Image
from pydantic import ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from vidpipe.describe.cache import DescribeCache, cache_key, sha256_hex
from vidpipe.describe.describer import Describer, DescribeRequest, Description, OnDone, log_failure
from vidpipe.describe.errors import (
    DescribeAuthError,
    DescribeError,
    DescribeReplyError,
    DescribeRequestRefusedError,
    DescribeUnavailableError,
    redact,
)
from vidpipe.describe.prompts import PROMPT_VERSION, DescriptionReply, clip_name, user_prompt

logger = logging.getLogger(__name__)

REASON_MAX_CHARS = 300  # server messages are cut to this in errors and logs
REPLY_ATTEMPTS = 2  # an invalid reply is asked for once more, then it is the asset's error
JSON_SCAN_MAX_OBJECTS = 50  # how many '{' the tolerant parser tries before giving up
RETRYABLE_STATUS = frozenset({408, 429})  # plus every 5xx


@dataclass(frozen=True)
class RemoteOptions:
    """How a remote describer talks to its provider. All times are in seconds.

    ``max_in_flight``: requests on the wire at once. ``timeout_seconds``: limit for one request.
    ``max_attempts``: requests for one asset, first try and every retry included. Backoff before
    retry n (1-based) is ``backoff_initial_seconds * 2**(n-1)`` plus up to ``backoff_initial_seconds``
    of jitter, at most ``backoff_max_seconds``; a Retry-After from the server replaces it, capped at
    ``retry_after_max_seconds``. The image is sent as a JPEG no larger than ``max_image_side_pixels``
    on its longer side.
    """

    model: str
    max_in_flight: int = 5
    timeout_seconds: float = 60.0
    max_attempts: int = 5
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    retry_after_max_seconds: float = 120.0
    max_image_side_pixels: int = 1536
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("a remote describer needs a model name, got an empty one")
        if self.max_in_flight < 1 or self.max_attempts < 1:
            raise ValueError(
                f"max_in_flight and max_attempts must be at least 1, got {self.max_in_flight} and {self.max_attempts}"
            )
        if self.timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {self.timeout_seconds}")
        if min(self.backoff_initial_seconds, self.backoff_max_seconds, self.retry_after_max_seconds) < 0:
            raise ValueError("backoff and Retry-After limits must not be negative")
        if self.max_image_side_pixels < 64 or not 1 <= self.jpeg_quality <= 100:
            raise ValueError(
                f"max_image_side_pixels must be at least 64 and jpeg_quality 1-100, "
                f"got {self.max_image_side_pixels} and {self.jpeg_quality}"
            )


@dataclass(frozen=True)
class ModelReply:
    """What one successful request returned: the model's text and the tokens the provider counted."""

    text: str | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    note: str = ""  # why there is no text, e.g. "finish reason SAFETY"


FaultKind = Literal["transient", "auth", "refused"]


@dataclass(frozen=True)
class Fault:
    """What a failed request means: retry it (``transient``), or stop (``auth``, ``refused``)."""

    kind: FaultKind
    reason: str
    retry_after_seconds: float | None = None


class _AttemptFailedError(Exception):
    """One attempt's failure, inside the retry loop only; never leaves this module."""

    def __init__(self, kind: FaultKind | Literal["reply"], reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.retry_after = retry_after


# -- helpers the provider modules use


def status_fault(code: int, reason: str, headers: Mapping[str, str] | None = None) -> Fault:
    """The fault an HTTP error status means: 401/403 auth, 408/429/5xx transient, anything else refused."""
    if code in (401, 403):
        return Fault("auth", reason)
    if code in RETRYABLE_STATUS or 500 <= code <= 599:
        return Fault("transient", reason, retry_after_seconds(headers))
    return Fault("refused", reason)


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds a response asks the client to wait: ``retry-after-ms``, else ``Retry-After`` as seconds or HTTP date.

    None when there is no usable header. A date in the past gives 0.
    """
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - (time.time() if now is None else now))
    return value if math.isfinite(value) and value >= 0 else None


def tolerant_json(text: str) -> Any:
    """The JSON object in a model's reply, even inside a ```json fence or after a sentence of preamble.

    Tries the whole text, then each ``{`` in turn and takes the first complete object found there.
    Raises ValueError when there is none.
    """
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        pass
    else:
        if isinstance(whole, dict):
            return whole
    decoder = json.JSONDecoder()
    for count, match in enumerate(re.finditer(r"\{", stripped)):
        if count >= JSON_SCAN_MAX_OBJECTS:
            break
        try:
            found, _ = decoder.raw_decode(stripped, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(found, dict):
            return found
    raise ValueError("no JSON object in the reply")


def encode_jpeg(image: np.ndarray[Any, Any], *, max_side: int, quality: int) -> bytes:
    """An H×W×3 uint8 RGB crop as JPEG bytes, shrunk to ``max_side`` pixels on its longer side if larger.

    Fixed encoder options and no metadata, so the same pixels always give the same bytes (and the
    same cache key).
    """
    picture = Image.fromarray(np.ascontiguousarray(image))
    if max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality, subsampling="4:2:0", optimize=False, progressive=False)
    return buffer.getvalue()


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 1] + "…"


def _schema_problems(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "reply"
        got = "" if error["type"] == "missing" else f" (got {_short(repr(error.get('input')))[:40]})"
        problems.append(f"{where}: {error['msg']}{got}")
    return "; ".join(problems)


def _subject(request: DescribeRequest) -> str:
    return (
        f"{request.asset_type.value} asset {request.name!r}"
        if request.name
        else f"unnamed {request.asset_type.value} asset"
    )


def describe_concurrently(
    describe: Callable[[DescribeRequest], Description],
    requests: Sequence[DescribeRequest],
    *,
    workers: int,
    describer_name: str,
    on_done: OnDone | None = None,
) -> list[Description | Exception]:
    """`Describer.describe_many`'s contract with ``workers`` assets described side by side.

    Results come back in request order. ``on_done`` runs on the caller's thread as each asset
    finishes (in finishing order), so it may touch objects that are not thread-safe, such as a
    database session. If ``on_done`` raises, the assets not yet started are cancelled and the
    exception propagates once the running ones have finished.
    """
    if not requests:
        return []
    results: list[Description | Exception | None] = [None] * len(requests)
    with ThreadPoolExecutor(max_workers=min(workers, len(requests)), thread_name_prefix=describer_name) as pool:
        futures: dict[Future[Description], int] = {pool.submit(describe, r): i for i, r in enumerate(requests)}
        try:
            for future in as_completed(futures):
                index = futures[future]
                result: Description | Exception
                try:
                    result = future.result()
                except Exception as exc:
                    log_failure(describer_name, index, requests[index], exc)
                    result = exc
                results[index] = result
                if on_done is not None:
                    on_done(index, result)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return [r for r in results if r is not None]


class RemoteDescriber(Describer):
    """Base of describers that ask a remote vision model. See the module docstring for the behaviour.

    ``secrets`` are the credentials in use; they are redacted from every message. ``cache`` stores
    finished descriptions; ``force`` skips reading it (a fresh answer still replaces the entry).
    """

    name: ClassVar[str]
    prompt_version: ClassVar[str] = PROMPT_VERSION
    # Where the user sets this provider's key, for the message when it is refused.
    key_hint: ClassVar[str] = "the provider's API key setting"

    def __init__(
        self,
        options: RemoteOptions,
        *,
        cache: DescribeCache | None = None,
        force: bool = False,
        secrets: Sequence[str | None] = (),
    ) -> None:
        self.options = options
        self.model = options.model
        self.cache = cache
        self.force = force
        self._secrets = tuple(s for s in secrets if s)
        self._slots = threading.BoundedSemaphore(options.max_in_flight)
        # Set once the provider refuses the credentials: requests still queued then fail at once
        # instead of each paying a round trip to be refused again.
        self._refused: str | None = None
        self._backoff = wait_exponential_jitter(
            initial=options.backoff_initial_seconds,
            max=options.backoff_max_seconds,
            jitter=options.backoff_initial_seconds,
        )

    # -- what a provider implements

    @abstractmethod
    def _send(self, image_jpeg: bytes, prompt: str) -> ModelReply:
        """Send one request (the JPEG inline, `prompts.SYSTEM_PROMPT` and ``prompt``) and return the reply."""

    @abstractmethod
    def _classify(self, exc: Exception) -> Fault | None:
        """What an exception from `_send` means; None for one that is not a provider fault (it propagates)."""

    # -- the shared behaviour

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def describe(self, request: DescribeRequest) -> Description:
        image = encode_jpeg(
            request.image, max_side=self.options.max_image_side_pixels, quality=self.options.jpeg_quality
        )
        prompt = user_prompt(request)
        key = None
        if self.cache is not None:
            key = cache_key(
                image_sha256=sha256_hex(image),
                provider=self.name,
                model=self.model,
                prompt_version=self.prompt_version,
                prompt_sha256=sha256_hex(prompt),
            )
            if not self.force and (cached := self.cache.get(key)) is not None:
                return cached
        description = self._describe_uncached(request, image, prompt)
        if self.cache is not None and key is not None:
            try:
                self.cache.put(key, description)
            except OSError as exc:  # a full disk must not cost the description we already paid for
                logger.warning("describe cache: cannot store an entry in %s (%s)", self.cache.folder, exc)
        return description

    def describe_many(
        self, requests: Sequence[DescribeRequest], on_done: OnDone | None = None
    ) -> list[Description | Exception]:
        """As `Describer.describe_many`, with up to ``max_in_flight`` assets described at once."""
        return describe_concurrently(
            self.describe, requests, workers=self.options.max_in_flight, describer_name=self.name, on_done=on_done
        )

    def _describe_uncached(self, request: DescribeRequest, image: bytes, prompt: str) -> Description:
        attempts = 0
        bad_replies = 0
        tokens_in: int | None = None
        tokens_out: int | None = None

        def attempt() -> Description:
            nonlocal attempts, bad_replies, tokens_in, tokens_out
            attempts += 1
            with self._slots:
                if self._refused is not None:
                    raise _AttemptFailedError("auth", f"not sent, the key was refused before: {self._refused}")
                try:
                    reply = self._send(image, prompt)
                except Exception as exc:
                    fault = self._classify(exc)
                    if fault is None:
                        raise
                    if fault.kind == "auth":  # before the slot is freed, so no queued request goes out
                        self._refused = self.redact(_short(fault.reason))
                    # Not chained: the SDK's exception may carry request headers or the key.
                    raise _AttemptFailedError(
                        fault.kind, self.redact(_short(fault.reason)), fault.retry_after_seconds
                    ) from None
            # Every reply was paid for, a rejected one too: the totals count them all.
            if reply.input_tokens is not None:
                tokens_in = (tokens_in or 0) + reply.input_tokens
            if reply.output_tokens is not None:
                tokens_out = (tokens_out or 0) + reply.output_tokens
            try:
                parsed = self._parse(reply)
            except _AttemptFailedError:
                bad_replies += 1
                raise
            return Description(
                reverse_prompt=parsed.reverse_prompt,
                visual_description=parsed.visual_description,
                quality_score=parsed.quality_score,
                # The user's own name wins over the model's suggestion, as with the offline describer.
                suggested_name=clip_name(request.name) if request.name else parsed.suggested_name,
                provider=self.name,
                model=self.model,
                prompt_version=self.prompt_version,
                input_tokens=tokens_in,
                output_tokens=tokens_out,
            )

        def should_retry(exc: BaseException) -> bool:
            if not isinstance(exc, _AttemptFailedError):
                return False
            return exc.kind == "transient" or (exc.kind == "reply" and bad_replies < REPLY_ATTEMPTS)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.info(
                "%s (%s): %s, attempt %d of %d failed (%s); retrying in %.2f s",
                self.name,
                self.model,
                _subject(request),
                state.attempt_number,
                self.options.max_attempts,
                exc,
                state.next_action.sleep if state.next_action else 0.0,
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.options.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _AttemptFailedError as failed:
            raise self._final_error(failed, request, attempts) from None

    def _wait(self, state: RetryCallState) -> float:
        """Seconds before the next attempt: none after a bad reply, Retry-After if given, else backoff."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _AttemptFailedError) and exc.kind == "reply":
            return 0.0
        if isinstance(exc, _AttemptFailedError) and exc.retry_after is not None:
            # Jitter on top, so that requests told the same Retry-After do not all return at once.
            jitter = random.uniform(0.0, self.options.backoff_initial_seconds)
            return min(exc.retry_after, self.options.retry_after_max_seconds) + jitter
        return float(self._backoff(state))

    def _parse(self, reply: ModelReply) -> DescriptionReply:
        text = reply.text
        if text is None or not text.strip():
            raise _AttemptFailedError("reply", f"the reply had no text ({reply.note or 'empty reply'})")
        try:
            data = tolerant_json(text)
        except ValueError:
            raise _AttemptFailedError("reply", f"the reply was not JSON: {self.redact(_short(text))[:120]!r}") from None
        try:
            return DescriptionReply.model_validate(data)
        except ValidationError as exc:
            raise _AttemptFailedError(
                "reply", f"the reply broke the schema: {self.redact(_schema_problems(exc))}"
            ) from None

    def _final_error(self, failed: _AttemptFailedError, request: DescribeRequest, attempts: int) -> DescribeError:
        who = f"{self.name} ({self.model})"
        subject = _subject(request)
        if failed.kind == "reply":
            return DescribeReplyError(
                f"{who} gave no valid description of {subject} in {REPLY_ATTEMPTS} replies: {failed.reason}",
                provider=self.name,
                model=self.model,
            )
        if failed.kind == "auth":
            return DescribeAuthError(
                f"{who} refused the credentials while describing {subject}: {failed.reason}; check {self.key_hint}",
                provider=self.name,
                model=self.model,
            )
        if failed.kind == "refused":
            return DescribeRequestRefusedError(
                f"{who} refused the request for {subject}: {failed.reason}", provider=self.name, model=self.model
            )
        return DescribeUnavailableError(
            f"{who} could not describe {subject} in {attempts} attempts; the last failed with: {failed.reason}",
            provider=self.name,
            model=self.model,
        )
