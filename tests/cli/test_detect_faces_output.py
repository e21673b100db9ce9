"""`detect` and `faces group` tables in an 80-column terminal: every file told apart, nothing cut."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidpipe.cli import common
from vidpipe.cli.app import app
from vidpipe.settings import get_settings

runner = CliRunner()
pytestmark = [pytest.mark.models, pytest.mark.data]
NARROW = {"COLUMNS": "80"}


@pytest.fixture(autouse=True)
def _settings_env(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("VIDPIPE_DATA_DIR", str(tmp_path / "vidpipe-data"))
    get_settings.cache_clear()
    # A COLUMNS exported when the console was created would fix its width for good; the runner's
    # env must decide it.
    monkeypatch.setattr(common.console, "_width", None)


@pytest.fixture
def photos(data_dir: Path, tmp_path: Path) -> list[Path]:
    """Two different photos both called photo.jpg, a long file name and a plain one."""
    faces = data_dir / "faces/face_recognition"
    for folder, source in (("day", "obama.jpg"), ("night", "biden.jpg")):
        (tmp_path / "shoot" / folder).mkdir(parents=True)
        shutil.copy(faces / source, tmp_path / "shoot" / folder / "photo.jpg")
    return [
        tmp_path / "shoot/day/photo.jpg",
        tmp_path / "shoot/night/photo.jpg",
        faces / "knn_examples__train__biden__biden2.jpg",
        faces / "two_people.jpg",
    ]


SHORT = ["day/photo.jpg", "night/photo.jpg", "knn_examples__train__biden__biden2.jpg", "two_people.jpg"]


def _assert_narrow(stdout: str) -> None:
    too_wide = [line for line in stdout.splitlines() if len(line) > 80]
    assert not too_wide, too_wide
    assert "…" not in stdout  # no cell cut to an ellipsis


def test_detect_table_tells_files_apart_at_80_columns(photos: list[Path]) -> None:
    result = runner.invoke(app, ["detect", *map(str, photos)], env=NARROW)
    assert result.exit_code == 0, result.output
    _assert_narrow(result.stdout)
    lines = result.stdout.splitlines()
    for name in SHORT:
        assert any(line.startswith(name + " ") for line in lines), (name, result.stdout)
    assert "tie" in result.stdout and "face" in result.stdout


def test_detect_json_keeps_full_paths(photos: list[Path]) -> None:
    result = runner.invoke(app, ["detect", *map(str, photos[:2]), "--no-faces", "--json"], env=NARROW)
    assert result.exit_code == 0, result.output
    assert [e["file"] for e in json.loads(result.stdout)["images"]] == [str(p) for p in photos[:2]]


def test_faces_group_table_tells_files_apart_at_80_columns(photos: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "people"
    result = runner.invoke(app, ["faces", "group", *map(str, photos), "--out", str(out)], env=NARROW)
    assert result.exit_code == 0, result.output
    _assert_narrow(result.stdout)
    for key in ("day/photo.jpg#0", "night/photo.jpg#0", f"{SHORT[2]}#0", "two_people.jpg#0", "two_people.jpg#1"):
        assert key in result.stdout, (key, result.stdout)
    assert "person_01.jpg" in result.stdout and "person_02.jpg" in result.stdout
    # JSON keeps the face keys as given, full paths included.
    as_json = runner.invoke(app, ["faces", "group", *map(str, photos), "--json"], env=NARROW)
    keys = {k for person in json.loads(as_json.stdout)["people"] for k in person["faces"]}
    assert f"{photos[0]}#0" in keys and f"{photos[2]}#0" in keys
