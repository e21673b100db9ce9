"""The describer a run uses, built from settings: providers in order of preference, with fallback.

``settings.describe.providers`` lists describers in order of preference (default: gemini, openai,
offline). `build_describer` skips a provider that is not configured (Gemini without a key or a
Vertex project, OpenAI-compatible without a key or a base URL) and chains the rest. "offline" is
always available, so a chain that ends with it always describes something.

At run time a `ChainDescriber` falls back per asset: when a provider fails with a
`DescribeProviderError` (refused key, service still unavailable after every retry, a request it
refuses, such as an unknown model), the asset goes to the next provider. A `DescribeReplyError` (the
model answered, twice, with something that is not a valid description) and any other exception stay
that asset's error: the provider works, the answer for this asset was bad, and a fallback would hide
that. A provider that refused its credentials is not asked again during the chain's life, so one
bad key costs one request (or the few already in flight), not one per asset; a refused request
(a 400 or 404) may be about one asset only, so it falls back without retiring the provider.
Each `Description.provider` says who actually described the asset.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import ClassVar

from vidpipe.describe.cache import DescribeCache
from vidpipe.describe.describer import Describer, DescribeRequest, Description, OnDone
from vidpipe.describe.errors import DescribeAuthError, DescribeProviderError
from vidpipe.describe.remote import RemoteOptions
from vidpipe.errors import ConfigError
from vidpipe.settings import DescribeSettings, RemoteProviderSettings, Settings, get_settings

logger = logging.getLogger(__name__)

CACHE_FOLDER = "describe-cache"  # under settings.data_dir
GEMINI_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
OPENAI_KEY_VARIABLES = ("OPENAI_API_KEY",)


def _first_key(configured: str | None, environ: Mapping[str, str], variables: Sequence[str]) -> str | None:
    if configured:
        return configured
    for variable in variables:
        if value := environ.get(variable, "").strip():
            return value
    return None


def gemini_api_key(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """The Gemini key: the setting, else GEMINI_API_KEY, else GOOGLE_API_KEY."""
    secret = settings.describe.gemini.api_key
    env = os.environ if environ is None else environ
    return _first_key(secret.get_secret_value().strip() if secret else None, env, GEMINI_KEY_VARIABLES)


def openai_api_key(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """The OpenAI-compatible key: the setting, else OPENAI_API_KEY."""
    secret = settings.describe.openai.api_key
    env = os.environ if environ is None else environ
    return _first_key(secret.get_secret_value().strip() if secret else None, env, OPENAI_KEY_VARIABLES)


def remote_options(describe: DescribeSettings, provider: RemoteProviderSettings, model: str) -> RemoteOptions:
    return RemoteOptions(
        model=model,
        max_in_flight=provider.max_in_flight,
        timeout_seconds=provider.timeout_seconds,
        max_attempts=provider.max_attempts,
        backoff_initial_seconds=describe.backoff_initial_seconds,
        backoff_max_seconds=describe.backoff_max_seconds,
        retry_after_max_seconds=describe.retry_after_max_seconds,
        max_image_side_pixels=describe.max_image_side_pixels,
    )


def _build_one(name: str, settings: Settings, environ: Mapping[str, str] | None) -> Describer | None:
    """The describer ``name``, or None when it is not configured."""
    describe = settings.describe
    cache = DescribeCache(settings.data_dir / CACHE_FOLDER) if describe.cache else None
    if name == "gemini":
        from vidpipe.describe.describers.gemini import GeminiDescriber

        gemini = describe.gemini
        key = gemini_api_key(settings, environ)
        if not key and not gemini.vertex_project:
            return None
        return GeminiDescriber(
            remote_options(describe, gemini, gemini.model),
            api_key=None if gemini.vertex_project else key,
            vertex_project=gemini.vertex_project,
            vertex_location=gemini.vertex_location,
            base_url=gemini.base_url,
            cache=cache,
            force=describe.force,
        )
    if name == "openai":
        from vidpipe.describe.describers.openai_compat import OpenAICompatDescriber

        compat = describe.openai
        key = openai_api_key(settings, environ)
        if not key and not compat.base_url:
            return None
        return OpenAICompatDescriber(
            remote_options(describe, compat, compat.model),
            base_url=compat.base_url,
            api_key=key,
            json_schema=compat.json_schema,
            cache=cache,
            force=describe.force,
        )
    if name == "offline":
        from vidpipe.describe.describers.offline import OfflineDescriber

        return OfflineDescriber.from_settings(settings, ocr=settings.describe.ocr)
    raise ConfigError(f"unknown describe provider {name!r}: expected gemini, openai or offline")


def build_describer(settings: Settings | None = None, *, environ: Mapping[str, str] | None = None) -> Describer:
    """The describer ``settings.describe`` asks for: one provider, or a `ChainDescriber` of several.

    ``environ`` replaces ``os.environ`` when looking up GEMINI_API_KEY, GOOGLE_API_KEY and
    OPENAI_API_KEY (for tests). Raises `ConfigError` when no listed provider is configured.
    """
    settings = settings or get_settings()
    describers: list[Describer] = []
    skipped: list[str] = []
    for name in dict.fromkeys(settings.describe.providers):  # in order, each once
        built = _build_one(name, settings, environ)
        if built is None:
            skipped.append(name)
        else:
            describers.append(built)
    if skipped:
        logger.info("describe: skipping unconfigured provider(s) %s", ", ".join(skipped))
    if not describers:
        raise ConfigError(
            f"no describe provider is configured among {settings.describe.providers}: set "
            "VIDPIPE_DESCRIBE__GEMINI__API_KEY (or GEMINI_API_KEY), VIDPIPE_DESCRIBE__OPENAI__BASE_URL / "
            "VIDPIPE_DESCRIBE__OPENAI__API_KEY (or OPENAI_API_KEY), or add 'offline' to VIDPIPE_DESCRIBE__PROVIDERS"
        )
    return describers[0] if len(describers) == 1 else ChainDescriber(describers)


class ChainDescriber(Describer):
    """Describers in order of preference; an asset a provider fails on goes to the next (see the module docstring)."""

    name: ClassVar[str] = "chain"
    prompt_version: ClassVar[str] = "chain"  # each Description carries its own provider's version

    def __init__(self, describers: Sequence[Describer]) -> None:
        if not describers:
            raise ValueError("a describer chain needs at least one describer")
        self.describers = tuple(describers)
        self._retired: set[int] = set()  # positions of providers not to ask again
        self._lock = threading.Lock()

    @property
    def provider_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.describers)

    def _falls_through(self, position: int, exc: Exception) -> bool:
        """Whether ``exc`` from provider ``position`` sends the asset on to the next provider."""
        if position == len(self.describers) - 1 or not isinstance(exc, DescribeProviderError):
            return False
        if isinstance(exc, DescribeAuthError):
            with self._lock:
                if position not in self._retired:
                    self._retired.add(position)
                    logger.warning(
                        "describe: %s will not be asked again in this run (%s); falling back to %s",
                        self.describers[position].name,
                        exc,
                        self.describers[position + 1].name,
                    )
        return True

    def _active(self, position: int) -> bool:
        # The last provider is always asked: with nothing after it, its error is the asset's error.
        with self._lock:
            return position == len(self.describers) - 1 or position not in self._retired

    def describe(self, request: DescribeRequest) -> Description:
        for position, describer in enumerate(self.describers):
            if not self._active(position):
                continue
            try:
                return describer.describe(request)
            except Exception as exc:
                if not self._falls_through(position, exc):
                    raise
                logger.info(
                    "describe: %s failed (%s); trying %s", describer.name, exc, self.describers[position + 1].name
                )
        raise AssertionError("unreachable: the last describer either returns or raises")

    def describe_many(
        self, requests: Sequence[DescribeRequest], on_done: OnDone | None = None
    ) -> list[Description | Exception]:
        """Each provider describes, with its own concurrency, the assets every earlier provider failed on.

        ``on_done`` is called once per asset, when its result is final.
        """
        results: list[Description | Exception | None] = [None] * len(requests)
        pending = list(range(len(requests)))  # positions in `requests` still to describe
        for position, describer in enumerate(self.describers):
            if not pending:
                break
            if self._active(position):
                passed_on = self._stage(position, requests, pending, results, on_done)
                if passed_on:
                    logger.info(
                        "describe: %d asset(s) passed from %s to %s",
                        len(passed_on),
                        describer.name,
                        self.describers[position + 1].name,
                    )
                pending = passed_on
        return [r for r in results if r is not None]

    def _stage(
        self,
        position: int,
        requests: Sequence[DescribeRequest],
        pending: list[int],
        results: list[Description | Exception | None],
        on_done: OnDone | None,
    ) -> list[int]:
        """Run provider ``position`` on the ``pending`` requests; return the positions it passes on."""
        passed_on: set[int] = set()

        def finished(local: int, result: Description | Exception) -> None:
            index = pending[local]
            if isinstance(result, Exception) and self._falls_through(position, result):
                passed_on.add(index)
            elif on_done is not None:
                on_done(index, result)

        returned = self.describers[position].describe_many([requests[i] for i in pending], on_done=finished)
        for local, result in enumerate(returned):
            if pending[local] not in passed_on:
                results[pending[local]] = result
        return sorted(passed_on)
