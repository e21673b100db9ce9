"""`vidpipe project`, `scene` and `analyze` as a user meets them: the table, the JSON, saved frames,
exit 0 for a clip that passes and 3 for one that fails, 2 with the reason for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.conftest import Run
from tests.clipmaking import make_clip

pytestmark = [pytest.mark.models, pytest.mark.data]


def test_a_project_scene_and_clips_through_the_commands(vidpipe: Run, data_dir: Path, tmp_path: Path) -> None:
    faces = data_dir / "faces" / "face_recognition"
    names = tmp_path / "names.csv"
    names.write_text("file,name,type\nobama.jpg,The President,CHARACTER\nbiden.jpg,The Mentor,CHARACTER\n")
    code, out, err = vidpipe("manifest", "create", "Cast", faces / "obama.jpg", faces / "biden.jpg", "--names", names)
    assert code == 0, err
    manifest = out.strip().splitlines()[-1]
    assert vidpipe("manifest", "process", manifest)[0] == 0
    code, out, err = vidpipe("project", "create", "Pilot", "--manifest", manifest)
    assert code == 0, err
    project = out.strip()
    code, out, err = vidpipe("scene", "add", project, "--index", "1", "--expect", "char_01")
    assert code == 0 and "expects CHAR_01" in out, err
    code, _, err = vidpipe("scene", "add", project, "--index", "2", "--expect", "PROP_09")
    assert code == 2 and "PROP_09" in err and "Traceback" not in err

    steady = make_clip(
        tmp_path / "steady.mp4", [(faces / "obama2.jpg", 2.0), (faces / "tests__test_images__obama3.jpg", 2.0)]
    )
    frames = tmp_path / "frames"
    code, out, err = vidpipe("analyze", steady, "--project", "Pilot", "--scene", "1", "--frames", frames)
    assert code == 0, err
    assert "CHAR_01 0.9" in out and "pass" in out and "continuity" in out
    saved = sorted(frames.glob("frame_*.jpg"))
    assert saved and all(p.stat().st_size > 1000 for p in saved)

    other = make_clip(tmp_path / "other.mp4", [(faces / "knn_examples__train__kit_harington__john1.jpeg", 3.0)])
    code, out, err = vidpipe("analyze", other, "--project", project, "--scene", "1", "--json")
    assert code == 3, err  # the gate failed: the command says so by its exit status too
    result = json.loads(out)
    assert {"continuity_score", "gate", "reasons", "frames", "appearances"} <= set(result)
    assert result["gate"] == "fail" and "CHAR_01 missing" in result["reasons"] and result["appearances"] == []
    assert any("unexpected person" in r for r in result["reasons"])

    code, out, _ = vidpipe("project", "show", project)
    assert code == 0 and "steady.mp4" in out and "other.mp4" in out

    notes = tmp_path / "notes.mp4"
    notes.write_text("not a clip")
    code, _, err = vidpipe("analyze", notes, "--manifest", manifest)
    assert code == 2 and "'notes.mp4'" in err and "not a video" in err and "Traceback" not in err
    code, _, err = vidpipe("analyze", steady, "--project", project)
    assert code == 2 and "--scene" in err
    code, _, err = vidpipe("analyze", steady)
    assert code == 2 and "--project" in err and "--manifest" in err
