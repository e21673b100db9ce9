"""What only Gemini does: its REST path and body, RetryInfo waits, 400 API_KEY_INVALID, the settings it reads."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from vidpipe.describe.describer import DescribeRequest
from vidpipe.describe.describers.gemini import GeminiDescriber
from vidpipe.describe.errors import DescribeAuthError, DescribeRequestRefusedError
from vidpipe.describe.fake_servers import FakeReply, FakeVisionServer
from vidpipe.describe.prompts import SYSTEM_PROMPT
from vidpipe.describe.remote import RemoteOptions
from vidpipe.domain.enums import AssetType

KEY = "AIzaSy-gemini-test-secret"


@pytest.fixture
def gemini_server() -> Iterator[FakeVisionServer]:
    with FakeVisionServer("gemini", api_key=KEY) as server:
        yield server


def describer(server: FakeVisionServer, model: str = "gemini-2.5-flash") -> GeminiDescriber:
    options = RemoteOptions(model=model, backoff_initial_seconds=0.01, backoff_max_seconds=0.05)
    return GeminiDescriber(options, api_key=KEY, base_url=server.url)


def test_request_is_generate_content_with_inline_jpeg_and_json_schema(gemini_server, sample_crops) -> None:
    describer(gemini_server).describe(DescribeRequest(sample_crops[0], AssetType.ENVIRONMENT, name="Launch pad"))
    (received,) = gemini_server.received
    assert received.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert received.headers["x-goog-api-key"] == KEY
    config = received.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert received.body["systemInstruction"]["parts"][0]["text"] == SYSTEM_PROMPT
    (turn,) = received.body["contents"]
    image_part, text_part = turn["parts"]
    inline = image_part["inlineData"]
    assert (inline.get("mimeType") or inline.get("mime_type")) == "image/jpeg"  # protobuf JSON takes either
    assert "time of day" in text_part["text"] and '"Launch pad"' in text_part["text"]
    assert "tools" not in received.body


def test_retry_info_in_a_429_body_is_honoured(gemini_server, sample_crops) -> None:
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.3s"}
    gemini_server.add(FakeReply(status=429, message="Resource has been exhausted", details=(retry_info,)))
    start = time.perf_counter()
    description = describer(gemini_server).describe(DescribeRequest(sample_crops[1], AssetType.OBJECT))
    assert description.provider == "gemini"
    assert time.perf_counter() - start >= 0.3  # the body's 0.3 s, not the 0.01 s backoff
    first, second = gemini_server.received
    assert second.started - first.started >= 0.29


def test_api_key_invalid_is_an_auth_error_although_gemini_says_400(gemini_server, sample_crops) -> None:
    options = RemoteOptions(model="gemini-2.5-flash", backoff_initial_seconds=0.01)
    wrong = GeminiDescriber(options, api_key="AIzaSy-not-the-key", base_url=gemini_server.url)
    with pytest.raises(DescribeAuthError, match="API key not valid") as caught:
        wrong.describe(DescribeRequest(sample_crops[2], AssetType.OBJECT))
    assert "GEMINI_API_KEY" in str(caught.value)  # says where to fix it
    assert len(gemini_server.received) == 1


def test_an_unknown_model_is_refused_without_retrying(gemini_server, sample_crops) -> None:
    gemini_server.add(FakeReply(status=404, message="models/gemini-9 is not found for API version v1beta"))
    with pytest.raises(DescribeRequestRefusedError, match="not found"):
        describer(gemini_server, model="gemini-9").describe(DescribeRequest(sample_crops[3], AssetType.OBJECT))
    assert len(gemini_server.received) == 1


def test_needs_a_key_or_a_project() -> None:
    with pytest.raises(ValueError, match="API key or a Vertex AI project"):
        GeminiDescriber(RemoteOptions(model="gemini-2.5-flash"))
