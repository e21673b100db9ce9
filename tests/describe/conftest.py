"""Fixtures for the remote describers: real crops, loopback servers speaking each provider's protocol.

Every server here is a `FakeVisionServer` on 127.0.0.1; the describers reach it through their SDK's
base-URL setting, so the real google-genai and openai clients build and parse every request.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import skimage.data
from PIL import Image

from vidpipe.describe.cache import DescribeCache
from vidpipe.describe.describers.gemini import GeminiDescriber
from vidpipe.describe.describers.openai_compat import OpenAICompatDescriber
from vidpipe.describe.fake_servers import FakeVisionServer
from vidpipe.describe.remote import RemoteDescriber, RemoteOptions

KEYS = {"gemini": "AIzaSy-test-secret-0123456789", "openai": "sk-test-secret-0123456789abcdef"}
MODELS = {"gemini": "gemini-2.5-flash", "openai": "llava-test"}

MakeRemote = Callable[..., RemoteDescriber]


@pytest.fixture(scope="session")
def sample_crops() -> list[np.ndarray]:
    """Eight different 160×120 crops of scikit-image's astronaut photo (bundled, no download)."""
    photo = np.asarray(skimage.data.astronaut())
    return [np.ascontiguousarray(photo[20 * i : 20 * i + 160, 30 * i : 30 * i + 120]) for i in range(8)]


@pytest.fixture(params=["gemini", "openai"])
def fake_server(request: pytest.FixtureRequest) -> Iterator[FakeVisionServer]:
    """A loopback server for each provider's protocol in turn."""
    with FakeVisionServer(request.param, api_key=KEYS[request.param]) as server:
        yield server


@pytest.fixture
def make_remote() -> MakeRemote:
    """Build the describer for a server's dialect, with fast backoff so retries cost milliseconds."""

    def make(
        server: FakeVisionServer,
        *,
        api_key: str | None = None,
        cache: DescribeCache | None = None,
        force: bool = False,
        json_schema: bool = True,
        **overrides: Any,
    ) -> RemoteDescriber:
        settings: dict[str, Any] = {
            "model": MODELS[server.dialect],
            "timeout_seconds": 2.0,
            "max_attempts": 4,
            "backoff_initial_seconds": 0.01,
            "backoff_max_seconds": 0.05,
        }
        options = RemoteOptions(**{**settings, **overrides})
        key = api_key or server.api_key
        if server.dialect == "gemini":
            return GeminiDescriber(options, api_key=key, base_url=server.url, cache=cache, force=force)
        return OpenAICompatDescriber(
            options, api_key=key, base_url=server.url, json_schema=json_schema, cache=cache, force=force
        )

    return make


@pytest.fixture
def jpeg_pixels() -> Callable[[bytes], np.ndarray]:
    """Decode the JPEG bytes a server received to RGB pixels (failing if they are not a JPEG)."""

    def decode(image: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(image)) as picture:
            assert picture.format == "JPEG"
            return np.asarray(picture.convert("RGB"))

    return decode
