"""Corrections through the API: each change visible at once and kept by a re-run (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from vidpipe.app import AppContext

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.anyio, pytest.mark.slow]


async def _run(client: httpx.AsyncClient, manifest_id: str, *, again: bool = False) -> None:
    started = await client.post(f"/api/manifests/{manifest_id}/{'reprocess' if again else 'process'}")
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = (await client.get(f"/api/manifests/{manifest_id}/progress")).json()["status"]
        if status in ("READY", "ERROR"):
            assert status == "READY"
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the run did not finish")


async def _by_tag(client: httpx.AsyncClient, manifest_id: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {a["manifest_tag"]: a for a in (await client.get(f"/api/manifests/{manifest_id}/assets")).json()}


async def test_corrections_apply_at_once_and_survive_a_rerun(client: httpx.AsyncClient, data_dir: Path) -> None:
    faces = data_dir / "faces/face_recognition"
    manifest_id = (await client.post("/api/manifests", json={"name": "Cast"})).json()["id"]
    photos = [("files", (n, (faces / n).read_bytes(), "image/jpeg")) for n in ("obama.jpg", "obama2.jpg", "biden.jpg")]
    await client.post(
        f"/api/manifests/{manifest_id}/uploads", files=photos, data={"names": ["Lead", "Lead side", "Mentor"]}
    )
    await _run(client, manifest_id)
    assets = await _by_tag(client, manifest_id)
    assert {"CHAR_01", "CHAR_02"} <= set(assets) and len(assets["CHAR_01"]["references"]) == 2
    lead, mentor = assets["CHAR_01"], assets["CHAR_02"]

    # Edit in place: name, the user's tags, their own words.
    edited = await client.patch(
        f"/api/assets/{mentor['id']}",
        json={"name": "The Mentor", "user_tags": ["hero", "night"], "visual_description": "An older man, grey suit."},
    )
    assert edited.status_code == 200
    assert edited.json()["name"] == "The Mentor" and edited.json()["user_tags"] == ["hero", "night"]
    assert edited.json()["described_by"] == "user (None)" or edited.json()["described_by"].startswith("user")

    # Split the lead's second view off under a name of its own.
    split = await client.post(f"/api/assets/{lead['id']}/split", json={"positions": [2], "name": "Double"})
    assert split.status_code == 201 and split.json()["new_tag"] == "CHAR_03"
    wrong = await client.post(f"/api/manifests/{manifest_id}/merge", json={"keep": "CHAR_01", "others": ["PROP_09"]})
    assert wrong.status_code == 404 and "PROP_09" in wrong.json()["error"]

    await _run(client, manifest_id, again=True)
    after = await _by_tag(client, manifest_id)
    assert after["CHAR_03"]["name"] == "Double", "the split and its name survive a re-run"
    mentor_after = after["CHAR_02"]
    assert mentor_after["name"] == "The Mentor" and mentor_after["user_tags"] == ["hero", "night"]
    assert mentor_after["visual_description"] == "An older man, grey suit."  # the user's words stay

    # Merge the double back into the lead: one asset, also after a re-run.
    merged = await client.post(f"/api/manifests/{manifest_id}/merge", json={"keep": "CHAR_01", "others": ["CHAR_03"]})
    assert merged.status_code == 200 and merged.json()["merged"] == ["CHAR_03"]
    await _run(client, manifest_id, again=True)
    after = await _by_tag(client, manifest_id)
    assert "CHAR_03" not in after and len(after["CHAR_01"]["references"]) == 2

    # Re-describing replaces the user's words with the describer's.
    redescribed = await client.post(f"/api/assets/{mentor_after['id']}/reprocess")
    assert redescribed.status_code == 200 and redescribed.json()["visual_description"] != "An older man, grey suit."

    # A character's reference swapped to a cup: refused unless forced.
    cup = data_dir / "detection/skimage_data/coffee.png"
    swap = await client.post(
        f"/api/assets/{after['CHAR_01']['id']}/reference", files={"file": ("coffee.png", cup.read_bytes(), "image/png")}
    )
    # Told in the API's own terms, not the CLI's.
    refusal = swap.json()
    assert swap.status_code == 400 and "unless forced" in refusal["error"] and "--force" not in str(refusal)
    assert "force set to true" in refusal["detail"]
    # Choosing one of its own references works.
    reference = after["CHAR_01"]["references"][-1]
    chosen = await client.post(
        f"/api/assets/{after['CHAR_01']['id']}/reference/choose", json={"reference_id": reference["id"]}
    )
    assert chosen.status_code == 200, chosen.text
    # Moved to the front, not copied: the asset keeps its number of views, through a re-run too.
    views = (await client.get(f"/api/assets/{after['CHAR_01']['id']}")).json()["references"]
    assert len(views) == len(after["CHAR_01"]["references"]) and views[0]["id"] == reference["id"]
    await _run(client, manifest_id, again=True)
    rerun = (await _by_tag(client, manifest_id))["CHAR_01"]["references"]
    assert len(rerun) == len(views) and rerun[0]["bbox"] == reference["bbox"] and rerun[0]["primary"]


async def test_writes_during_processing_are_409_and_uploads_keep_their_asset(
    client: httpx.AsyncClient, app_ctx: AppContext, data_dir: Path
) -> None:
    manifest_id = (await client.post("/api/manifests", json={"name": "Busy"})).json()["id"]
    coffee = data_dir / "detection/skimage_data/coffee.png"
    await client.post(
        f"/api/manifests/{manifest_id}/uploads",
        files=[("files", ("c.png", coffee.read_bytes(), "image/png"))],
        data={"types": ["PROP"]},
    )
    await _run(client, manifest_id)
    asset = next(iter((await _by_tag(client, manifest_id)).values()))
    queued = await client.post(f"/api/manifests/{manifest_id}/reprocess")
    assert queued.status_code == 202
    busy = await client.patch(f"/api/assets/{asset['id']}", json={"name": "X"})
    if busy.status_code == 409:  # the run may already have finished on a fast machine
        assert "run" in busy.json()["error"]
    await client.post(f"/api/jobs/{queued.json()['job_id']}/cancel")
    for _ in range(100):  # a running job stops at its next checkpoint
        if (await client.get(f"/api/jobs/{queued.json()['job_id']}")).json()["status"] != "RUNNING":
            break
        await asyncio.sleep(0.05)
    uploaded = next(a for a in (await _by_tag(client, manifest_id)).values() if a["source"] == "uploaded")
    refused = await client.delete(f"/api/assets/{uploaded['id']}")
    assert refused.status_code == 409 and "uploaded photo" in refused.json()["error"]
