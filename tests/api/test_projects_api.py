"""The projects, scenes and clips API: create, upload, analyse as a job, read the verdict, and every
refusal with its status and a message naming the input."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from tests.clipmaking import make_clip

from vidpipe.app import AppContext

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.anyio]

FACES = Path("faces") / "face_recognition"


async def _ready_manifest(client: httpx.AsyncClient, data_dir: Path) -> str:
    manifest_id = (await client.post("/api/manifests", json={"name": "Cast"})).json()["id"]
    files = [
        ("files", ("obama.jpg", (data_dir / FACES / "obama.jpg").read_bytes(), "image/jpeg")),
        ("files", ("biden.jpg", (data_dir / FACES / "biden.jpg").read_bytes(), "image/jpeg")),
    ]
    data = {"names": ["The President", "The Mentor"], "types": ["CHARACTER", "CHARACTER"]}
    assert (await client.post(f"/api/manifests/{manifest_id}/uploads", files=files, data=data)).status_code == 200
    assert (await client.post(f"/api/manifests/{manifest_id}/process")).status_code == 202
    for _ in range(600):
        if (await client.get(f"/api/manifests/{manifest_id}/progress")).json()["status"] == "READY":
            return str(manifest_id)
        await asyncio.sleep(0.1)
    raise AssertionError("the manifest did not become READY")


async def _analysed(client: httpx.AsyncClient, clip_id: str, timeout: float = 120) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        clip = (await client.get(f"/api/clips/{clip_id}")).json()
        if clip["status"] in ("ANALYZED", "ERROR"):
            return clip  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"clip {clip_id} was not analysed in time")


async def test_a_clip_is_uploaded_analysed_as_a_job_and_its_verdict_read(
    client: httpx.AsyncClient, data_dir: Path, tmp_path: Path
) -> None:
    manifest_id = await _ready_manifest(client, data_dir)
    created = await client.post("/api/projects", json={"name": "Pilot", "manifest_id": manifest_id})
    assert created.status_code == 201, created.text
    project = created.json()
    scene = await client.post(f"/api/projects/{project['id']}/scenes", json={"index": 1, "expect": ["char_01"]})
    assert scene.status_code == 201 and scene.json()["expected_tags"] == ["CHAR_01"]
    again = await client.post(f"/api/projects/{project['id']}/scenes", json={"index": 1})
    assert again.status_code == 409 and "already has a scene 1" in again.json()["error"]
    unknown_tag = await client.post(f"/api/projects/{project['id']}/scenes", json={"index": 2, "expect": ["PROP_07"]})
    assert unknown_tag.status_code == 400 and "PROP_07" in unknown_tag.json()["error"]

    faces = data_dir / FACES
    clip_path = make_clip(
        tmp_path / "take1.mp4", [(faces / "obama2.jpg", 2.0), (faces / "tests__test_images__obama3.jpg", 2.0)]
    )
    scene_id = scene.json()["id"]
    uploaded = await client.post(
        f"/api/scenes/{scene_id}/clips", files={"file": ("take1.mp4", clip_path.read_bytes(), "video/mp4")}
    )
    assert uploaded.status_code == 201, uploaded.text
    clip = uploaded.json()
    assert clip["status"] == "NEW" and clip["width"] == 640 and clip["duration_seconds"] == pytest.approx(4.0, abs=0.2)
    assert (await client.get(f"/api/clips/{clip['id']}/analysis")).status_code == 404  # not analysed yet

    started = await client.post(f"/api/clips/{clip['id']}/analyze")
    assert started.status_code == 202
    job_id = started.json()["job_id"]
    assert (await client.post(f"/api/clips/{clip['id']}/analyze")).status_code in (202, 409)
    done = await _analysed(client, clip["id"])
    assert done["status"] == "ANALYZED", done
    job = (await client.get(f"/api/jobs/{job_id}")).json()
    assert job["status"] == "SUCCEEDED"
    analysis = (await client.get(f"/api/clips/{clip['id']}/analysis")).json()
    assert analysis["gate"] == "pass" and 5 <= analysis["continuity_score"] <= 10
    frames = analysis["record"]["frames"]
    assert frames and all(f["expected_missing"] == [] for f in frames)
    thumb = await client.get(f"/files/{frames[0]['thumbnail']}")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"

    # The asset's appearances, and its generated references, which the user can remove.
    character = next(
        a for a in (await client.get(f"/api/manifests/{manifest_id}/assets")).json() if a["manifest_tag"] == "CHAR_01"
    )
    seen = (await client.get(f"/api/assets/{character['id']}/appearances")).json()
    assert seen and {s["clip_id"] for s in seen} == {clip["id"]} and seen[0]["source"] == "face_match"
    references = (await client.get(f"/api/assets/{character['id']}")).json()["references"]
    generated = [r for r in references if r["origin"] == "generated"]
    own = [r for r in references if r["origin"] == "upload"]
    assert generated and all(r["clip_id"] == clip["id"] for r in generated)
    refused = await client.delete(f"/api/assets/{character['id']}/references/{own[0]['id']}")
    assert refused.status_code == 409 and "split it off or delete the asset" in refused.json()["error"]
    removed = await client.delete(f"/api/assets/{character['id']}/references/{generated[0]['id']}")
    assert removed.status_code == 204
    after = (await client.get(f"/api/assets/{character['id']}")).json()["references"]
    assert len(after) == len(references) - 1

    # The project lists its scene, the clip and its verdict; the manifest cannot go while it is used.
    shown = (await client.get(f"/api/projects/{project['id']}")).json()
    assert shown["scenes"][0]["clips"][0]["analysis"]["gate"] == "pass"
    busy = await client.delete(f"/api/manifests/{manifest_id}")
    assert busy.status_code == 409 and "Pilot" in busy.json()["error"]
    assert (await client.delete(f"/api/projects/{project['id']}")).status_code == 204
    assert (await client.get(f"/api/clips/{clip['id']}")).status_code == 404


async def test_bad_clips_are_refused_naming_the_file_and_nothing_is_kept(
    client: httpx.AsyncClient, app_ctx: AppContext, data_dir: Path, tmp_path: Path
) -> None:
    manifest_id = await _ready_manifest(client, data_dir)
    project = (await client.post("/api/projects", json={"name": "Bad input", "manifest_id": manifest_id})).json()
    scene_id = (await client.post(f"/api/projects/{project['id']}/scenes", json={"index": 0})).json()["id"]
    good = make_clip(tmp_path / "good.mp4", [(data_dir / FACES / "obama2.jpg", 1.0)]).read_bytes()
    cases = {
        "notes.mp4": b"this is a text file, not a video",
        "empty.mp4": b"",
        "cut.mp4": good[: len(good) // 3],
        "photo.jpg": (data_dir / FACES / "obama.jpg").read_bytes(),
    }
    for name, body in cases.items():
        answer = await client.post(f"/api/scenes/{scene_id}/clips", files={"file": (name, body, "video/mp4")})
        assert answer.status_code in (400, 413, 422), (name, answer.text)
        error = answer.json()
        assert name in error["error"] and "vidpipe-clip" not in str(error), (name, error)
    assert (await client.get(f"/api/scenes/{scene_id}")).json()["clips"] == []
    stored_clips = app_ctx.store.root / "clips"
    assert not stored_clips.exists() or not any(p.is_file() for p in stored_clips.rglob("*"))
    missing = await client.post(
        "/api/scenes/00000000-0000-0000-0000-000000000000/clips", files={"file": ("good.mp4", good, "video/mp4")}
    )
    assert missing.status_code == 404
    assert (await client.post("/api/clips/nope/analyze")).status_code == 404
    bad_manifest = await client.post("/api/projects", json={"name": "X", "manifest_id": "ffffffffffff"})
    assert bad_manifest.status_code == 404
