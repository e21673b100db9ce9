"""The manifest and jobs commands as a user meets them: exit codes, refusals that name the input,
nothing half-written, and output that reads in an 80-column terminal. Real photos, models, SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.conftest import Run

pytestmark = [pytest.mark.models, pytest.mark.data]


def _created_id(out: str) -> str:
    # stdout is the id alone, so that `ID=$(vidpipe manifest create ...)` works.
    assert len(out.strip().splitlines()) == 1, out
    return out.strip()


def test_a_names_row_that_matches_no_photo_is_an_error_and_nothing_is_created(
    vidpipe: Run, data_dir: Path, tmp_path: Path
) -> None:
    samples = data_dir / "detection/skimage_data"
    names = tmp_path / "names.csv"
    names.write_text("file,name,type\ncoffee.png,Espresso cup,PROP\ncofee.png,Typo,PROP\n../../etc/x.jpg,Escape,PROP\n")
    code, _, err = vidpipe("manifest", "create", "Pilot", samples / "coffee.png", "--names", names)
    assert code == 2 and "cofee.png" in err and "../../etc/x.jpg" in err and "Traceback" not in err
    code, out, _ = vidpipe("manifest", "list")
    assert code == 0 and "Pilot" not in out


def test_a_manifest_without_a_usable_photo_is_not_created(vidpipe: Run, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    code, _, err = vidpipe("manifest", "create", "Nothing", empty, text)
    assert code == 2 and "was not created" in err and "empty.jpg" in err and "notes.png" in err
    assert "Nothing" not in vidpipe("manifest", "list")[1]


def test_add_names_each_skipped_photo_and_why(vidpipe: Run, data_dir: Path, tmp_path: Path) -> None:
    coffee = data_dir / "detection/skimage_data/coffee.png"
    code, out, _ = vidpipe("manifest", "create", "Adds", coffee, "--type", "PROP")
    manifest_id = _created_id(out)
    code, out, err = vidpipe("manifest", "add", manifest_id, coffee)
    assert code == 0 and "added 0 photo(s)" in err and out == ""
    assert "skipped" in err and "coffee.png" in err and "same bytes" in err
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    code, _, err = vidpipe("manifest", "add", manifest_id, broken)
    assert code == 2 and "broken.png" in err  # nothing could be added: an error
    code, _, err = vidpipe("manifest", "add", manifest_id, data_dir / "detection/skimage_data/rocket.jpg", broken)
    assert code == 1 and "refused" in err and "broken.png" in err  # the rest kept


def test_show_of_a_draft_lists_its_photos_and_tables_fit_80_columns(vidpipe: Run, data_dir: Path) -> None:
    faces = data_dir / "faces/face_recognition"
    code, out, _ = vidpipe("manifest", "create", "Draft", faces / "obama.jpg", faces / "two_people.jpg")
    manifest_id = _created_id(out)
    code, out, _ = vidpipe("manifest", "show", manifest_id[:8])
    assert code == 0 and "DRAFT" in out and "obama.jpg" in out and "two_people.jpg" in out
    assert "vidpipe manifest process" in out
    assert vidpipe("manifest", "process", manifest_id)[0] == 0
    code, out, _ = vidpipe("manifest", "show", manifest_id, "--references")
    assert code == 0 and "CHAR_01" in out and "described by: offline" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    # No word is broken over lines: every asset's name appears whole on one line.
    for name in ("obama", "two_people"):
        assert any(name in line for line in out.splitlines())


def test_corrections_refuse_nonsense_and_take_tags_or_ids(vidpipe: Run, data_dir: Path) -> None:
    faces = data_dir / "faces/face_recognition"
    coffee = data_dir / "detection/skimage_data/coffee.png"
    code, out, _ = vidpipe("manifest", "create", "Cast", faces / "obama.jpg")
    manifest_id = _created_id(out)
    assert vidpipe("manifest", "add", manifest_id, coffee, "--type", "PROP")[0] == 0
    assert vidpipe("manifest", "process", manifest_id)[0] == 0

    code, _, err = vidpipe("manifest", "merge", manifest_id, "CHAR_01", "PROP_01")
    assert code == 2 and "CHARACTER" in err and "PROP" in err and "--force" in err
    code, _, err = vidpipe("manifest", "swap-reference", manifest_id, "CHAR_01", coffee)
    assert code == 2 and "coffee.png" in err and "--force" in err
    code, out, err = vidpipe("manifest", "swap-reference", manifest_id, "char_01", faces / "obama2.jpg")
    assert code == 0, err
    assert "CHAR_01" in out and "similarity" in out

    registry = json.loads(vidpipe("manifest", "export", manifest_id)[1])
    prop_id = next(a["id"] for a in registry["assets"] if a["manifest_tag"] == "PROP_01")
    code, out, _ = vidpipe("manifest", "rename", manifest_id, prop_id, "Hero cup")  # an id works as well as a tag
    assert code == 0 and "PROP_01 is now 'Hero cup'" in out
    code, out, err = vidpipe("manifest", "swap-reference", prop_id, coffee)  # the older form: asset id, photo
    assert code == 0, err


def test_jobs_list_show_and_cancel(vidpipe: Run, data_dir: Path) -> None:
    code, out, _ = vidpipe("manifest", "create", "Jobs", data_dir / "detection/skimage_data/coffee.png")
    manifest_id = _created_id(out)
    code, out, _ = vidpipe("manifest", "process", manifest_id, "--json")
    job_id = json.loads(out)["job_id"]
    code, out, _ = vidpipe("jobs", "list", "--manifest", manifest_id, "--json")
    (job,) = json.loads(out)
    assert {"id", "kind", "target_id", "status", "attempts", "error"} <= set(job)
    assert job["id"] == job_id and job["kind"] == "manifest.process" and job["target_id"] == manifest_id
    assert job["status"] == "SUCCEEDED" and job["attempts"] == 1 and job["error"] is None
    code, out, _ = vidpipe("jobs", "show", job_id[:8], "--json")
    assert code == 0 and json.loads(out)["progress"]["uploads_processed"] == 1
    code, out, _ = vidpipe("jobs", "show", job_id[:8])
    assert code == 0 and "SUCCEEDED" in out and "photos 1/1" in out
    code, _, err = vidpipe("jobs", "cancel", job_id)
    assert code == 2 and "already ended" in err
    code, _, err = vidpipe("jobs", "show", "nonexistent")
    assert code == 2 and "no job" in err


def test_export_to_a_place_that_cannot_be_written_is_one_line(vidpipe: Run, data_dir: Path, tmp_path: Path) -> None:
    code, out, _ = vidpipe("manifest", "create", "Out", data_dir / "detection/skimage_data/coffee.png")
    manifest_id = _created_id(out)
    for target in (tmp_path, Path("/proc/x.json")):  # a folder; a place no file can be made
        code, _, err = vidpipe("manifest", "export", manifest_id, "--output", target)
        assert code == 2 and str(target) in err and "Traceback" not in err
    assert not list(tmp_path.glob(".*.part"))


def test_a_misspelt_names_column_is_refused(vidpipe: Run, data_dir: Path, tmp_path: Path) -> None:
    names = tmp_path / "names.csv"
    names.write_text("file,nme\ncoffee.png,Espresso\n")
    code, _, err = vidpipe(
        "manifest", "create", "Typo", data_dir / "detection/skimage_data/coffee.png", "--names", names
    )
    assert code == 2 and "'nme'" in err


def test_jobs_list_fits_80_columns_and_shows_errors(vidpipe: Run, data_dir: Path) -> None:
    code, out, _ = vidpipe("manifest", "create", "Jobs", data_dir / "detection/skimage_data/coffee.png")
    manifest_id = _created_id(out)
    assert vidpipe("manifest", "process", manifest_id)[0] == 0
    code, out, _ = vidpipe("manifest", "process", manifest_id, "--describer", "nonsense")
    assert code == 2
    code, out, _ = vidpipe("jobs", "list")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 80
    assert "SUCCEEDED" in out and manifest_id[:8] in out
