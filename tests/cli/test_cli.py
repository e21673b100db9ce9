"""The command line end to end, in-process through Typer's runner, on real weights and photos."""

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidpipe.cli.app import app, main
from vidpipe.settings import get_settings

runner = CliRunner()
pytestmark = [pytest.mark.models, pytest.mark.data]


@pytest.fixture(autouse=True)
def _settings_env(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(model_dir))
    # The registry (SQLite + files) of every CLI test lives in its own temporary folder.
    monkeypatch.setenv("VIDPIPE_DATA_DIR", str(tmp_path / "vidpipe-data"))
    get_settings.cache_clear()


def test_models_list_shows_licences_and_presence() -> None:
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {m["name"]: m for m in json.loads(result.stdout)["models"]}
    assert rows["yolox_nano"]["present"] and rows["yolox_nano"]["licence"] == "Apache-2.0"
    assert rows["yolov8n_int8"]["licence"] == "AGPL-3.0" and not rows["yolov8n_int8"]["licence_clean"]
    assert not rows["clip_vit_b32_openai"]["present"]


def test_models_check_passes_on_the_shared_folder_and_fails_on_a_corrupt_copy(tmp_path: Path, model_dir: Path) -> None:
    assert runner.invoke(app, ["models", "check", "yolox_nano", "ultraface_rfb_320"]).exit_code == 0
    shutil.copy(model_dir / "ultraface_rfb_320.onnx", tmp_path / "ultraface_rfb_320.onnx")
    with (tmp_path / "ultraface_rfb_320.onnx").open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02")
    result = runner.invoke(app, ["models", "check", "ultraface_rfb_320", "--model-dir", str(tmp_path)])
    assert result.exit_code == 1 and "bad checksum" in result.output


def test_detect_json_and_previews(data_dir: Path, tmp_path: Path) -> None:
    bus = data_dir / "detection/ultralytics_assets/bus.jpg"
    zidane = data_dir / "detection/ultralytics_assets/zidane.jpg"
    result = runner.invoke(app, ["detect", str(bus), str(zidane), "--json", "--preview", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_file = {Path(e["file"]).name: e for e in report["images"]}
    assert any(o["class_name"] == "bus" for o in by_file["bus.jpg"]["objects"])
    assert len(by_file["zidane.jpg"]["faces"]) == 2
    assert (tmp_path / "bus.detections.jpg").is_file() and (tmp_path / "zidane.detections.jpg").is_file()


def test_detect_skips_a_bad_file_and_says_why(data_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"")
    result = runner.invoke(app, ["detect", str(data_dir / "detection/skimage_data/coffee.png"), str(broken)])
    assert result.exit_code == 1
    assert "broken.jpg" in result.output and "empty" in result.output and "cup" in result.output
    assert "Traceback" not in result.output


def test_faces_group_writes_one_montage_per_person(data_dir: Path, tmp_path: Path) -> None:
    folder = data_dir / "faces/face_recognition"
    photos = [
        folder / n
        for n in (
            "obama.jpg",
            "obama2.jpg",
            "biden.jpg",
            "knn_examples__train__biden__biden2.jpg",
            "two_people.jpg",
        )
    ]
    result = runner.invoke(app, ["faces", "group", *map(str, photos), "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    people = json.loads(result.stdout)["people"]
    assert len(people) == 2
    assert all(len(p["faces"]) == 3 for p in people)  # each: two portraits and one face of two_people.jpg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["person_01.jpg", "person_02.jpg"]
    # Telling vidpipe two of Obama's faces are different people splits him.
    obama = next(p for p in people if f"{folder / 'obama.jpg'}#0" in p["faces"])
    split = runner.invoke(
        app,
        [
            "faces",
            "group",
            *map(str, photos),
            "--json",
            "--different",
            f"{obama['faces'][0]},{obama['faces'][1]}",
        ],
    )
    assert len(json.loads(split.stdout)["people"]) == 3


def test_a_bad_decision_is_one_clear_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = str(data_dir / "faces/face_recognition/obama.jpg")
    monkeypatch.setattr("sys.argv", ["vidpipe", "faces", "group", photo, "--same", f"{photo}#0,nobody#0"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "nobody#0" in err and "Traceback" not in err


def test_missing_model_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    monkeypatch.setattr(
        "sys.argv",
        [
            "vidpipe",
            "detect",
            str(data_dir / "detection/skimage_data/coffee.png"),
            "--no-faces",
            "--model-dir",
            str(tmp_path),
        ],
    )
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "yolox_nano.onnx" in err and "vidpipe models pull --defaults" in err and "vidpipe doctor" in err


def test_demo_builds_a_registry_and_writes_pictures(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert {"astronaut.detections.jpg", "coffee.detections.jpg", "contact_sheet.jpg", "bible.md"} <= set(written)
    assert "CHAR_01" in result.output and "READY" in result.output
    bible = (out / "bible.md").read_text()
    assert "Commander Reyes" in bible
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", bible)  # the demo's names hold no brackets
    assert "contact_sheet.jpg" in links and any(link.startswith("assets/CHAR_01/") for link in links)
    assert all(not Path(link).is_absolute() and ".." not in link and (out / link).is_file() for link in links)


def test_an_invalid_setting_names_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDPIPE_VISION__MAX_IMAGE_PIXELS", "-5")
    get_settings.cache_clear()
    monkeypatch.setattr("sys.argv", ["vidpipe", "models", "list"])
    with pytest.raises(SystemExit) as info:
        main()
    get_settings.cache_clear()
    assert info.value.code == 2
    assert "VIDPIPE_VISION__MAX_IMAGE_PIXELS" in capsys.readouterr().err


def test_pull_of_a_present_model_downloads_nothing_and_an_unknown_source_is_explained(tmp_path: Path) -> None:
    result = runner.invoke(app, ["models", "pull", "yolox_nano"])
    assert result.exit_code == 0 and "yolox_nano.onnx" in result.output
    from vidpipe.errors import VidpipeError

    missing = runner.invoke(app, ["models", "pull", "yolov8n_int8", "--model-dir", str(tmp_path)])
    assert isinstance(missing.exception, VidpipeError)
    assert "no download address" in str(missing.exception) and "copy yolov8n_int8.onnx" in str(missing.exception)


def test_manifest_create_process_show_export(data_dir: Path, tmp_path: Path) -> None:
    samples = data_dir / "detection/skimage_data"
    names = tmp_path / "names.csv"
    names.write_text("file,name,type\ncoffee.png,Espresso cup,PROP\nmotorcycle_left.png,Red bike,VEHICLE\n")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    created = runner.invoke(
        app,
        [
            "manifest",
            "create",
            "Pilot",
            str(samples / "coffee.png"),
            str(samples / "motorcycle_left.png"),
            str(bad),
            "--names",
            str(names),
        ],
    )
    assert created.exit_code == 1 and "bad.jpg" in created.output  # refused, the rest kept
    manifest_id = created.stdout.strip().splitlines()[-1]
    processed = runner.invoke(app, ["manifest", "process", manifest_id[:8], "--json"])
    assert processed.exit_code == 0, processed.output
    assert json.loads(processed.stdout)["assets_per_type"]["PROP"] >= 1
    shown = runner.invoke(app, ["manifest", "show", manifest_id])
    assert "PROP_01" in shown.stdout and "Espresso cup" in shown.stdout and "VEH_01" in shown.stdout
    assert "described by" in shown.stdout and "offline" in shown.stdout  # who wrote each description
    listed = runner.invoke(app, ["manifest", "list"])
    assert "Pilot" in listed.stdout and "READY" in listed.stdout
    exported = runner.invoke(app, ["manifest", "export", manifest_id, "--format", "json"])
    registry = json.loads(exported.stdout)
    assert {a["manifest_tag"] for a in registry["assets"]} >= {"PROP_01", "VEH_01"}
    bundle = tmp_path / "bible"  # a folder: bible.md with its images beside it
    assert (
        runner.invoke(app, ["manifest", "export", manifest_id, "--format", "md", "--output", str(bundle)]).exit_code
        == 0
    )
    assert (bundle / "bible.md").read_text().startswith("# Pilot") and (bundle / "contact_sheet.jpg").is_file()
    again = runner.invoke(app, ["manifest", "process", manifest_id])
    assert "reprocess" in str(again.exception)


def test_manifest_bad_type_is_a_clear_error(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["manifest", "create", "X", str(data_dir / "detection/skimage_data/coffee.png"), "--type", "BOAT"]
    )
    assert "unknown asset type 'BOAT'" in str(result.exception)


def test_manifest_add_refuses_bad_files_and_skips_duplicates(data_dir: Path, tmp_path: Path) -> None:
    coffee = data_dir / "detection/skimage_data/coffee.png"
    created = runner.invoke(app, ["manifest", "create", "Adds", str(coffee), "--type", "PROP"])
    manifest_id = created.stdout.strip().splitlines()[-1]
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    added = runner.invoke(
        app,
        ["manifest", "add", manifest_id, str(coffee), str(data_dir / "detection/skimage_data/rocket.jpg"), str(empty)],
    )
    assert added.exit_code == 1 and "added 1 photo(s)" in added.output and "empty.png" in added.output
    listed = runner.invoke(app, ["manifest", "list"])
    assert " 2 " in listed.stdout  # two photos: the duplicate coffee was not added again


def test_manifest_corrections_merge_split_rename_tag(data_dir: Path) -> None:
    faces = data_dir / "faces/face_recognition"
    created = runner.invoke(
        app, ["manifest", "create", "Cast", str(faces / "obama.jpg"), str(faces / "obama2.jpg"), "--type", "CHARACTER"]
    )
    manifest_id = created.stdout.strip().splitlines()[-1]
    assert runner.invoke(app, ["manifest", "process", manifest_id, "--json"]).exit_code == 0
    shown = runner.invoke(app, ["manifest", "show", manifest_id, "--references"])
    assert "References" in shown.stdout and "CHAR_01" in shown.stdout
    split = runner.invoke(app, ["manifest", "split", manifest_id, "CHAR_01", "2", "--name", "Stand-in"])
    assert split.exit_code == 0, split.output
    assert "into CHAR_02" in split.stdout
    renamed = runner.invoke(app, ["manifest", "rename", manifest_id, "char_02", "Stunt double"])
    assert renamed.exit_code == 0 and "'Stunt double'" in renamed.stdout
    tagged = runner.invoke(app, ["manifest", "tag", manifest_id, "CHAR_02", "--add", "stunts"])
    assert "stunts" in tagged.stdout
    merged = runner.invoke(app, ["manifest", "merge", manifest_id, "CHAR_01", "CHAR_02"])
    assert merged.exit_code == 0 and "merged CHAR_02 into CHAR_01" in merged.stdout
    unknown = runner.invoke(app, ["manifest", "merge", manifest_id, "CHAR_01", "CHAR_02"])
    assert "no asset 'CHAR_02'" in str(unknown.exception)
    registry = json.loads(runner.invoke(app, ["manifest", "export", manifest_id]).stdout)
    characters = [a for a in registry["assets"] if a["type"] == "CHARACTER"]
    assert len(characters) == 1 and characters[0]["manifest_tag"] == "CHAR_01"
