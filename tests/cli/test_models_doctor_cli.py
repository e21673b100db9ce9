"""`models pull --defaults`, `models list` and `doctor` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidpipe.cli.app import app
from vidpipe.settings import get_settings

runner = CliRunner()
pytestmark = [pytest.mark.models]


@pytest.fixture(autouse=True)
def _settings_env(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("VIDPIPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VIDPIPE_MODEL_MIRROR_URL", raising=False)
    get_settings.cache_clear()


def test_pull_defaults_with_everything_present_fetches_nothing() -> None:
    # The shared folder is read-only: a pull that tried to write would fail.
    result = runner.invoke(app, ["models", "pull", "--defaults", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["bytes_fetched"] == 0 and {f["action"] for f in report["files"]} == {"present"}
    assert {f["model"] for f in report["files"]} == {
        "yolox_nano", "ultraface_rfb_320", "dlib_resnet_v1", "mobilenet_v1_embedding", "mobilenet_v2_imagenet",
    }  # fmt: skip
    assert runner.invoke(app, ["models", "pull"]).exit_code != 0  # nothing named


def test_list_says_how_each_model_is_obtained() -> None:
    rows = {m["name"]: m for m in json.loads(runner.invoke(app, ["models", "list", "--json"]).stdout)["models"]}
    assert rows["mobilenet_v1_embedding"]["default"] and "converted" in rows["mobilenet_v1_embedding"]["obtained_by"]
    assert rows["yolox_nano"]["obtained_by"] == "pull"
    assert rows["arcface_w600k_r50"]["obtained_by"].startswith("copy in by hand")


def test_doctor_passes_here_and_fails_on_an_empty_model_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["main_job_can_run"]
    areas = {c["area"] for c in report["checks"]}
    assert areas >= {"model", "library", "database", "data folder", "jobs", "describer"}
    empty = runner.invoke(app, ["doctor", "--model-dir", str(tmp_path / "none"), "--json"])
    assert empty.exit_code == 1
    failed = [c for c in json.loads(empty.stdout)["checks"] if not c["ok"] and c["required"]]
    assert {c["name"] for c in failed} >= {"yolox_nano", "mobilenet_v1_embedding"}
    assert all("models pull --defaults" in c["detail"] for c in failed if c["area"] == "model")


def test_doctor_never_shows_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "sk-doctor-secret-7")
    result = runner.invoke(app, ["doctor"])
    assert "sk-doctor-secret-7" not in result.output and "API key set" in result.output
