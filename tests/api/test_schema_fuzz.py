"""Schemathesis over the OpenAPI schema: generated requests to every operation never get a 500,
and every answer fits the schema (on a registry holding one processed manifest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from vidpipe.api.app import create_app
from vidpipe.app import AppContext
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.slow]


@pytest.fixture
def api_schema(tmp_path: Path, settings: Settings, toolkit: VisionToolkit, data_dir: Path) -> Iterator[Any]:
    here = settings.model_copy(update={"data_dir": tmp_path / "data", "database_url": None})
    ctx = AppContext.open(here, toolkit=toolkit)
    photos = [
        PhotoIn(
            data_dir / "detection/skimage_data/coffee.png",
            __import__("vidpipe.domain.enums", fromlist=["x"]).AssetType.PROP,
        )
    ]
    manifest = manifests.create_manifest(ctx, "Fuzzed", photos).manifest
    runs.process_manifest(ctx, str(manifest.id))
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(ctx, serve_jobs=False))
    ctx.close()


def test_no_server_error_and_answers_fit_the_schema(api_schema: Any) -> None:
    # Each operation gets its own Hypothesis run (schemathesis' pytest plugin does the same; it is
    # driven by hand here because its fixture hook does not follow pytest 9).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            response = case.call()
            statuses.append(response.status_code)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
            )
            if response.status_code < 400:
                case.validate_response(response, checks=[response_schema_conformance])

        check()
    # The fuzzing reached the handlers, not only the validation in front of them.
    assert len(statuses) > 100 and any(200 <= s < 300 for s in statuses) and any(s == 404 for s in statuses)
