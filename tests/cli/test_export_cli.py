"""``vidpipe manifest export`` as a user meets it: a folder, a zip or a reference pack whose links resolve
inside it, the document on standard output as before, refusals in one line and nothing half-written.
Real photos and models, SQLite."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from tests.cli.conftest import Run

pytestmark = [pytest.mark.models, pytest.mark.data]


def _links(markdown: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(markdown)
    return [
        value
        for token in tokens
        for child in token.children or []
        for value in (child.attrGet("src"), child.attrGet("href"))
        if isinstance(value, str)
    ]


@pytest.fixture
def manifest_id(vidpipe: Run, data_dir: Path) -> str:
    faces = data_dir / "faces/face_recognition"
    code, out, err = vidpipe(
        "manifest", "create", "Pilot <b>", faces / "obama.jpg", faces / "obama2.jpg", "--type", "CHARACTER"
    )
    assert code == 0, err
    created = out.strip().splitlines()[-1]
    code, _, err = vidpipe("manifest", "add", created, data_dir / "detection/skimage_data/coffee.png", "--type", "PROP")
    assert code == 0, err
    code, _, err = vidpipe("manifest", "process", created)
    assert code == 0, err
    return created


def test_the_document_on_standard_output_links_as_in_the_bundle(vidpipe: Run, manifest_id: str, tmp_path: Path) -> None:
    code, bible, _ = vidpipe("manifest", "export", manifest_id, "--format", "md")
    assert code == 0 and bible.startswith("# Pilot &lt;b&gt;")
    links = _links(bible)
    assert "contact_sheet.jpg" in links and all(link.startswith(("assets/", "contact_sheet")) for link in links)
    assert str(tmp_path) not in bible  # no path into the data folder
    code, out, _ = vidpipe("manifest", "export", manifest_id)  # json by default, as before
    registry = json.loads(out)
    assert all(not f["path"].startswith("/") and ".." not in f["path"] for f in registry["files"])
    assert {f["path"] for f in registry["files"]} == set(links)

    code, _, err = vidpipe("manifest", "export", manifest_id, "--format", "md", "--output", tmp_path / "bible")
    assert code == 0 and "wrote folder" in err
    written = (tmp_path / "bible" / "bible.md").read_text(encoding="utf-8")
    assert written == bible  # print() and the file both end in one newline
    assert all((tmp_path / "bible" / link).is_file() for link in links)


def test_zip_pack_and_refusals(vidpipe: Run, manifest_id: str, tmp_path: Path) -> None:
    code, _, err = vidpipe("manifest", "export", manifest_id, "--format", "zip", "--output", tmp_path / "pilot.zip")
    assert code == 0 and "wrote zip" in err
    with zipfile.ZipFile(tmp_path / "pilot.zip") as archive:
        names = set(archive.namelist())
        bible = archive.read("bible.md").decode("utf-8")
        registry = json.loads(archive.read("registry.json"))
    assert set(_links(bible)) <= names and {f["path"] for f in registry["files"]} <= names

    code, _, err = vidpipe(
        "manifest", "export", manifest_id, "--format", "pack", "--output", tmp_path / "pack", "--max-refs", "1"
    )
    assert code == 0, err
    folders = sorted((tmp_path / "pack").iterdir())
    assert folders and any(f.name.startswith("CHAR_01 ") for f in folders)
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == ["1.jpg", "prompt.txt"]
        assert (folder / "prompt.txt").read_text(encoding="utf-8").strip()

    # An existing export is kept unless --force.
    code, _, err = vidpipe("manifest", "export", manifest_id, "--format", "pack", "--output", tmp_path / "pack")
    assert code == 2 and str(tmp_path / "pack") in err and "--force" in err and "Traceback" not in err
    code, _, err = vidpipe(
        "manifest", "export", manifest_id, "--format", "pack", "--output", tmp_path / "pack", "--force"
    )
    assert code == 0, err
    assert any(len(list(f.glob("*.jpg"))) > 1 for f in (tmp_path / "pack").iterdir())  # the default, 4

    before = sorted(tmp_path.iterdir())
    for args, words in (
        (("--format", "zip"), "--output"),
        (("--format", "pdf"), "pdf"),
        (("--format", "md", "--output", tmp_path / "missing" / "bible"), "does not exist"),
        (("--format", "zip", "--output", tmp_path / "pack"), "is a folder"),
        (("--format", "md", "--output", tmp_path / "pilot.zip"), "is a file"),
    ):
        code, _, err = vidpipe("manifest", "export", manifest_id, *args)
        assert code == 2 and words in " ".join(err.split()) and "Traceback" not in err, (args, err)
    code, _, err = vidpipe("manifest", "export", manifest_id, "--format", "pack", "--output", "x", "--max-refs", "0")
    assert code == 2 and "--max-refs" in err
    assert sorted(tmp_path.iterdir()) == before and not list(tmp_path.glob(".*.part"))
