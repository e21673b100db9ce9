"""The S3 store backend, against a real S3 wire-protocol server (moto's server mode) through boto3.

One contract runs on both backends (the local folder and the bucket), so callers can take either;
then what only the bucket has (conditional writes, multipart uploads, the server's errors, settings),
and a manifest processed end to end with its files in the bucket and served by the API.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
from pathlib import Path

import boto3
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import ValidationError
from tests.conftest import S3_BUCKET

from vidpipe.api.app import create_app
from vidpipe.app import AppContext
from vidpipe.db.repositories.manifests import find_manifest
from vidpipe.describe.describers.offline import OfflineDescriber
from vidpipe.domain.enums import AssetType, JobStatus
from vidpipe.errors import VidpipeError
from vidpipe.pipeline.toolkit import VisionToolkit
from vidpipe.pipeline.uploads import PhotoIn
from vidpipe.services import manifests, runs
from vidpipe.settings import Settings, StoreSettings
from vidpipe.storage import FileStore, MissingKeyError, Store, StoreUnavailableError, make_store
from vidpipe.storage_s3 import S3Store

MISSING = "originals/aa/" + "a" * 64 + ".jpg"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return FileStore(tmp_path / "store")
    return S3Store.from_settings(request.getfixturevalue("s3_settings"))


def _overwrite(store: Store, key: str, data: bytes) -> None:
    """Change a stored file behind the store's back, to see whether a later write touches it."""
    if isinstance(store, FileStore):
        store.path(key).write_bytes(data)
    else:
        assert isinstance(store, S3Store)
        store.client.put_object(Bucket=store.bucket, Key=store.object_name(key), Body=data)


def _gradient(h: int = 48, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], axis=-1).astype(np.uint8)


# ---------------------------------------------------------------- the contract, on both backends


def test_put_read_size_exists_and_delete(store: Store) -> None:
    key = store.put_bytes(b"hello", kind="originals", suffix=".txt")
    sha = hashlib.sha256(b"hello").hexdigest()
    assert key == f"originals/{sha[:2]}/{sha}.txt" and store.url_path(key) == key
    assert store.exists(key) and store.read_bytes(key) == b"hello" and store.size(key) == 5
    assert b"".join(store.iter_bytes(key)) == b"hello"
    assert b"".join(store.iter_bytes(key, start=1, end=4)) == b"ell"
    assert b"".join(store.iter_bytes(key, start=3)) == b"lo"
    assert b"".join(store.iter_bytes(key, start=2, end=2)) == b""
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # missing is fine


def test_the_same_bytes_give_the_same_key_and_are_not_written_again(store: Store) -> None:
    key = store.put_bytes(b"content", kind="originals", suffix=".bin")
    assert store.put_bytes(b"content!", kind="originals", suffix=".bin") != key
    assert store.put_bytes(b"content", kind="crops", suffix=".bin") != key  # the kind is part of the key
    _overwrite(store, key, b"changed behind the store's back")
    assert store.put_bytes(b"content", kind="originals", suffix=".bin") == key
    assert store.read_bytes(key) == b"changed behind the store's back"  # so the second put wrote nothing


def test_images_and_thumbnails_are_the_same_keys_on_both_backends(store: Store, tmp_path: Path) -> None:
    key = store.put_image(_gradient(), kind="crops", fmt="png")
    assert key == FileStore(tmp_path / "other").put_image(_gradient(), kind="crops", fmt="png")
    with Image.open(io.BytesIO(store.read_bytes(key))) as decoded:
        assert np.array_equal(np.asarray(decoded), _gradient())
    thumb = store.thumbnail(_gradient(300, 800), max_side=200)
    with Image.open(io.BytesIO(store.read_bytes(thumb))) as small:
        assert thumb.startswith("thumbnails/") and small.format == "JPEG" and small.size == (200, 75)


@pytest.mark.parametrize(
    "key", ["../x", "/etc/passwd", "originals/../../x", "", "originals/ab/" + "a" * 64 + ".jpg", MISSING + "/../y"]
)
def test_keys_that_are_not_store_keys_are_refused(store: Store, key: str) -> None:
    uses = [
        store.exists,
        store.size,
        store.read_bytes,
        store.delete,
        store.url_path,
        store.iter_bytes,
        lambda k: store.presigned_url(k, 60),
        lambda k: store.local_copy(k).__enter__(),
    ]
    for use in uses:
        with pytest.raises(VidpipeError, match="not a store key"):
            use(key)


def test_a_well_formed_key_with_nothing_behind_it(store: Store) -> None:
    assert not store.exists(MISSING)
    for use in (store.read_bytes, store.size, store.iter_bytes, lambda k: store.local_copy(k).__enter__()):
        with pytest.raises(MissingKeyError, match="no stored file") as caught:
            use(MISSING)
        assert MISSING in str(caught.value) and caught.value.status == 404
    store.delete(MISSING)


@pytest.mark.parametrize("megabytes", [5, 12])  # on S3: one conditional PUT, and a multipart upload
def test_put_file_of_a_large_file(store: Store, tmp_path: Path, megabytes: int) -> None:
    data = os.urandom(megabytes * 1024 * 1024 + 17)  # not a whole number of chunks or parts
    source = tmp_path / "big.MOV"
    source.write_bytes(data)
    key, sha, size = store.put_file(source, kind="clips")
    assert sha == hashlib.sha256(data).hexdigest() and size == len(data) and key.endswith(".mov")
    assert store.size(key) == len(data) and store.read_bytes(key) == data
    assert store.put_file(source, kind="clips") == (key, sha, size)
    assert key == store.put_bytes(data, kind="clips", suffix=".mov")
    assert not [p for p in tmp_path.rglob("*.part")]  # no spooled copy is left behind


def test_put_file_of_a_missing_file_or_folder(store: Store, tmp_path: Path) -> None:
    with pytest.raises(VidpipeError, match="no such file"):
        store.put_file(tmp_path / "nope.jpg", kind="originals")
    with pytest.raises(VidpipeError, match="directory"):
        store.put_file(tmp_path, kind="originals")


def test_local_copy_is_a_path_holding_the_bytes(store: Store) -> None:
    key = store.put_bytes(b"\x00video\x01", kind="clips", suffix=".mp4")
    with store.local_copy(key) as path:
        assert path.is_file() and path.suffix == ".mp4" and path.read_bytes() == b"\x00video\x01"
    # A download is removed afterwards; the local store's own file stays.
    assert path.exists() == isinstance(store, FileStore)
    assert store.exists(key)


def test_presigned_urls_serve_the_file(store: Store) -> None:
    data = (Path(__file__).parent / "conftest.py").read_bytes()
    key = store.put_bytes(data, kind="originals", suffix=".png")
    url = store.presigned_url(key, 120)
    if isinstance(store, FileStore):
        assert url is None  # a local folder has no addresses of its own: the API serves it
        return
    assert url is not None
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.content == data
    assert answer.headers["content-type"] == "image/png"  # set when stored, so browsers show it
    with pytest.raises(ValueError, match="lifetime"):
        store.presigned_url(key, 0)


# ---------------------------------------------------------------- what only the bucket has


def test_objects_live_under_the_prefix_with_their_type(s3_settings: StoreSettings) -> None:
    store = S3Store.from_settings(s3_settings)
    key = store.put_image(_gradient(), kind="crops")
    head = store.client.head_object(Bucket=S3_BUCKET, Key=f"{s3_settings.prefix}/{key}")
    assert head["ContentType"] == "image/jpeg"
    listed = store.client.list_objects_v2(Bucket=S3_BUCKET, Prefix=s3_settings.prefix)
    assert [o["Key"] for o in listed["Contents"]] == [f"{s3_settings.prefix}/{key}"]


def test_a_write_that_loses_a_race_leaves_the_first_writers_object(s3_settings: StoreSettings) -> None:
    # Two writers both found the key missing; the server's If-None-Match refuses the second one's PUT
    # (412), which the store takes as "already there".
    store = S3Store.from_settings(s3_settings)
    key = store.put_bytes(b"first", kind="originals", suffix=".bin")
    store._put_new(key, b"second")
    assert store.read_bytes(key) == b"first" and store.conditional_writes


def test_server_errors_name_the_key_and_the_bucket(s3_settings: StoreSettings) -> None:
    nowhere = S3Store.from_settings(s3_settings.model_copy(update={"bucket": "no-such-bucket"}))
    with pytest.raises(StoreUnavailableError, match="NoSuchBucket") as caught:
        nowhere.put_bytes(b"x", kind="originals", suffix=".bin")
    assert "s3://no-such-bucket/" in str(caught.value) and caught.value.status == 503
    # Nothing listening: one try (retries are botocore's, counted by max_attempts), then a clear error.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, then released: nothing listens there
    offline = s3_settings.model_copy(update={"endpoint_url": f"http://127.0.0.1:{port}", "max_attempts": 1})
    with pytest.raises(StoreUnavailableError, match="cannot look up 'originals/aa/") as caught:
        make_store(Settings(store=offline)).exists(MISSING)
    assert "Could not connect" in str(caught.value)


# ---------------------------------------------------------------- settings and the factory


def test_store_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert isinstance(make_store(Settings(data_dir=tmp_path)), FileStore)
    for name, value in {
        "BACKEND": "s3",
        "BUCKET": "media.example",
        "PREFIX": "/vidpipe/prod/",
        "ENDPOINT_URL": "http://localhost:9000",
        "REGION": "auto",
        "ACCESS_KEY_ID": "minio",
        "SECRET_ACCESS_KEY": "minio-secret",
        "PRESIGN": "true",
        "PRESIGN_SECONDS": "600",
    }.items():
        monkeypatch.setenv(f"VIDPIPE_STORE__{name}", value)
    settings = Settings(data_dir=tmp_path)
    config = settings.store
    assert (config.backend, config.bucket, config.region) == ("s3", "media.example", "auto")
    assert config.prefix == "vidpipe/prod"  # the slashes around it are dropped
    assert config.presign and config.presign_seconds == 600
    assert "minio-secret" not in repr(config) and "minio-secret" not in str(settings.model_dump())
    store = make_store(settings)
    assert isinstance(store, S3Store) and store.location == "s3://media.example/vidpipe/prod"
    assert store.object_name(MISSING) == f"vidpipe/prod/{MISSING}"
    assert store.client.meta.endpoint_url == "http://localhost:9000"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"backend": "s3"}, "needs a bucket"),
        ({"backend": "s3", "bucket": "ab"}, "bad bucket name"),
        ({"backend": "s3", "bucket": "Media_Files"}, "bad bucket name"),
        ({"backend": "gcs"}, "backend"),
        ({"prefix": "a/../b"}, "bad prefix"),
        ({"prefix": "a//b"}, "bad prefix"),
        ({"endpoint_url": "localhost:9000"}, "bad endpoint_url"),
        ({"access_key_id": "only-half"}, "both access_key_id and secret_access_key"),
        ({"presign_seconds": 0}, "presign_seconds"),
    ],
)
def test_bad_store_settings_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StoreSettings.model_validate(values)


# ---------------------------------------------------------------- end to end


@pytest.mark.models
@pytest.mark.data
def test_a_manifest_runs_on_the_bucket_and_the_api_serves_its_files(
    tmp_path: Path, settings: Settings, toolkit: VisionToolkit, data_dir: Path, s3_settings: StoreSettings
) -> None:
    here = settings.model_copy(update={"data_dir": tmp_path / "data", "database_url": None, "store": s3_settings})
    describer = OfflineDescriber(classifier=toolkit.classifier)
    with AppContext.open(here, toolkit=toolkit, describer=describer) as ctx:
        assert isinstance(ctx.store, S3Store)
        photo = PhotoIn(data_dir / "detection/skimage_data/coffee.png", AssetType.PROP, "Espresso")
        manifest = manifests.create_manifest(ctx, "Bucket production", [photo]).manifest
        job = runs.process_manifest(ctx, str(manifest.id))
        assert job.status is JobStatus.SUCCEEDED, job.error
        with ctx.factory() as session:
            assets = find_manifest(session, str(manifest.id)).assets
            crop_keys = [r.image_key for a in assets for r in a.references]
        assert crop_keys and all(key.startswith("crops/") for key in crop_keys)

        client = boto3.session.Session().client(
            "s3", endpoint_url=s3_settings.endpoint_url, region_name="us-east-1", aws_access_key_id="testing",
            aws_secret_access_key="x",
        )  # fmt: skip
        listed = client.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{s3_settings.prefix}/")
        names = {o["Key"].removeprefix(f"{s3_settings.prefix}/") for o in listed["Contents"]}
        assert set(crop_keys) <= names and any(n.startswith("originals/") for n in names)
        assert not (tmp_path / "data" / "files").exists()  # nothing went to the local folder

        with TestClient(create_app(ctx, serve_jobs=False)) as api:
            served = api.get(f"/files/{crop_keys[0]}")
            assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
            assert served.content == ctx.store.read_bytes(crop_keys[0])
            assert "immutable" in served.headers["cache-control"]
            assert api.get(f"/files/{MISSING}").status_code == 404

            ctx.settings = here.model_copy(update={"store": s3_settings.model_copy(update={"presign": True})})
            redirect = api.get(f"/files/{crop_keys[0]}", follow_redirects=False)
            assert redirect.status_code == 307 and "private" in redirect.headers["cache-control"]
            assert httpx.get(redirect.headers["location"]).content == served.content
