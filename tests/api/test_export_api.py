"""GET /api/manifests/{id}/export: the document, or a zip sent as an attachment under a safe name, whose
links resolve inside it. Real photos and models, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from pathlib import Path

import httpx
import pytest
from markdown_it import MarkdownIt

from vidpipe.app import AppContext
from vidpipe.domain.enums import AssetType, JobStatus
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.anyio]

TITLE = '<script>alert(1)</script> "../../évil"; x'


def _links(markdown: str) -> list[str]:
    return [
        value
        for token in MarkdownIt("commonmark").parse(markdown)
        for child in token.children or []
        for value in (child.attrGet("src"), child.attrGet("href"))
        if isinstance(value, str)
    ]


def _exports_in_temp() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("vidpipe-export-*")}


@pytest.fixture
def manifest_id(app_ctx: AppContext, data_dir: Path) -> str:
    faces = data_dir / "faces/face_recognition"
    photos = [
        PhotoIn(faces / "obama.jpg", AssetType.CHARACTER, "The President"),
        PhotoIn(faces / "obama2.jpg", AssetType.CHARACTER, "The President"),
        PhotoIn(data_dir / "detection/skimage_data/coffee.png", AssetType.PROP, "Espresso"),
    ]
    created = manifests.create_manifest(app_ctx, TITLE, photos).manifest.id
    job = runs.process_manifest(app_ctx, str(created))
    assert job.status is JobStatus.SUCCEEDED, job.error
    return str(created)


async def test_zip_and_pack_download_as_safe_attachments(client: httpx.AsyncClient, manifest_id: str) -> None:
    before = _exports_in_temp()
    answer = await client.get(f"/api/manifests/{manifest_id}/export", params={"format": "zip"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    disposition = answer.headers["content-disposition"]
    match = re.fullmatch(r'attachment; filename="([A-Za-z0-9._-]+)"', disposition)
    assert match and match[1].endswith(".zip") and ".." not in match[1], disposition
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = set(archive.namelist())
        bible = archive.read("bible.md").decode("utf-8")
        registry = json.loads(archive.read("registry.json"))
    links = _links(bible)
    assert "contact_sheet.jpg" in links and set(links) <= names
    assert {f["path"] for f in registry["files"]} <= names
    assert "<script>" not in bible and registry["manifest"]["name"] == TITLE

    answer = await client.get(f"/api/manifests/{manifest_id}/export", params={"format": "pack", "max_refs": 1})
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = set(archive.namelist())
    folders = {n.split("/")[0] for n in names}
    assert any(f.startswith("CHAR_01 ") for f in folders) and any(f.startswith("PROP_01 ") for f in folders)
    for folder in folders:
        assert f"{folder}/prompt.txt" in names and len([n for n in names if n.startswith(f"{folder}/")]) == 2
    assert _exports_in_temp() <= before  # the server's temporary zips are gone


async def test_documents_and_refusals(client: httpx.AsyncClient, manifest_id: str) -> None:
    answer = await client.get(f"/api/manifests/{manifest_id}/export", params={"format": "md"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/markdown")
    assert answer.text.startswith("# &lt;script&gt;") and "contact_sheet.jpg" in _links(answer.text)
    answer = await client.get(f"/api/manifests/{manifest_id}/export", params={"format": "json"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    registry = answer.json()
    assert all(not f["path"].startswith("/") and ".." not in f["path"] for f in registry["files"])

    assert (await client.get(f"/api/manifests/{manifest_id}/export", params={"format": "pdf"})).status_code == 422
    refused = await client.get(f"/api/manifests/{manifest_id}/export", params={"format": "pack", "max_refs": 0})
    assert refused.status_code == 422
    missing = await client.get("/api/manifests/ffffffffffff/export", params={"format": "zip"})
    assert missing.status_code == 404 and "error" in missing.json()
