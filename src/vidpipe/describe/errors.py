"""Why a describer could not describe an asset, sorted by what the caller should do about it.

* `DescribeReplyError`: the model answered, but not with a valid description (after one retry). It
  is about this asset only: the manifest records it as the asset's error and goes on.
* `DescribeProviderError` and its subclasses: the provider itself failed (a refused key, a service
  that stayed unavailable through every retry, a request it refuses). A describer chain falls back
  to its next provider on these.

Messages name the asset, the provider and model, and the reason. They never contain an API key:
every text that came from a server or an SDK passes through `redact` first.
"""

from __future__ import annotations

from collections.abc import Iterable

from vidpipe.errors import VidpipeError

REDACTED = "[redacted]"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each non-empty secret replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class DescribeError(VidpipeError):
    """A describer could not describe one asset. ``provider`` and ``model`` say who was asked."""

    status = 502

    def __init__(self, message: str, *, provider: str, model: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model


class DescribeReplyError(DescribeError):
    """The model's reply was not a valid description (unparseable, or against the schema), twice."""


class DescribeProviderError(DescribeError):
    """The provider failed rather than the asset: the next provider in a chain may be tried."""


class DescribeAuthError(DescribeProviderError):
    """The provider refused the credentials (HTTP 401/403, or Gemini's API_KEY_INVALID). Never retried."""

    status = 401


class DescribeUnavailableError(DescribeProviderError):
    """Rate limits, server errors or timeouts went on through every allowed attempt."""

    status = 503


class DescribeRequestRefusedError(DescribeProviderError):
    """The provider refused the request itself (unknown model, bad parameter): retrying cannot help."""
