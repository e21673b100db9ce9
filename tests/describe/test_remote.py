"""The shared remote machinery on its own: Retry-After, status faults, tolerant JSON, JPEG, options, redaction."""

from __future__ import annotations

import email.utils
import io
import time

import numpy as np
import pytest
from PIL import Image

from vidpipe.describe.errors import redact
from vidpipe.describe.remote import RemoteOptions, encode_jpeg, retry_after_seconds, status_fault, tolerant_json


def test_retry_after_in_seconds_milliseconds_and_dates() -> None:
    now = time.time()
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": " 0.25 "}) == 0.25
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5  # the finer one wins
    in_20 = email.utils.formatdate(now + 20, usegmt=True)
    assert retry_after_seconds({"retry-after": in_20}, now=now) == pytest.approx(20, abs=1)
    assert retry_after_seconds({"retry-after": email.utils.formatdate(now - 60, usegmt=True)}, now=now) == 0.0
    for useless in ({}, None, {"retry-after": "soon"}, {"retry-after": "-3"}, {"retry-after": "nan"}):
        assert retry_after_seconds(useless) is None


def test_status_faults() -> None:
    assert status_fault(401, "x").kind == status_fault(403, "x").kind == "auth"
    for code in (408, 429, 500, 502, 503, 504):
        assert status_fault(code, "x").kind == "transient"
    for code in (400, 404, 413, 422):
        assert status_fault(code, "x").kind == "refused"
    assert status_fault(429, "x", {"retry-after": "3"}).retry_after_seconds == 3.0


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '```json\n{"a": 1}\n```',
        'Sure, here you go:\n{"a": 1}\nHope that helps! {"b": 2}',
        '[{"a": 1}]',
        'note {not json} then {"a": 1}',
    ],
)
def test_tolerant_json_finds_the_first_object(text: str) -> None:
    assert tolerant_json(text) == {"a": 1}


@pytest.mark.parametrize("text", ["", "no braces at all", '{"a": 1', "[1, 2]", '{"a": 1,}'])
def test_tolerant_json_refuses_text_without_an_object(text: str) -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        tolerant_json(text)


def test_jpeg_is_deterministic_and_shrunk_to_the_limit() -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 255, (300, 500, 3), dtype=np.uint8)
    first = encode_jpeg(image, max_side=200, quality=90)
    assert first == encode_jpeg(image.copy(), max_side=200, quality=90)
    with Image.open(io.BytesIO(first)) as picture:
        assert picture.format == "JPEG" and picture.size == (200, 120)
    with Image.open(io.BytesIO(encode_jpeg(image, max_side=1000, quality=90))) as picture:
        assert picture.size == (500, 300)  # never enlarged


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="model"):
        RemoteOptions(model=" ")
    with pytest.raises(ValueError, match="max_in_flight"):
        RemoteOptions(model="m", max_in_flight=0)
    with pytest.raises(ValueError, match="timeout"):
        RemoteOptions(model="m", timeout_seconds=0)


def test_redact_hides_every_secret() -> None:
    assert redact("key sk-1 and sk-1 and AIza-2", ["sk-1", None, "", "AIza-2"]) == (
        "key [redacted] and [redacted] and [redacted]"
    )
