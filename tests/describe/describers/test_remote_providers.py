"""Both remote describers, each through its real SDK against a loopback server speaking its real protocol.

Every test runs once for Gemini (``generateContent``) and once for OpenAI-compatible
(``chat/completions``): success, a burst of 429s, 500s, timeouts, malformed JSON, JSON against the
schema, a wrong key, the concurrency cap and progress callbacks.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from vidpipe.describe.describer import DescribeRequest, Description
from vidpipe.describe.errors import DescribeAuthError, DescribeReplyError, DescribeUnavailableError
from vidpipe.describe.fake_servers import FakeReply, FakeVisionServer
from vidpipe.describe.prompts import PROMPT_VERSION, TEMPERATURE, reply_json_schema
from vidpipe.describe.remote import encode_jpeg
from vidpipe.domain.enums import AssetType

GOOD = {
    "reverse_prompt": "woman in an orange flight suit, short brown hair, smiling, studio portrait, soft key light",
    "visual_description": "Astronaut in an orange suit. Keep the suit and the patches; the expression may vary.",
    "quality_score": 8,
    "suggested_name": "Orange Suit Astronaut",
}


def sha_prefix(image: np.ndarray) -> str:
    """The SHA-256 prefix the fake server puts in its default answer for this crop."""
    return hashlib.sha256(encode_jpeg(image, max_side=1536, quality=90)).hexdigest()[:12]


def test_success_sends_model_temperature_schema_and_the_image(
    fake_server: FakeVisionServer, make_remote, sample_crops, jpeg_pixels: Callable[[bytes], np.ndarray]
) -> None:
    fake_server.add(FakeReply(text=json.dumps(GOOD), input_tokens=1290, output_tokens=87))
    describer = make_remote(fake_server)
    crop = sample_crops[0]
    description = describer.describe(DescribeRequest(crop, AssetType.CHARACTER, name="Eileen"))

    assert description == Description(
        **{**GOOD, "suggested_name": "Eileen"},  # the user's own name wins
        provider=fake_server.dialect,
        model=describer.model,
        prompt_version=PROMPT_VERSION,
        input_tokens=1290,
        output_tokens=87,
    )
    (received,) = fake_server.received
    assert received.model == describer.model
    temperature, schema = fake_server.generation_settings(received)
    assert temperature == pytest.approx(TEMPERATURE)
    assert schema == reply_json_schema()
    image, prompt = fake_server.image_and_prompt(received)
    pixels = jpeg_pixels(image)
    assert pixels.shape == crop.shape
    assert np.abs(pixels.astype(int) - crop.astype(int)).mean() < 4  # the same picture, JPEG-compressed
    assert '"Eileen"' in prompt and "skin tone" in prompt and "CHARACTER" in prompt


def test_each_asset_gets_its_own_answer(fake_server: FakeVisionServer, make_remote, sample_crops) -> None:
    requests = [DescribeRequest(crop, AssetType.OBJECT) for crop in sample_crops[:4]]
    results = make_remote(fake_server).describe_many(requests)
    for crop, result in zip(sample_crops, results, strict=False):
        assert isinstance(result, Description)
        assert sha_prefix(crop) in result.reverse_prompt
        assert result.suggested_name == f"Subject {sha_prefix(crop)[:6]}"  # unnamed: the model's suggestion


def test_a_burst_of_429s_is_waited_out_as_retry_after_asks(
    fake_server: FakeVisionServer, make_remote, sample_crops
) -> None:
    fake_server.add(*[FakeReply(status=429, headers={"Retry-After": "0.2"}, message="slow down")] * 3)
    describer = make_remote(fake_server, max_attempts=5)
    start = time.perf_counter()
    description = describer.describe(DescribeRequest(sample_crops[1], AssetType.OBJECT))
    elapsed = time.perf_counter() - start

    assert description.provider == fake_server.dialect
    arrivals = [r.started for r in fake_server.received]
    assert len(arrivals) == 4
    # Backoff alone would be ~0.01-0.05 s; each gap is Retry-After's 0.2 s (plus jitter up to 0.01 s).
    assert all(later - earlier >= 0.19 for earlier, later in itertools.pairwise(arrivals))
    assert elapsed >= 0.6


def test_server_errors_are_retried_up_to_the_cap_then_reported(
    fake_server: FakeVisionServer, make_remote, sample_crops
) -> None:
    fake_server.add(*[FakeReply(status=500, message="internal failure")] * 3)
    describer = make_remote(fake_server, max_attempts=3)
    with pytest.raises(DescribeUnavailableError) as caught:
        describer.describe(DescribeRequest(sample_crops[2], AssetType.PROP, name="Helmet"))
    message = str(caught.value)
    assert "3 attempts" in message and "500" in message and "'Helmet'" in message and describer.model in message
    assert len(fake_server.received) == 3

    fake_server.add(FakeReply(status=503, message="overloaded"))  # one 5xx, then the default success
    assert describer.describe(DescribeRequest(sample_crops[2], AssetType.PROP)).provider == fake_server.dialect
    assert len(fake_server.received) == 5


def test_a_timeout_is_retried_and_then_reported(fake_server: FakeVisionServer, make_remote, sample_crops) -> None:
    describer = make_remote(fake_server, timeout_seconds=0.3, max_attempts=2)
    fake_server.add(FakeReply(delay_seconds=3.0), FakeReply())  # the first answer comes far too late
    start = time.perf_counter()
    assert describer.describe(DescribeRequest(sample_crops[3], AssetType.OBJECT)).provider == fake_server.dialect
    assert 0.3 <= time.perf_counter() - start < 2.0
    assert fake_server.arrived == 2

    fake_server.add(FakeReply(delay_seconds=3.0), FakeReply(delay_seconds=3.0))
    start = time.perf_counter()
    with pytest.raises(DescribeUnavailableError, match=r"2 attempts.*no answer within 0.3 s"):
        describer.describe(DescribeRequest(sample_crops[4], AssetType.OBJECT))
    assert time.perf_counter() - start < 2.0  # the client gave up; it did not wait for the server
    assert fake_server.arrived == 4


def test_malformed_json_is_asked_for_once_more_then_is_the_assets_error(
    fake_server: FakeVisionServer, make_remote, sample_crops
) -> None:
    describer = make_remote(fake_server, max_attempts=4)
    fake_server.add(FakeReply(text="Sure! Here it is: {reverse_prompt: oops"), FakeReply(text='```json\n{"a": '))
    with pytest.raises(DescribeReplyError, match="not JSON") as caught:
        describer.describe(DescribeRequest(sample_crops[0], AssetType.VEHICLE, name="Rover"))
    assert "'Rover'" in str(caught.value) and "2 replies" in str(caught.value)
    assert len(fake_server.received) == 2  # once more, not max_attempts times

    # A bad reply and then a good one: described, and the tokens of both replies are counted.
    fake_server.add(FakeReply(text="no JSON here", input_tokens=10, output_tokens=3), FakeReply(input_tokens=20))
    description = describer.describe(DescribeRequest(sample_crops[0], AssetType.VEHICLE))
    assert (description.input_tokens, description.output_tokens) == (30, 3 + 120)


def test_json_against_the_schema_is_refused(fake_server: FakeVisionServer, make_remote, sample_crops) -> None:
    wrong = json.dumps({"reverse_prompt": GOOD["reverse_prompt"], "visual_description": "x", "quality_score": 42})
    fake_server.add(FakeReply(text=wrong), FakeReply(text=wrong))
    with pytest.raises(DescribeReplyError) as caught:
        make_remote(fake_server).describe(DescribeRequest(sample_crops[5], AssetType.STYLE))
    message = str(caught.value)
    assert "quality_score" in message and "42" in message and "suggested_name" in message
    assert len(fake_server.received) == 2


def test_json_in_a_fence_with_preamble_is_accepted(fake_server: FakeVisionServer, make_remote, sample_crops) -> None:
    fake_server.add(FakeReply(text=f"Here is the record:\n```json\n{json.dumps(GOOD)}\n```\nAnything else?"))
    description = make_remote(fake_server).describe(DescribeRequest(sample_crops[6], AssetType.CHARACTER))
    assert description.reverse_prompt == GOOD["reverse_prompt"] and description.quality_score == 8
    assert len(fake_server.received) == 1


def test_a_wrong_key_is_not_retried_and_never_shown(
    fake_server: FakeVisionServer, make_remote, sample_crops, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_key = "wrong-secret-key-9876543210"
    describer = make_remote(fake_server, api_key=wrong_key, max_attempts=4)
    with pytest.raises(DescribeAuthError) as caught:
        describer.describe(DescribeRequest(sample_crops[7], AssetType.OBJECT, name="Mug"))
    assert len(fake_server.received) == 1
    error = caught.value
    assert "refused the credentials" in str(error) and "'Mug'" in str(error)
    assert error.__cause__ is None and error.__suppress_context__  # no SDK exception chained on
    # The OpenAI fake echoes the key it was given, as OpenAI does: it must be redacted.
    if fake_server.dialect == "openai":
        assert "[redacted]" in str(error)
    logged = caplog.text + "".join(record.getMessage() for record in caplog.records)
    for secret in (wrong_key, fake_server.api_key):
        assert secret not in str(error) and secret not in repr(error) and secret not in logged


def test_after_a_refused_key_queued_requests_are_not_sent(
    fake_server: FakeVisionServer, make_remote, sample_crops
) -> None:
    describer = make_remote(fake_server, api_key="another-wrong-key-123456", max_in_flight=1)
    requests = [DescribeRequest(crop, AssetType.PROP) for crop in sample_crops[:4]]
    results = describer.describe_many(requests)
    assert all(isinstance(r, DescribeAuthError) for r in results)
    assert len(fake_server.received) == 1  # one refusal; the other three never went on the wire
    assert "not sent" in str(results[-1])


def test_no_more_than_max_in_flight_requests_at_once(fake_server: FakeVisionServer, make_remote, sample_crops) -> None:
    fake_server.latency_seconds = 0.2
    describer = make_remote(fake_server, max_in_flight=3)
    requests = [DescribeRequest(crop, AssetType.OBJECT) for crop in sample_crops]
    calls: list[tuple[int, float, int]] = []
    start = time.perf_counter()
    results = describer.describe_many(
        requests, on_done=lambda i, r: calls.append((i, time.perf_counter() - start, threading.get_ident()))
    )
    elapsed = time.perf_counter() - start

    assert fake_server.max_in_flight == 3
    assert elapsed < 8 * 0.2 * 0.75  # well under serial (1.6 s); ideal is 3 rounds, 0.6 s
    assert [sha_prefix(c) in r.reverse_prompt for c, r in zip(sample_crops, results, strict=True)] == [True] * 8
    assert sorted(i for i, _, _ in calls) == list(range(8))
    assert {thread for _, _, thread in calls} == {threading.get_ident()}  # on the caller's thread
    assert calls[0][1] < calls[-1][1] - 0.2  # progress arrives as assets finish, not all at the end


def test_one_failing_asset_does_not_fail_the_others(fake_server: FakeVisionServer, make_remote, sample_crops) -> None:
    describer = make_remote(fake_server, max_in_flight=1)  # one at a time, so the script meets assets in order
    fake_server.add(FakeReply(), FakeReply(text="{}"), FakeReply(text="{}"), FakeReply())
    requests = [DescribeRequest(crop, AssetType.OBJECT) for crop in sample_crops[:3]]
    done: dict[int, Description | Exception] = {}
    results = describer.describe_many(requests, on_done=done.__setitem__)
    assert isinstance(results[0], Description) and isinstance(results[2], Description)
    assert isinstance(results[1], DescribeReplyError)
    assert done == dict(enumerate(results))


def test_the_cap_holds_across_runs_sharing_a_describer(
    fake_server: FakeVisionServer, make_remote, sample_crops
) -> None:
    fake_server.latency_seconds = 0.1
    describer = make_remote(fake_server, max_in_flight=2)
    requests = [DescribeRequest(crop, AssetType.OBJECT) for crop in sample_crops[:4]]
    outcomes: list[list[Description | Exception]] = []
    runs = [threading.Thread(target=lambda: outcomes.append(describer.describe_many(requests))) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert len(outcomes) == 2 and all(isinstance(r, Description) for results in outcomes for r in results)
    assert fake_server.max_in_flight == 2  # two runs of two workers each, one provider limit
