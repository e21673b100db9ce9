"""/files/{key}: stored files streamed from either backend, with their type, caching headers and byte
ranges; or, with presign on an object store, a redirect to the store itself."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from vidpipe.api.app import create_app
from vidpipe.app import AppContext
from vidpipe.settings import Settings, StoreSettings

DATA = os.urandom(3 * 1024 * 1024 + 5)  # more than one chunk of the store's reads


@pytest.fixture(params=["local", "s3"])
def ctx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppContext]:
    store = request.getfixturevalue("s3_settings") if request.param == "s3" else StoreSettings()
    settings = Settings(data_dir=tmp_path / "data", model_dir=tmp_path / "models", database_url=None, store=store)
    with AppContext.open(settings) as opened:
        yield opened


@pytest.fixture
def api(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, serve_jobs=False)) as client:
        yield client


def test_a_file_is_streamed_with_its_type_and_cached_forever(ctx: AppContext, api: TestClient) -> None:
    key = ctx.store.put_bytes(DATA, kind="clips", suffix=".mp4")
    answer = api.get(f"/files/{key}")
    assert answer.status_code == 200 and answer.content == DATA
    assert answer.headers["content-type"] == "video/mp4" and answer.headers["content-length"] == str(len(DATA))
    assert answer.headers["etag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.headers["accept-ranges"] == "bytes"
    cached = api.get(f"/files/{key}", headers={"If-None-Match": answer.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-99", (0, 100)),
        ("bytes=1048570-1048580", (1048570, 1048581)),  # across a chunk boundary
        ("bytes=3145700-", (3145700, len(DATA))),
        ("bytes=-10", (len(DATA) - 10, len(DATA))),
        ("bytes=100-99999999", (100, len(DATA))),
    ],
)
def test_byte_ranges(ctx: AppContext, api: TestClient, header: str, span: tuple[int, int]) -> None:
    key = ctx.store.put_bytes(DATA, kind="clips", suffix=".webm")
    answer = api.get(f"/files/{key}", headers={"Range": header})
    start, end = span
    assert answer.status_code == 206 and answer.content == DATA[start:end]
    assert answer.headers["content-range"] == f"bytes {start}-{end - 1}/{len(DATA)}"
    assert answer.headers["content-type"] == "video/webm"


def test_ranges_past_the_end_or_not_understood(ctx: AppContext, api: TestClient) -> None:
    key = ctx.store.put_bytes(b"0123456789", kind="originals", suffix=".png")
    beyond = api.get(f"/files/{key}", headers={"Range": "bytes=10-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == "bytes */10"
    for ignored in ("bytes=0-1,4-5", "items=0-1", "bytes=5-2", "bytes=-"):  # the whole file instead
        whole = api.get(f"/files/{key}", headers={"Range": ignored})
        assert whole.status_code == 200 and whole.content == b"0123456789", ignored


def test_bad_and_missing_keys(api: TestClient) -> None:
    missing = api.get("/files/crops/aa/" + "a" * 64 + ".jpg")
    assert missing.status_code == 404 and "no stored file" in missing.json()["error"]
    bad = api.get("/files/crops/../../etc/passwd")
    assert bad.status_code in (400, 404) and "error" in bad.json()


def test_presign_redirects_to_the_object_store(ctx: AppContext, api: TestClient) -> None:
    key = ctx.store.put_bytes(b"\x89PNG pixels", kind="originals", suffix=".png")
    ctx.settings = ctx.settings.model_copy(
        update={"store": ctx.settings.store.model_copy(update={"presign": True, "presign_seconds": 600})}
    )
    answer = api.get(f"/files/{key}", follow_redirects=False)
    if ctx.settings.store.backend == "local":
        assert answer.status_code == 200 and answer.content == b"\x89PNG pixels"  # nothing to sign: streamed
        return
    assert answer.status_code == 307 and answer.headers["cache-control"] == "private, max-age=300"
    fetched = httpx.get(answer.headers["location"])
    assert fetched.status_code == 200 and fetched.content == b"\x89PNG pixels"
