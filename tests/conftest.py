"""Shared fixtures: where the real weights and data are, and settings that point at them.

The real weights and data live outside the repository (../shared), for licence reasons. Tests that
need them skip with a reason naming the missing folder; CI always has them.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import make_url

from vidpipe.imaging.loading import load_image
from vidpipe.inference.sessions import clear_sessions
from vidpipe.settings import Settings

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
    import psycopg

    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"vidpipe_test_{uuid.uuid4().hex[:12]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI always has PostgreSQL: never skip there
        pytest.skip(message)
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the product supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        yield from _postgres_database()
