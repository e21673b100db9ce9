"""Manifest runs described by a remote provider (a loopback server speaking OpenAI's or Gemini's
protocol, reached through the real SDK): provenance and tokens stored, progress per asset, the cache
on re-runs, failures recorded per asset, fallback to offline, and no key anywhere in the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vidpipe.app import AppContext
from vidpipe.db.models import Asset, Job, Manifest
from vidpipe.describe.fake_servers import FakeReply, FakeVisionServer
from vidpipe.domain.enums import AssetType, ManifestStatus
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs
from vidpipe.services.views import JobView
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.slow]

KEY = "sk-registry-test-secret-42"


def remote_settings(
    settings: Settings, tmp_path: Path, dialect: str, server: FakeVisionServer, **extra: Any
) -> Settings:
    provider: dict[str, Any] = {"api_key": KEY, "base_url": server.url, "model": "vision-test", "max_in_flight": 3}
    describe: dict[str, Any] = {
        "providers": [dialect, *extra.pop("then", [])],
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        dialect: provider,
        **extra,
    }
    return settings.model_copy(
        update={"data_dir": tmp_path / "data", "describe": settings.describe.model_validate(describe)}
    )


def remote_app(app_ctx: AppContext, configured: Settings) -> AppContext:
    """The test's registry, with the configured describers instead of the offline one."""
    here = configured.model_copy(update={"database_url": app_ctx.settings.database_url})
    return AppContext.open(here, toolkit=app_ctx.toolkit())


def process(ctx: AppContext, manifest_id: object, **options: Any) -> JobView:
    job = runs.process_manifest(ctx, str(manifest_id), **options)
    assert job.status.value == "SUCCEEDED", job.error
    return job


def photos(data_dir: Path) -> list[PhotoIn]:
    samples = data_dir / "detection/skimage_data"
    return [
        PhotoIn(samples / "coffee.png", AssetType.PROP, "Espresso cup"),
        PhotoIn(samples / "motorcycle_left.png", AssetType.VEHICLE, "Red bike"),
        PhotoIn(samples / "rocket.jpg", AssetType.ENVIRONMENT, "Launch pad"),
    ]


def registry_text(factory: sessionmaker[Session]) -> str:
    with factory() as session:
        rows = [*session.scalars(select(Asset)), *session.scalars(select(Manifest)), *session.scalars(select(Job))]
        return " ".join(repr({k: v for k, v in vars(row).items() if not k.startswith("_")}) for row in rows)


@pytest.mark.parametrize("dialect", ["openai", "gemini"])
def test_a_remote_provider_describes_the_registry_and_the_cache_saves_the_rerun(
    env: tuple,  # type: ignore[type-arg]
    make_manifest,  # type: ignore[no-untyped-def]
    assets_of,  # type: ignore[no-untyped-def]
    app_ctx: AppContext,
    settings: Settings,
    data_dir: Path,
    tmp_path: Path,
    dialect: str,
) -> None:
    factory, store, _ = env
    with (
        FakeVisionServer(dialect, api_key=KEY) as server,  # type: ignore[arg-type]
        remote_app(app_ctx, remote_settings(settings, tmp_path, dialect, server)) as ctx,
    ):
        manifest_id = make_manifest(factory, store, photos(data_dir))
        seen: list[dict[str, int]] = []
        process(
            ctx, manifest_id, sink=lambda step, counters: seen.append(dict(counters)) if step == "describe" else None
        )
        assets = assets_of(factory, manifest_id)
        assert len(server.received) == len(assets)
        for asset in assets:
            assert asset.describe_provider == dialect and asset.describe_model == "vision-test"
            assert asset.describe_prompt_version == "remote-1" and asset.describe_error is None
            assert asset.describe_input_tokens == 300 and asset.describe_output_tokens == 120
            assert asset.reverse_prompt and asset.visual_description
        # Each asset counted as it finished, up to the number described.
        described = [c["crops_described"] for c in seen]
        assert described == sorted(described) and described[-1] == len(assets) == seen[-1]["describe_total"]
        assert len(set(described)) == len(assets) + 1  # 0, 1, 2, ... one step per asset
        with factory() as session:
            job = session.scalars(select(Job).where(Job.target_id == manifest_id)).one()
            assert job.progress["crops_described"] == len(assets)

        process(ctx, manifest_id, reprocess=True)  # the cache answers: nothing is paid twice
        assert len(server.received) == len(assets)
        process(ctx, manifest_id, reprocess=True, force_describe=True)
        assert len(server.received) == 2 * len(assets)
    assert KEY not in registry_text(factory)


def test_bad_replies_are_recorded_per_asset_and_never_fail_the_manifest(
    env: tuple,  # type: ignore[type-arg]
    make_manifest,  # type: ignore[no-untyped-def]
    assets_of,  # type: ignore[no-untyped-def]
    app_ctx: AppContext,
    settings: Settings,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    factory, store, _ = env
    # The first asset's two tries both answer nonsense; every other request is answered well.
    script = [FakeReply(text="this is not JSON"), FakeReply(text='{"reverse_prompt": "x"}')]
    with FakeVisionServer("openai", api_key=KEY, script=script) as server:
        configured = remote_settings(settings, tmp_path, "openai", server, max_in_flight=1)
        configured.describe.openai.max_in_flight = 1  # one at a time, so the script goes to one asset
        manifest_id = make_manifest(factory, store, photos(data_dir))
        with remote_app(app_ctx, configured) as ctx:
            process(ctx, manifest_id)
            stats = manifests.show_manifest(ctx, str(manifest_id)).stats
    assert stats is not None
    assets = assets_of(factory, manifest_id)
    failed = [a for a in assets if a.describe_error]
    assert len(failed) == 1 and stats.describe_errors == 1
    assert failed[0].reverse_prompt is None and failed[0].describe_provider is None
    assert "openai" in failed[0].describe_error and failed[0].quality_score is not None  # measured, not described
    assert all(a.describe_provider == "openai" for a in assets if a is not failed[0])
    with factory() as session:
        assert session.get(Manifest, manifest_id).status is ManifestStatus.READY  # type: ignore[union-attr]


def test_a_refused_key_falls_back_to_offline_and_is_never_stored(
    env: tuple,  # type: ignore[type-arg]
    make_manifest,  # type: ignore[no-untyped-def]
    assets_of,  # type: ignore[no-untyped-def]
    app_ctx: AppContext,
    settings: Settings,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    factory, store, _ = env
    with FakeVisionServer("openai", api_key="sk-the-right-one") as server:
        configured = remote_settings(settings, tmp_path, "openai", server, then=["offline"])
        manifest_id = make_manifest(factory, store, photos(data_dir))
        with remote_app(app_ctx, configured) as ctx:
            process(ctx, manifest_id)
        # Only the requests already on the wire are refused; the rest are not sent (max_in_flight 3).
        assert 1 <= len(server.received) <= 3
    assets = assets_of(factory, manifest_id)
    assert {a.describe_provider for a in assets} == {"offline"}
    assert all(a.reverse_prompt and a.describe_error is None for a in assets)
    assert KEY not in registry_text(factory)
