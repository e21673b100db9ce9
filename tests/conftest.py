"""Shared fixtures: where the real weights and data are, and settings that point at them.

The real weights and data live outside the repository (../shared), for licence reasons. Tests that
need them skip with a reason naming the missing folder; CI always has them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from vidpipe.app import AppContext
from vidpipe.db.models import Asset
from vidpipe.db.repositories.manifests import find_manifest
from vidpipe.db.throwaway import DatabaseUnreachableError, throwaway_postgres
from vidpipe.describe.describers.offline import OfflineDescriber
from vidpipe.domain.enums import AssetType, JobStatus
from vidpipe.errors import VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.inference.sessions import clear_sessions
from vidpipe.pipeline.run_stats import RunStats
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs
from vidpipe.settings import Settings, StoreSettings
from vidpipe.storage import FileStore

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = Path(os.environ.get("VIDPIPE_MODEL_DIR") or REPO_ROOT.parent / "shared" / "models").resolve()
DATA_DIR = Path(os.environ.get("VIDPIPE_TEST_DATA_DIR") or REPO_ROOT.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def model_dir() -> Path:
    if not (MODEL_DIR / "yolox_nano.onnx").is_file():
        pytest.skip(f"real model weights not found in {MODEL_DIR} (set VIDPIPE_MODEL_DIR)")
    return MODEL_DIR


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "faces" / "labels.csv").is_file():
        pytest.skip(f"real test data not found in {DATA_DIR} (set VIDPIPE_TEST_DATA_DIR)")
    return DATA_DIR


@pytest.fixture(scope="session")
def settings(model_dir: Path) -> Settings:
    return Settings(model_dir=model_dir)


@pytest.fixture
def photo(data_dir: Path) -> Callable[[str], np.ndarray[Any, Any]]:
    """A scikit-image sample photo from the shared test data, by file name."""
    return lambda name: load_image(data_dir / "detection" / "skimage_data" / name)


@pytest.fixture(autouse=True)
def _no_error_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail any test during which something logged an ERROR: that is a swallowed failure."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        pytest.fail("ERROR logged during the test: " + "; ".join(r.getMessage() for r in errors))


@pytest.fixture
def fresh_sessions() -> Iterator[None]:
    clear_sessions()
    yield
    clear_sessions()


POSTGRES_ADMIN_URL = os.environ.get(
    "VIDPIPE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_database() -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(throwaway_postgres(POSTGRES_ADMIN_URL, prefix="vidpipe_test"))
        except DatabaseUnreachableError as exc:
            if os.environ.get("CI"):
                pytest.fail(str(exc))  # CI always has PostgreSQL: never skip there
            pytest.skip(str(exc))
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database (the distributed backend's registry)."""
    yield from _postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the product supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        yield from _postgres_database()


# ---------------------------------------------------------------- the engine: models, registry, runs

MakeManifest = Callable[[sessionmaker[Session], FileStore, list[PhotoIn]], uuid.UUID]
AssetsOf = Callable[[sessionmaker[Session], uuid.UUID], list[Asset]]


@pytest.fixture(scope="module")
def toolkit(settings: Settings) -> VisionToolkit:
    return VisionToolkit.create(settings)


class ForegroundRuns:
    """Runs a manifest as the CLI does: a job requested and run here to its end, through the services."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.describer = ctx.describer()

    def run(self, manifest_id: uuid.UUID, reprocess: bool = False) -> RunStats:
        job = runs.process_manifest(self.ctx, str(manifest_id), reprocess=reprocess)
        if job.status is not JobStatus.SUCCEEDED:
            raise VidpipeError(job.error or job.status.value)
        stats = manifests.show_manifest(self.ctx, str(manifest_id)).stats
        assert stats is not None
        return stats


@pytest.fixture
def app_ctx(database_url: str, tmp_path: Path, toolkit: VisionToolkit, settings: Settings) -> Iterator[AppContext]:
    """An application context on a fresh registry of each kind, sharing the module's models."""
    here = settings.model_copy(update={"data_dir": tmp_path / "data", "database_url": database_url})
    with AppContext.open(here, toolkit=toolkit, describer=OfflineDescriber(classifier=toolkit.classifier)) as ctx:
        yield ctx


@pytest.fixture
def env(app_ctx: AppContext) -> tuple[sessionmaker[Session], FileStore, ForegroundRuns]:
    return app_ctx.factory, app_ctx.store, ForegroundRuns(app_ctx)


def _production(data_dir: Path) -> list[PhotoIn]:
    faces = data_dir / "faces/face_recognition"
    samples = data_dir / "detection/skimage_data"
    return [
        PhotoIn(faces / "obama.jpg", AssetType.CHARACTER, "The President"),
        PhotoIn(faces / "obama2.jpg", AssetType.CHARACTER, "The President, side"),
        PhotoIn(samples / "coffee.png", AssetType.PROP, "Espresso"),
        PhotoIn(samples / "motorcycle_left.png", AssetType.VEHICLE, "Bike"),
        PhotoIn(faces / "two_people.jpg", AssetType.ENVIRONMENT, "Press room"),
    ]


def _assets_of(factory: sessionmaker[Session], manifest_id: uuid.UUID) -> list[Asset]:
    with factory() as session:
        return list(find_manifest(session, str(manifest_id)).assets)


@pytest.fixture
def make_manifest(app_ctx: AppContext) -> MakeManifest:
    """Creates a manifest through the service (the factory and store are those of ``app_ctx``)."""

    def make(_factory: sessionmaker[Session], _store: FileStore, photos: list[PhotoIn]) -> uuid.UUID:
        result = manifests.create_manifest(app_ctx, "Test production", photos)
        assert not result.refused and not result.duplicates
        return result.manifest.id

    return make


@pytest.fixture
def production(data_dir: Path) -> list[PhotoIn]:
    """Two portraits of one man, a cup, a motorcycle and a press room with two men."""
    return _production(data_dir)


@pytest.fixture
def assets_of() -> AssetsOf:
    return _assets_of


# ---------------------------------------------------------------- an S3 server: moto's, in this process

S3_BUCKET = "vidpipe-test"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 wire-protocol server (moto's server mode) on a free local port, holding the bucket S3_BUCKET."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="x"
    )
    client.create_bucket(Bucket=S3_BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_settings(s3_endpoint: str) -> StoreSettings:
    """An S3 store on that server, under a prefix of its own, so no test sees another's objects."""
    return StoreSettings(
        backend="s3",
        bucket=S3_BUCKET,
        prefix=f"test-{uuid.uuid4().hex[:12]}",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key=SecretStr("testing"),
    )
