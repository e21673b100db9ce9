"""Exports that travel: bundles whose every link resolves inside them, checked against the files they
hold; user text escaped in the Markdown and made safe in file names; nothing half-written. Real photos
and models, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from markdown_it import MarkdownIt

from vidpipe.app import AppContext
from vidpipe.db.models import Asset, AssetReference, Manifest
from vidpipe.db.repositories.manifests import find_manifest
from vidpipe.domain.enums import AssetType, JobStatus
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.exports import best_references, prompt_text, safe_name
from vidpipe.pipeline.registry import md_escape, md_escape_block
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import assets, manifests, runs

pytestmark = [pytest.mark.models, pytest.mark.data]

EVIL_TITLE = "<script>alert(1)</script>"
EVIL_NAME = "*x* [a](b)"
ESCAPING_NAME = "../../evil"
EVIL_TAG = "<b>&amp; _y_"


def _markdown() -> MarkdownIt:
    # CommonMark with raw HTML allowed, as most viewers render a bible; plus GitHub's tables and ~~.
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inside(path: str) -> None:
    """A bundle path: relative, POSIX, with no '..' (or '.') part."""
    parts = PurePosixPath(path).parts
    assert not path.startswith("/") and "\\" not in path and ":" not in path, path
    assert parts and all(p not in ("..", ".") for p in parts), path


def _files(node: Any) -> list[dict[str, Any]]:
    """Every {"path", "sha256", "bytes"} object in the registry JSON."""
    if isinstance(node, dict):
        here = [node] if {"path", "sha256", "bytes"} <= set(node) else []
        return here + [f for v in node.values() for f in _files(v)]
    if isinstance(node, list):
        return [f for v in node for f in _files(v)]
    return []


def _check_registry(registry: dict[str, Any], read: Any) -> None:
    """Every file the registry names is in the bundle (``read(path)`` gives its bytes), hash and size."""
    files = _files(registry)
    assert files and registry["format"] == "vidpipe.registry/2"
    assert {f["path"] for f in files} == {f["path"] for f in registry["files"]}
    for f in files:
        _inside(f["path"])
        data = read(f["path"])
        assert len(data) == f["bytes"] and _sha(data) == f["sha256"], f["path"]


def links_of(markdown: str) -> list[str]:
    """Every image source and link target in the Markdown, as a renderer finds them."""
    found: list[str] = []
    for token in _markdown().parse(markdown):
        for child in token.children or []:
            for attr in ("src", "href"):
                value = child.attrGet(attr)
                if isinstance(value, str):
                    found.append(value)
    return found


def _check_bible(text: str, exists: Any) -> list[str]:
    links = links_of(text)
    assert "contact_sheet.jpg" in links and any(link.startswith("assets/") for link in links)
    for link in links:
        _inside(link)
        assert exists(link), link
    return links


@pytest.fixture
def processed(app_ctx: AppContext, data_dir: Path) -> uuid.UUID:
    """A processed manifest of three photos (one man twice, a cup), named and tagged to cause trouble,
    with the man's second view made the primary one and given the lower quality."""
    faces = data_dir / "faces/face_recognition"
    photos = [
        PhotoIn(faces / "obama.jpg", AssetType.CHARACTER, EVIL_NAME),
        PhotoIn(faces / "obama2.jpg", AssetType.CHARACTER, EVIL_NAME),
        PhotoIn(data_dir / "detection/skimage_data/coffee.png", AssetType.PROP, ESCAPING_NAME),
    ]
    manifest_id = manifests.create_manifest(app_ctx, EVIL_TITLE, photos).manifest.id
    job = runs.process_manifest(app_ctx, str(manifest_id))
    assert job.status is JobStatus.SUCCEEDED, job.error
    assets.edit_tags(app_ctx, str(manifest_id), "PROP_01", add=[EVIL_TAG], remove=[])
    with app_ctx.transaction() as session:
        manifest = find_manifest(session, str(manifest_id))
        person = next(a for a in manifest.assets if a.manifest_tag == "CHAR_01")
        assert len(person.references) >= 2, "both photos of the man should be one asset"
        for score, reference in zip((9.0, 2.0, 5.0, 7.0), person.references, strict=False):
            reference.quality_score = score
        person.primary_reference_id = person.references[1].id  # the weaker view, chosen by the user
        manifest.name = EVIL_TITLE
        person.name = EVIL_NAME
    return manifest_id


def test_bundles_travel_and_hold_what_they_link(app_ctx: AppContext, processed: uuid.UUID, tmp_path: Path) -> None:
    ref = str(processed)

    # md: a folder with bible.md, every image link inside it.
    md = manifests.export_bundle(app_ctx, ref, "md", tmp_path / "bible")
    assert md.path == tmp_path / "bible" and not md.archive and md.assets >= 2
    bible = (md.path / "bible.md").read_text(encoding="utf-8")
    links = _check_bible(bible, lambda link: (md.path / link).is_file())
    assert str(app_ctx.store.root) not in bible and str(tmp_path) not in bible
    on_disk = sorted(p.relative_to(md.path).as_posix() for p in md.path.rglob("*") if p.is_file())
    assert set(on_disk) == {"bible.md", *links} and md.files == len(on_disk)

    # json: registry.json, every path resolving, with hashes and sizes that match the files.
    js = manifests.export_bundle(app_ctx, ref, "json", tmp_path / "registry")
    registry = json.loads((js.path / "registry.json").read_text(encoding="utf-8"))
    _check_registry(registry, lambda p: (js.path / p).read_bytes())
    assert not (js.path / "bible.md").exists()
    person = next(a for a in registry["assets"] if a["manifest_tag"] == "CHAR_01")
    primary = [r for r in person["references"] if r["primary"]]
    assert len(primary) == 1 and primary[0]["id"] == person["primary_reference"]
    assert registry["manifest"]["name"] == EVIL_TITLE and person["name"] == EVIL_NAME  # JSON keeps the text

    # The documents printed on their own link the same way.
    assert manifests.export_manifest(app_ctx, ref, "md") + "\n" == bible
    assert json.loads(manifests.export_manifest(app_ctx, ref, "json")) == registry

    # zip: both documents and the same files, relative names, nothing else.
    zp = manifests.export_bundle(app_ctx, ref, "zip", tmp_path / "bundle.zip")
    assert zp.archive and zp.path.is_file()
    with zipfile.ZipFile(zp.path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        for name in names:
            _inside(name)
        zipped = {name: archive.read(name) for name in names}
    assert {"bible.md", "registry.json"} <= set(zipped)
    _check_bible(zipped["bible.md"].decode("utf-8"), lambda link: link in zipped)
    _check_registry(json.loads(zipped["registry.json"]), lambda p: zipped[p])
    assert zipped["bible.md"].decode("utf-8") == bible
    assert set(names) == {"bible.md", "registry.json", *links}
    assert not list(tmp_path.glob(".*.part"))


def test_the_pack_has_the_best_references_primary_first_and_the_prompt(
    app_ctx: AppContext, processed: uuid.UUID, tmp_path: Path
) -> None:
    ref = str(processed)
    with app_ctx.factory() as session:
        manifest = find_manifest(session, ref)
        expected = {
            a.manifest_tag: (
                [r.image_key for r in best_references(a, 4)],
                a.reverse_prompt,
                a.visual_description or a.description,
            )
            for a in manifest.assets
        }
        person = next(a for a in manifest.assets if a.manifest_tag == "CHAR_01")
        by_quality = sorted(
            (r for r in person.references if r.id != person.primary_reference_id),
            key=lambda r: -(r.quality_score or 0),
        )
        assert expected["CHAR_01"][0] == [person.references[1].image_key, *[r.image_key for r in by_quality][:3]]

    pack = manifests.export_bundle(app_ctx, ref, "pack", tmp_path / "pack", max_refs=4)
    folders = sorted(p for p in pack.path.iterdir())
    assert len(folders) == len(expected) == pack.assets
    for folder in folders:
        assert folder.is_dir() and ".." not in folder.name and "/" not in folder.name
        tag = folder.name.split(" ")[0]
        keys, prompt, description = expected[tag]
        images = sorted((p for p in folder.iterdir() if p.suffix != ".txt"), key=lambda p: int(p.stem))
        assert 1 <= len(images) <= 4
        # In order: 1 is the primary, then by quality; each the stored bytes.
        assert [_sha(p.read_bytes()) for p in images] == [re.findall(r"[0-9a-f]{64}", k)[0] for k in keys]
        text = (folder / "prompt.txt").read_text(encoding="utf-8")
        assert prompt and text.startswith(prompt.strip() + "\n\n")
        assert description and text.rstrip("\n").endswith(description.strip())
    names = [f.name for f in folders]
    assert "CHAR_01 _x_ [a](b)" in names
    assert "PROP_01 evil" in names  # "../../evil" is a name, never a path

    # At most N references, the primary kept; the same as a zip when the name ends in .zip.
    one = manifests.export_bundle(app_ctx, ref, "pack", tmp_path / "pack.zip", max_refs=1)
    assert one.archive
    with zipfile.ZipFile(one.path) as archive:
        names = archive.namelist()
        person_files = sorted(n for n in names if n.startswith("CHAR_01 ") and not n.endswith(".txt"))
        assert len(person_files) == 1
        assert _sha(archive.read(person_files[0])) == re.findall(r"[0-9a-f]{64}", expected["CHAR_01"][0][0])[0]
        assert all(".." not in n and not n.startswith("/") for n in names)
        assert sum(n.endswith("/prompt.txt") for n in names) == len(expected)


def test_user_text_is_escaped_in_the_bible(app_ctx: AppContext, processed: uuid.UUID) -> None:
    bible = manifests.export_manifest(app_ctx, str(processed), "md")
    for raw in (EVIL_TITLE, EVIL_NAME, "<b>", "&amp; _y_"):
        assert raw not in bible
    html = _markdown().render(bible)
    assert "<script" not in html and "<b>" not in html and "<em>x</em>" not in html and 'href="b"' not in html
    tokens = _markdown().parse(bible)
    headings = [tokens[i + 1] for i, t in enumerate(tokens) if t.type == "heading_open"]
    texts = ["".join(c.content for c in h.children or []) for h in headings]
    assert all(c.type == "text" for h in headings for c in h.children or [])
    # Shown as the literal text.
    assert texts[0] == EVIL_TITLE and f"CHAR_01: {EVIL_NAME}" in texts and f"PROP_01: {ESCAPING_NAME}" in texts
    assert f"Tags: {EVIL_TAG}" in html.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@pytest.mark.parametrize(
    "text",
    [
        EVIL_TITLE,
        EVIL_NAME,
        "# not a heading",
        "1. not a list",
        "- nor this",
        "`code` ~~struck~~ $x^2$ | cell",
        "__init__ and snake_case",
        "&lt;entity&gt; & <http://autolink.example>",
        "![img](http://x/y.png)",
        "trailing backslash \\",
    ],
)
def test_markdown_escaping_shows_the_literal_text(text: str) -> None:
    for markdown in (md_escape(text), "\n".join(md_escape_block(f"{text}\n{text}"))):
        tokens = _markdown().parse(markdown)
        assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], markdown
        children = tokens[1].children or []
        assert {c.type for c in children} <= {"text", "hardbreak"}, markdown
        shown = "".join("\n" if c.type == "hardbreak" else c.content for c in children)
        assert shown == (text if "\n" not in markdown else f"{text}\n{text}")


def test_safe_names_are_names_not_paths() -> None:
    for raw in ("../../evil", "..", "a/b\\c", "x\x00y\nz", "CON", " . ", "e" * 500, "é" * 500, "\u202e.exe"):
        name = safe_name(raw)
        assert name and "/" not in name and "\\" not in name and ".." not in name
        assert name not in (".", "..") and not name.startswith((".", " ")) and not name.endswith((".", " "))
        assert all(c.isprintable() for c in name) and len(name.encode("utf-8")) <= 200
    assert safe_name("../../evil") == "evil" and safe_name("Red bike") == "Red bike"
    assert safe_name("CON").upper() != "CON"


def test_best_references_put_the_primary_first_then_quality() -> None:
    asset = Asset(id=uuid.uuid4(), name="x", asset_type=AssetType.PROP)
    scores = [3.0, None, 8.0, 5.0, 8.0]
    asset.references = [
        AssetReference(id=uuid.uuid4(), image_key=f"k{i}", quality_score=s) for i, s in enumerate(scores)
    ]
    asset.primary_reference_id = asset.references[3].id
    assert [r.image_key for r in best_references(asset, 4)] == ["k3", "k2", "k4", "k0"]
    assert [r.image_key for r in best_references(asset, 10)] == ["k3", "k2", "k4", "k0", "k1"]
    assert [r.image_key for r in best_references(asset, 1)] == ["k3"]
    with pytest.raises(VidpipeError, match="at least 1"):
        best_references(asset, 0)
    asset.reverse_prompt, asset.visual_description = "a red cup", "A cup.\nRed."
    assert prompt_text(asset) == "a red cup\n\nA cup.\nRed.\n"


def test_refused_targets_leave_nothing_behind(app_ctx: AppContext, processed: uuid.UUID, tmp_path: Path) -> None:
    ref = str(processed)
    before = set(tmp_path.iterdir())
    with pytest.raises(VidpipeError, match="does not exist") as missing:
        manifests.export_bundle(app_ctx, ref, "md", tmp_path / "no" / "such" / "bible")
    assert str(tmp_path / "no") in str(missing.value)
    with pytest.raises(VidpipeError, match="does not exist"):
        manifests.export_bundle(app_ctx, ref, "zip", tmp_path / "no" / "x.zip")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(VidpipeError, match="is a file") as filed:
        manifests.export_bundle(app_ctx, ref, "md", a_file)
    assert str(a_file) in str(filed.value)
    with pytest.raises(VidpipeError, match="is a folder"):
        manifests.export_bundle(app_ctx, ref, "zip", tmp_path)
    with pytest.raises(VidpipeError, match="is not a folder"):
        manifests.export_bundle(app_ctx, ref, "md", a_file / "inside")  # its 'parent' is a file
    assert a_file.read_text() == "mine"

    # An existing folder or file is kept unless --force; with it, replaced whole.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("keep")
    with pytest.raises(VidpipeError, match=r"not empty.*--force"):
        manifests.export_bundle(app_ctx, ref, "json", mine)
    assert [p.name for p in mine.iterdir()] == ["keep.txt"]
    (tmp_path / "old.zip").write_bytes(b"old")
    with pytest.raises(VidpipeError, match=r"exists.*--force"):
        manifests.export_bundle(app_ctx, ref, "zip", tmp_path / "old.zip")
    assert (tmp_path / "old.zip").read_bytes() == b"old"
    replaced = manifests.export_bundle(app_ctx, ref, "json", mine, force=True)
    assert (replaced.path / "registry.json").is_file() and not (replaced.path / "keep.txt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (manifests.export_bundle(app_ctx, ref, "md", empty).path / "bible.md").is_file()

    # A stored file gone missing: an error naming it, and no half-written export.
    with app_ctx.factory() as session:
        key = find_manifest(session, ref).assets[0].references[0].image_key
    app_ctx.store.path(key).unlink()
    for fmt, target in (("md", tmp_path / "broken"), ("zip", tmp_path / "broken.zip"), ("pack", tmp_path / "p")):
        with pytest.raises(VidpipeError, match="is missing") as gone:
            manifests.export_bundle(app_ctx, ref, fmt, target)  # type: ignore[arg-type]
        assert key in str(gone.value) and not target.exists()
    with pytest.raises(VidpipeError, match="is missing"):
        manifests.export_bundle(app_ctx, ref, "md", mine, force=True)
    assert (mine / "registry.json").is_file()  # the old export is still there, whole
    assert not list(tmp_path.glob(".*.part"))
    assert set(tmp_path.iterdir()) - before == {a_file, mine, tmp_path / "old.zip", empty}


def test_a_manifest_not_processed_yet_exports_its_name_only(app_ctx: AppContext, tmp_path: Path) -> None:
    created = manifests.create_empty_manifest(app_ctx, "Draft")
    result = manifests.export_bundle(app_ctx, str(created.id), "zip", tmp_path / "draft.zip")
    with zipfile.ZipFile(result.path) as archive:
        assert sorted(archive.namelist()) == ["bible.md", "registry.json"]
        assert archive.read("bible.md").decode().startswith("# Draft")
    with app_ctx.factory() as session:
        assert session.get(Manifest, created.id) is not None
    with pytest.raises(VidpipeError, match="format must be"):
        manifests.export_bundle(app_ctx, str(created.id), "pdf", tmp_path / "x")  # type: ignore[arg-type]
