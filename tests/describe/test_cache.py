"""The describe cache: keyed by image, provider, model and prompt; a second run asks no server; force asks again."""

from __future__ import annotations

from pathlib import Path

from vidpipe.describe.cache import DescribeCache, cache_key, sha256_hex
from vidpipe.describe.describer import DescribeRequest, Description
from vidpipe.describe.fake_servers import FakeVisionServer
from vidpipe.domain.enums import AssetType

DESCRIPTION = Description(
    reverse_prompt="a brass compass with a cracked glass face, warm side light",
    visual_description="Brass compass. Keep the crack in the glass.",
    quality_score=6.5,
    suggested_name="Cracked Compass",
    provider="gemini",
    model="gemini-2.5-flash",
    prompt_version="remote-1",
    input_tokens=812,
    output_tokens=95,
)


def key(**changes: str) -> str:
    parts = {
        "image_sha256": sha256_hex(b"jpeg"),
        "provider": "gemini",
        "model": "gemini-2.5-flash",
        "prompt_version": "remote-1",
        "prompt_sha256": sha256_hex("prompt"),
    }
    return cache_key(**{**parts, **changes})


def test_round_trip_and_misses(tmp_path: Path) -> None:
    cache = DescribeCache(tmp_path)
    assert cache.get(key()) is None
    cache.put(key(), DESCRIPTION)
    assert cache.get(key()) == DESCRIPTION
    assert (tmp_path / key()[:2] / f"{key()}.json").is_file()
    assert not list(tmp_path.rglob("*.part"))  # the temporary file was renamed into place
    for change in ({"provider": "openai"}, {"model": "gemini-2.5-pro"}, {"prompt_version": "remote-2"}):
        assert cache.get(key(**change)) is None
    assert cache.get(key(image_sha256=sha256_hex(b"other"))) is None
    assert cache.get(key(prompt_sha256=sha256_hex("other prompt"))) is None


def test_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    cache = DescribeCache(tmp_path)
    cache.put(key(), DESCRIPTION)
    (tmp_path / key()[:2] / f"{key()}.json").write_text('{"reverse_prompt": "half a')
    assert cache.get(key()) is None


def test_reprocessing_does_not_pay_twice_unless_forced(tmp_path: Path, make_remote, sample_crops) -> None:
    cache = DescribeCache(tmp_path / "describe-cache")
    request = DescribeRequest(sample_crops[0], AssetType.PROP, name="Helmet")
    with FakeVisionServer("openai", api_key="sk-cache") as server:
        first = make_remote(server, cache=cache).describe(request)
        again = make_remote(server, cache=cache).describe(request)  # a new describer: a new run
        assert again == first and len(server.received) == 1

        renamed = make_remote(server, cache=cache).describe(DescribeRequest(request.image, AssetType.PROP, name="Lid"))
        assert renamed.suggested_name == "Lid" and len(server.received) == 2  # the prompt changed

        forced = make_remote(server, cache=cache, force=True).describe(request)
        assert forced == first and len(server.received) == 3
        assert make_remote(server, cache=cache, model="other-model").describe(request).model == "other-model"
        assert len(server.received) == 4
