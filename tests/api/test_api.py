"""The HTTP API through an async client, on SQLite and PostgreSQL, with real photos and models:
every endpoint built so far and its errors, in the `{"error", "detail"}` shape."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from vidpipe.api.app import create_app
from vidpipe.app import AppContext

pytestmark = [pytest.mark.models, pytest.mark.data, pytest.mark.anyio]


def _photo(data_dir: Path, name: str) -> tuple[str, bytes, str]:
    path = next(data_dir.rglob(name))
    return (name, path.read_bytes(), "image/jpeg" if name.endswith("jpg") else "image/png")


async def _ready(client: httpx.AsyncClient, manifest_id: str, timeout: float = 120) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = (await client.get(f"/api/manifests/{manifest_id}/progress")).json()
        if progress["status"] in ("READY", "ERROR"):
            return progress  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"manifest {manifest_id} did not finish: {progress}")


async def test_health_and_errors_have_one_shape(client: httpx.AsyncClient) -> None:
    health = await client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    missing = await client.get("/api/manifests/0123456789abcdef")
    assert missing.status_code == 404 and set(missing.json()) == {"error", "detail"}
    assert "no manifest" in missing.json()["error"]
    invalid = await client.post("/api/manifests", json={"title": "no name field"})
    assert invalid.status_code == 422 and "name" in invalid.json()["detail"]
    assert (await client.get("/api/jobs/abcdefabcdef")).status_code == 404
    assert (await client.get("/api/assets/not-an-id")).status_code == 404
    bad_key = await client.get("/files/originals/../../etc/passwd")
    assert bad_key.status_code in (400, 404) and "error" in bad_key.json()


async def test_manifests_are_created_listed_renamed_and_deleted(client: httpx.AsyncClient) -> None:
    ids = []
    for n in range(3):
        created = await client.post("/api/manifests", json={"name": f"Film {n}"})
        assert created.status_code == 201 and created.json()["status"] == "DRAFT"
        ids.append(created.json()["id"])
    page = (await client.get("/api/manifests", params={"limit": 2})).json()
    assert page["total"] == 3 and [m["name"] for m in page["items"]] == ["Film 2", "Film 1"]  # newest first
    assert [m["name"] for m in (await client.get("/api/manifests", params={"offset": 2})).json()["items"]] == ["Film 0"]
    renamed = await client.patch(f"/api/manifests/{ids[0]}", json={"name": "Pilot"})
    assert renamed.json()["name"] == "Pilot"
    assert (await client.patch(f"/api/manifests/{ids[0]}", json={"name": "  "})).status_code == 400
    assert (await client.delete(f"/api/manifests/{ids[1]}")).status_code == 204
    assert (await client.get(f"/api/manifests/{ids[1]}")).status_code == 404
    # An empty manifest is not processed.
    refused = await client.post(f"/api/manifests/{ids[2]}/process")
    assert refused.status_code == 400 and "no photos" in refused.json()["error"]


async def test_upload_process_progress_events_assets_and_files(
    client: httpx.AsyncClient, app_ctx: AppContext, data_dir: Path
) -> None:
    manifest_id = (await client.post("/api/manifests", json={"name": "Press"})).json()["id"]
    files = [
        ("files", _photo(data_dir, "obama.jpg")),
        ("files", _photo(data_dir, "coffee.png")),
        ("files", ("notes.png", b"not an image at all", "image/png")),
        ("files", _photo(data_dir, "obama.jpg")),
    ]
    data = {"names": ["The President", "Espresso", "Notes", "Again"], "types": ["CHARACTER", "PROP", "PROP", ""]}
    answer = await client.post(f"/api/manifests/{manifest_id}/uploads", files=files, data=data)
    assert answer.status_code == 200, answer.text
    outcomes = [(f["file"], f["outcome"]) for f in answer.json()["files"]]
    assert outcomes == [
        ("obama.jpg", "accepted"),
        ("coffee.png", "accepted"),
        ("notes.png", "refused"),
        ("obama.jpg", "duplicate"),
    ]
    # The duplicate's type was left out; a photo with no type is guessed and told as such.
    assert answer.json()["files"][0]["type"] == "CHARACTER" and answer.json()["files"][0]["note"] is None
    refused = answer.json()["files"][2]["reason"]
    assert "notes.png" in refused and "vidpipe-upload" not in refused  # no server path leaks
    uploads = (await client.get(f"/api/manifests/{manifest_id}/uploads")).json()
    assert [u["name"] for u in uploads] == ["The President", "Espresso"] and uploads[1]["type"] == "PROP"
    mismatch = await client.post(f"/api/manifests/{manifest_id}/uploads", files=[files[0]], data={"names": ["a", "b"]})
    assert mismatch.status_code == 400 and "2 names for 1 files" in mismatch.json()["error"]

    accepted = await client.post(f"/api/manifests/{manifest_id}/process")
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    again = await client.post(f"/api/manifests/{manifest_id}/process")
    assert again.status_code in (200, 202, 409)  # the same queued job, or busy once it runs
    if again.status_code == 409:
        assert "already being processed" in again.json()["error"]
    progress = await _ready(client, manifest_id)
    assert progress["status"] == "READY" and progress["uploads_processed"] == progress["uploads_total"] == 2
    assert [s["state"] for s in progress["steps"]] == ["done"] * 8 and all(
        s["seconds"] is not None for s in progress["steps"]
    )
    job = (await client.get(f"/api/jobs/{job_id}")).json()
    assert job["status"] == "SUCCEEDED" and job["attempts"] == 1
    not_draft = await client.post(f"/api/manifests/{manifest_id}/process")
    assert not_draft.status_code == 409 and "READY" in not_draft.json()["error"]
    assert (await client.delete(f"/api/manifests/{manifest_id}/uploads/{uploads[0]['id']}")).status_code == 409

    # The event stream of a finished manifest: its state, then the end.
    async with client.stream("GET", f"/api/manifests/{manifest_id}/events") as stream:
        text = "".join([chunk async for chunk in stream.aiter_text()])
    events = [line for line in text.splitlines() if line.startswith("event:")]
    assert events == ["event: progress", "event: end"] and '"status":"READY"' in text

    assets = (await client.get(f"/api/manifests/{manifest_id}/assets")).json()
    assert {"CHAR_01", "PROP_01"} <= {a["manifest_tag"] for a in assets}
    props = (await client.get(f"/api/manifests/{manifest_id}/assets", params={"type": "prop"})).json()
    assert props and all(a["type"] == "PROP" for a in props)
    one = (await client.get(f"/api/assets/{assets[0]['id']}")).json()
    assert one["id"] == assets[0]["id"] and one["references"]

    url = one["references"][0]["image_url"]
    image = await client.get(url)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert "immutable" in image.headers["cache-control"]
    cached = await client.get(url, headers={"If-None-Match": image.headers["etag"]})
    assert cached.status_code == 304

    # Reprocess, cancel it at once: the registry stays, the manifest says cancelled.
    rerun = await client.post(f"/api/manifests/{manifest_id}/reprocess")
    assert rerun.status_code == 202
    cancelled = await client.post(f"/api/jobs/{rerun.json()['job_id']}/cancel")
    assert cancelled.status_code == 200
    final = await _ready(client, manifest_id)
    assert final["status"] == "ERROR" and final["error"] == "cancelled"
    assert len((await client.get(f"/api/manifests/{manifest_id}/assets")).json()) == len(assets)

    # Deleting the manifest removes the files no other manifest uses.
    stored = app_ctx.store.path(url.removeprefix("/files/"))
    assert stored.is_file()
    assert (await client.delete(f"/api/manifests/{manifest_id}")).status_code == 204
    assert not stored.exists()


async def test_a_draft_photo_can_be_removed(client: httpx.AsyncClient, data_dir: Path) -> None:
    manifest_id = (await client.post("/api/manifests", json={"name": "Draft"})).json()["id"]
    await client.post(f"/api/manifests/{manifest_id}/uploads", files=[("files", _photo(data_dir, "coffee.png"))])
    (upload,) = (await client.get(f"/api/manifests/{manifest_id}/uploads")).json()
    removed = await client.delete(f"/api/manifests/{manifest_id}/uploads/{upload['id']}")
    assert removed.status_code == 200 and removed.json()["upload_count"] == 0
    assert (await client.delete(f"/api/manifests/{manifest_id}/uploads/{upload['id']}")).status_code == 404


async def test_the_schema_is_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/api/manifests/{manifest_id}/progress" in schema["paths"]
    assert json.dumps(schema)  # serialisable as a whole


async def test_unusable_uploads_say_why_with_the_status(app_ctx: AppContext, data_dir: Path) -> None:
    from vidpipe.settings import ApiSettings, VisionSettings

    small = app_ctx.settings.model_copy(
        update={
            "max_upload_bytes": 300_000,
            "vision": VisionSettings(max_image_pixels=400_000),
            "api": ApiSettings(token="s3cret", cors_origins=["http://studio.example"]),
        }
    )
    with AppContext.open(small, toolkit=app_ctx.toolkit()) as ctx:
        app = create_app(ctx, serve_jobs=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vidpipe.test") as c:
            # Writes need the token; reads do not.
            assert (await c.post("/api/manifests", json={"name": "x"})).status_code == 401
            auth = {"Authorization": "Bearer s3cret"}
            manifest_id = (await c.post("/api/manifests", json={"name": "Limits"}, headers=auth)).json()["id"]
            assert (await c.get(f"/api/manifests/{manifest_id}")).status_code == 200
            big = _photo(data_dir, "bus.jpg")  # 810×1080 in 137 kB: over 400,000 pixels, under 300 kB
            too_big = await c.post(f"/api/manifests/{manifest_id}/uploads", files=[("files", big)], headers=auth)
            assert too_big.status_code == 413 and "400,000" in too_big.json()["detail"]
            heavy = _photo(data_dir, "biden.jpg")
            assert len(heavy[1]) > 300_000
            over = await c.post(f"/api/manifests/{manifest_id}/uploads", files=[("files", heavy)], headers=auth)
            assert over.status_code == 413 and "300000 bytes" in over.json()["detail"]
            renamed = await c.post(
                f"/api/manifests/{manifest_id}/uploads",
                files=[("files", ("holiday.jpg", b"plain text, not a photo", "image/jpeg"))],
                headers=auth,
            )
            assert renamed.status_code == 422 and "holiday.jpg" in renamed.json()["detail"]
            preflight = await c.options(
                "/api/manifests",
                headers={"Origin": "http://studio.example", "Access-Control-Request-Method": "POST"},
            )
            assert preflight.headers.get("access-control-allow-origin") == "http://studio.example"


async def test_search_by_words_and_by_photo(client: httpx.AsyncClient, data_dir: Path) -> None:
    manifest_id = (await client.post("/api/manifests", json={"name": "Search"})).json()["id"]
    files = [("files", _photo(data_dir, "coffee.png")), ("files", _photo(data_dir, "motorcycle_left.png"))]
    await client.post(
        f"/api/manifests/{manifest_id}/uploads",
        files=files,
        data={"names": ["Hero cup", "Red bike"], "types": ["PROP", "VEHICLE"]},
    )
    await client.post(f"/api/manifests/{manifest_id}/process")
    assert (await _ready(client, manifest_id))["status"] == "READY"
    assets = {a["name"]: a for a in (await client.get(f"/api/manifests/{manifest_id}/assets")).json()}
    await client.patch(f"/api/assets/{assets['Red bike']['id']}", json={"user_tags": ["chase-scene"]})

    cup = (await client.get(f"/api/manifests/{manifest_id}/search", params={"q": "hero cup"})).json()
    assert [h["asset"]["name"] for h in cup][:1] == ["Hero cup"]
    by_tag = (await client.get(f"/api/manifests/{manifest_id}/search", params={"q": "VEH 01"})).json()
    assert [h["asset"]["name"] for h in by_tag] == ["Red bike"]
    by_user_tag = (await client.get(f"/api/manifests/{manifest_id}/search", params={"q": "chase"})).json()
    assert [h["asset"]["name"] for h in by_user_tag] == ["Red bike"]
    assert (await client.get(f"/api/manifests/{manifest_id}/search", params={"q": "submarine"})).json() == []
    assert (await client.get(f"/api/manifests/{manifest_id}/search", params={"q": "!!"})).status_code == 400

    photo = _photo(data_dir, "motorcycle_right.png")  # the other side of the same bike
    hits = (await client.post(f"/api/manifests/{manifest_id}/search/image", files={"file": photo})).json()
    assert [h["asset"]["name"] for h in hits] == ["Red bike"]  # the others are not close
    everything = await client.post(
        f"/api/manifests/{manifest_id}/search/image", files={"file": photo}, params={"min_score": -1}
    )
    ranked = everything.json()
    assert ranked[0]["asset"]["name"] == "Red bike" and len(ranked) > 1 and ranked[0]["score"] > ranked[-1]["score"]
    rocket = _photo(data_dir, "rocket.jpg")  # nothing like it in the manifest
    assert (await client.post(f"/api/manifests/{manifest_id}/search/image", files={"file": rocket})).json() == []


def test_received_file_names_are_cleaned() -> None:
    from vidpipe.api.received import safe_filename

    assert safe_filename("obama.jpg") == "obama.jpg"
    assert safe_filename("../../etc/pass wd.jpg") == "pass wd.jpg"
    assert safe_filename("C:\\photos\\été.png") == "été.png"
    assert safe_filename("a/b<c>.jpg") == "b_c_.jpg"
    assert safe_filename("", 2) == "photo-3"


async def test_a_bad_photo_to_search_with_is_named_without_a_server_path(client: httpx.AsyncClient) -> None:
    manifest_id = (await client.post("/api/manifests", json={"name": "Empty"})).json()["id"]
    answer = await client.post(
        f"/api/manifests/{manifest_id}/search/image", files={"file": ("notes.jpg", b"plain text", "image/jpeg")}
    )
    assert answer.status_code == 422 and "'notes.jpg'" in answer.json()["error"] and "/tmp" not in answer.text


async def test_a_photo_without_a_type_gets_one_from_what_is_in_it(client: httpx.AsyncClient, data_dir: Path) -> None:
    manifest_id = (await client.post("/api/manifests", json={"name": "Untyped"})).json()["id"]
    files = [("files", _photo(data_dir, name)) for name in ("obama.jpg", "coffee.png", "motorcycle_left.png")]
    answer = await client.post(f"/api/manifests/{manifest_id}/uploads", files=files)
    assert answer.status_code == 200, answer.text
    told = {f["file"]: (f["type"], f["note"]) for f in answer.json()["files"]}
    assert told["obama.jpg"][0] == "CHARACTER" and "face" in told["obama.jpg"][1]
    assert told["coffee.png"][0] == "PROP" and "cup" in told["coffee.png"][1]
    assert told["motorcycle_left.png"][0] == "VEHICLE" and "motorcycle" in told["motorcycle_left.png"][1]
    uploads = (await client.get(f"/api/manifests/{manifest_id}/uploads")).json()
    assert [u["type"] for u in uploads] == ["CHARACTER", "PROP", "VEHICLE"]
