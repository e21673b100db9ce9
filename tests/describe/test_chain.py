"""Building the describer from settings, and falling back from one provider to the next at run time."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vidpipe.describe.chain import ChainDescriber, build_describer, gemini_api_key, openai_api_key
from vidpipe.describe.describer import DescribeRequest, Description
from vidpipe.describe.describers.gemini import GeminiDescriber
from vidpipe.describe.describers.offline import OfflineDescriber
from vidpipe.describe.describers.openai_compat import OpenAICompatDescriber
from vidpipe.describe.errors import DescribeReplyError
from vidpipe.describe.fake_servers import FakeReply, FakeVisionServer
from vidpipe.domain.enums import AssetType
from vidpipe.errors import ConfigError
from vidpipe.settings import Settings

GEMINI_KEY = "AIzaSy-chain-secret"


def settings_for(tmp_path: Path, **describe: object) -> Settings:
    return Settings(model_dir=tmp_path / "no-models", data_dir=tmp_path / "data", describe=describe)


def offline() -> OfflineDescriber:
    return OfflineDescriber(None, ocr=False)  # pixels only: no weights needed


def test_with_no_keys_the_offline_describer_is_used(tmp_path: Path) -> None:
    assert isinstance(build_describer(settings_for(tmp_path), environ={}), OfflineDescriber)


def test_keys_from_the_environment_enable_remote_providers(tmp_path: Path) -> None:
    environ = {"GEMINI_API_KEY": "AIza-env", "OPENAI_API_KEY": "sk-env"}
    chain = build_describer(settings_for(tmp_path), environ=environ)
    assert isinstance(chain, ChainDescriber) and chain.provider_names == ("gemini", "openai", "offline")
    gemini = chain.describers[0]
    assert isinstance(gemini, GeminiDescriber) and gemini.model == "gemini-2.5-flash"
    assert gemini.cache is not None and gemini.cache.folder == tmp_path / "data" / "describe-cache"
    assert gemini_api_key(settings_for(tmp_path), {"GOOGLE_API_KEY": "AIza-google"}) == "AIza-google"
    configured = settings_for(tmp_path, gemini={"api_key": "AIza-set"}, openai={"api_key": "sk-set"})
    assert gemini_api_key(configured, environ) == "AIza-set"  # the setting wins over the environment
    assert openai_api_key(configured, environ) == "sk-set"


def test_a_local_server_needs_only_a_base_url(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        providers="openai,offline",
        openai={"base_url": "http://127.0.0.1:11434/v1", "model": "llava", "max_in_flight": 2, "timeout_seconds": 7},
        cache=False,
    )
    chain = build_describer(settings, environ={})
    assert isinstance(chain, ChainDescriber)
    compat = chain.describers[0]
    assert isinstance(compat, OpenAICompatDescriber) and compat.base_url == "http://127.0.0.1:11434/v1"
    assert (compat.model, compat.options.max_in_flight, compat.options.timeout_seconds) == ("llava", 2, 7.0)
    assert compat.cache is None


def test_no_configured_provider_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        build_describer(settings_for(tmp_path, providers=["gemini", "openai"]), environ={})


def test_settings_reach_the_server_and_the_cache(tmp_path: Path, sample_crops) -> None:
    with FakeVisionServer("gemini", api_key=GEMINI_KEY) as server:
        settings = settings_for(
            tmp_path,
            providers=["gemini", "offline"],
            gemini={"api_key": GEMINI_KEY, "base_url": server.url, "model": "gemini-2.5-flash-lite"},
        )
        requests = [DescribeRequest(crop, AssetType.OBJECT) for crop in sample_crops[:3]]
        first = build_describer(settings, environ={}).describe_many(requests)
        again = build_describer(settings, environ={}).describe_many(requests)
        assert {r.model for r in server.received} == {"gemini-2.5-flash-lite"} and len(server.received) == 3
    assert all(isinstance(r, Description) and r.provider == "gemini" for r in first)
    assert again == first  # from the cache: no second request
    assert len(list((tmp_path / "data" / "describe-cache").rglob("*.json"))) == 3


def test_a_refused_key_falls_back_and_retires_the_provider(make_remote, sample_crops, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeVisionServer("gemini", api_key=GEMINI_KEY) as server:
        chain = ChainDescriber([make_remote(server, api_key="AIzaSy-wrong-key"), offline()])
        requests = [DescribeRequest(crop, AssetType.PROP) for crop in sample_crops[:4]]
        done: list[int] = []
        results = chain.describe_many(requests, on_done=lambda i, r: done.append(i))
        asked = server.arrived
        assert 1 <= asked <= 4  # the requests already in flight when the first refusal came back
        assert all(isinstance(r, Description) and r.provider == "offline" for r in results)
        assert sorted(done) == [0, 1, 2, 3]  # once per asset, when final
        later = chain.describe(DescribeRequest(sample_crops[5], AssetType.PROP))
        assert later.provider == "offline" and server.arrived == asked  # gemini is not asked again
    assert "AIzaSy-wrong-key" not in caplog.text and "will not be asked again" in caplog.text


def test_an_unavailable_provider_falls_back_for_that_asset_only(make_remote, sample_crops) -> None:
    with FakeVisionServer("openai", api_key="sk-chain") as server:
        chain = ChainDescriber([make_remote(server, max_attempts=2), offline()])
        server.add(FakeReply(status=503), FakeReply(status=503))
        assert chain.describe(DescribeRequest(sample_crops[0], AssetType.OBJECT)).provider == "offline"
        assert chain.describe(DescribeRequest(sample_crops[1], AssetType.OBJECT)).provider == "openai"


def test_a_bad_reply_stays_the_assets_error(make_remote, sample_crops) -> None:
    with FakeVisionServer("openai", api_key="sk-chain") as server:
        chain = ChainDescriber([make_remote(server, max_in_flight=1), offline()])
        server.add(FakeReply(text="{}"), FakeReply(text="{}"))
        results = chain.describe_many([DescribeRequest(crop, AssetType.OBJECT) for crop in sample_crops[:2]])
    assert isinstance(results[0], DescribeReplyError)
    assert isinstance(results[1], Description) and results[1].provider == "openai"
