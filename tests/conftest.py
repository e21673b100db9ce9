"""Shared fixtures: where the real weights and data are, and settings that point at them.

The real weights and data live outside the repository (../shared), for licence reasons. Tests that
need them skip with a reason naming the missing folder; CI always has them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vidpipe.imaging.loading import load_image
from vidpipe.inference.sessions import clear_sessions
from vidpipe.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = Path(os.environ.get("VIDPIPE_MODEL_DIR") or REPO_ROOT.parent / "shared" / "models").resolve()
DATA_DIR = Path(os.environ.get("VIDPIPE_DATA_DIR") or REPO_ROOT.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def model_dir() -> Path:
    if not (MODEL_DIR / "yolox_nano.onnx").is_file():
        pytest.skip(f"real model weights not found in {MODEL_DIR} (set VIDPIPE_MODEL_DIR)")
    return MODEL_DIR


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "faces" / "labels.csv").is_file():
        pytest.skip(f"real test data not found in {DATA_DIR} (set VIDPIPE_DATA_DIR)")
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
