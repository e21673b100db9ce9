"""Settings from the environment: the describe group (providers, per-provider limits, keys kept secret)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vidpipe.settings import Settings


def test_describe_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDPIPE_DESCRIBE__PROVIDERS", "Gemini, offline")
    monkeypatch.setenv("VIDPIPE_DESCRIBE__GEMINI__API_KEY", "AIza-env-secret")
    monkeypatch.setenv("VIDPIPE_DESCRIBE__GEMINI__MAX_IN_FLIGHT", "3")
    monkeypatch.setenv("VIDPIPE_DESCRIBE__OPENAI__TIMEOUT_SECONDS", "12.5")
    monkeypatch.setenv("VIDPIPE_DESCRIBE__OPENAI__JSON_SCHEMA", "false")
    describe = Settings().describe
    assert describe.providers == ["gemini", "offline"]
    assert describe.gemini.api_key is not None and describe.gemini.api_key.get_secret_value() == "AIza-env-secret"
    assert describe.gemini.max_in_flight == 3 and describe.openai.max_in_flight == 5
    assert describe.openai.timeout_seconds == 12.5 and describe.openai.json_schema is False
    assert "AIza-env-secret" not in repr(describe) and "AIza-env-secret" not in str(Settings().model_dump())


def test_providers_as_json_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDPIPE_DESCRIBE__PROVIDERS", '["openai"]')
    assert Settings().describe.providers == ["openai"]
    for bad in ("dragon", "", "[1]"):
        monkeypatch.setenv("VIDPIPE_DESCRIBE__PROVIDERS", bad)
        with pytest.raises(ValidationError, match="providers"):
            Settings()
    monkeypatch.delenv("VIDPIPE_DESCRIBE__PROVIDERS")
    monkeypatch.setenv("VIDPIPE_DESCRIBE__GEMINI__MAX_IN_FLIGHT", "0")
    with pytest.raises(ValidationError, match="max_in_flight"):
        Settings()


def test_a_short_lease_brings_the_heartbeat_with_it_and_a_bad_pair_is_refused() -> None:
    import pytest
    from pydantic import ValidationError

    from vidpipe.settings import JobSettings

    assert JobSettings().heartbeat_seconds == 5 and JobSettings().lease_seconds == 30
    assert JobSettings(lease_seconds=6).heartbeat_seconds == 2
    with pytest.raises(ValidationError, match="at most half of lease_seconds"):
        JobSettings(lease_seconds=6, heartbeat_seconds=4)
