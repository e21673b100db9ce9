"""What only the OpenAI-compatible describer does: message layout, strict json_schema and its fallback, quotas."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest

from vidpipe.describe.describer import DescribeRequest
from vidpipe.describe.describers.openai_compat import NO_KEY, SCHEMA_NAME, OpenAICompatDescriber
from vidpipe.describe.errors import DescribeRequestRefusedError
from vidpipe.describe.fake_servers import FakeReply, FakeVisionServer
from vidpipe.describe.prompts import SYSTEM_PROMPT, reply_json_schema
from vidpipe.describe.remote import RemoteOptions, encode_jpeg
from vidpipe.domain.enums import AssetType

KEY = "sk-openai-test-secret"
OPTIONS = RemoteOptions(model="qwen2.5-vl", backoff_initial_seconds=0.01, backoff_max_seconds=0.05)


@pytest.fixture
def openai_server() -> Iterator[FakeVisionServer]:
    with FakeVisionServer("openai", api_key=KEY) as server:
        yield server


def test_request_is_chat_completions_with_a_data_url_and_strict_schema(openai_server, sample_crops) -> None:
    describer = OpenAICompatDescriber(OPTIONS, base_url=openai_server.url, api_key=KEY)
    describer.describe(DescribeRequest(sample_crops[0], AssetType.VEHICLE, detection_class="truck"))
    (received,) = openai_server.received
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert received.body["model"] == "qwen2.5-vl"
    assert received.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": reply_json_schema()},
    }
    system, user = received.body["messages"]
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    text, image = user["content"]
    assert "number plates" in text["text"] and '"truck"' in text["text"]
    prefix, payload = image["image_url"]["url"].split(",", 1)
    assert prefix == "data:image/jpeg;base64"
    assert base64.b64decode(payload) == encode_jpeg(sample_crops[0], max_side=1536, quality=90)


def test_a_server_without_json_schema_support_is_asked_without_it(sample_crops, caplog) -> None:
    caplog.set_level(logging.WARNING)
    with FakeVisionServer("openai", api_key=KEY, reject_response_format=True) as server:
        describer = OpenAICompatDescriber(OPTIONS, base_url=server.url, api_key=KEY)
        first = describer.describe(DescribeRequest(sample_crops[1], AssetType.OBJECT))
        second = describer.describe(DescribeRequest(sample_crops[2], AssetType.OBJECT))
        bodies = [r.body for r in server.received]
    assert first.provider == second.provider == "openai"
    # Refused once with the format, then asked without it; the next asset goes straight without.
    assert ["response_format" in body for body in bodies] == [True, False, False]
    assert describer.json_schema is False
    assert sum("does not accept a JSON-schema response format" in r.getMessage() for r in caplog.records) == 1


def test_json_schema_off_sends_no_response_format(openai_server, sample_crops) -> None:
    describer = OpenAICompatDescriber(OPTIONS, base_url=openai_server.url, api_key=KEY, json_schema=False)
    describer.describe(DescribeRequest(sample_crops[3], AssetType.PROP))
    assert "response_format" not in openai_server.received[0].body


def test_an_exhausted_quota_is_not_waited_on(openai_server, sample_crops) -> None:
    openai_server.add(FakeReply(status=429, message="You exceeded your current quota", code="insufficient_quota"))
    describer = OpenAICompatDescriber(OPTIONS, base_url=openai_server.url, api_key=KEY)
    with pytest.raises(DescribeRequestRefusedError, match="quota"):
        describer.describe(DescribeRequest(sample_crops[4], AssetType.OBJECT))
    assert len(openai_server.received) == 1


def test_a_local_server_without_a_key(sample_crops) -> None:
    with FakeVisionServer("openai", api_key=NO_KEY) as server:
        description = OpenAICompatDescriber(OPTIONS, base_url=server.url).describe(
            DescribeRequest(sample_crops[5], AssetType.STYLE)
        )
        assert server.received[0].headers["authorization"] == f"Bearer {NO_KEY}"
    assert description.model == "qwen2.5-vl"
