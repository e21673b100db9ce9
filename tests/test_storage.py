import hashlib
import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidpipe.errors import VidpipeError
from vidpipe.storage import FileStore, MissingKeyError


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "store")


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _gradient(h: int = 48, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], axis=-1).astype(np.uint8)


def test_same_bytes_give_the_same_key_and_different_bytes_another(store: FileStore) -> None:
    key = store.put_bytes(b"hello", kind="originals", suffix=".txt")
    sha = hashlib.sha256(b"hello").hexdigest()
    assert key == f"originals/{sha[:2]}/{sha}.txt"
    assert store.put_bytes(b"hello", kind="originals", suffix=".txt") == key
    assert store.put_bytes(b"hello!", kind="originals", suffix=".txt") != key
    assert store.put_bytes(b"hello", kind="crops", suffix=".txt") != key  # the kind is part of the key
    assert store.read_bytes(key) == b"hello"
    assert store.path(key) == store.root / "originals" / sha[:2] / f"{sha}.txt"
    assert store.path(key).is_absolute()
    assert store.url_path(key) == key


def test_an_existing_key_is_not_written_again(store: FileStore) -> None:
    key = store.put_bytes(b"content", kind="originals", suffix=".bin")
    path = store.path(key)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    inode = path.stat().st_ino
    assert store.put_bytes(b"content", kind="originals", suffix=".bin") == key
    assert path.stat().st_mtime_ns == 1_000_000_000 and path.stat().st_ino == inode


def test_writes_leave_no_temporary_files(store: FileStore, tmp_path: Path) -> None:
    source = tmp_path / "upload.png"
    source.write_bytes(b"png-ish bytes")
    keys = {
        store.put_bytes(b"a", kind="originals", suffix=".jpg"),
        store.put_bytes(b"a", kind="originals", suffix=".jpg"),
        store.put_image(_gradient(), kind="crops"),
        store.thumbnail(_gradient()),
        store.put_file(source, kind="originals")[0],
        store.put_file(source, kind="originals")[0],  # the second copy is discarded
    }
    assert [p.relative_to(store.root).as_posix() for p in _all_files(store.root)] == sorted(keys)
    assert all(oct(store.path(k).stat().st_mode & 0o777) == oct(0o644) for k in keys)


def test_concurrent_writers_of_the_same_content_agree(store: FileStore) -> None:
    data = os.urandom(200_000)
    keys: list[str] = []
    threads = [
        threading.Thread(target=lambda: keys.append(store.put_bytes(data, kind="originals", suffix=".bin")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and store.read_bytes(keys[0]) == data
    assert len(_all_files(store.root)) == 1


@pytest.mark.parametrize(
    "key",
    [
        "../x",
        "/etc/passwd",
        "a\\b",
        "originals/../../x",
        "",
        "originals",
        "originals/ab/" + "a" * 64 + ".jpg",  # the folder is not the hash's first two digits
        "originals/aa/" + "a" * 64 + ".jpg/../../../etc/passwd",
        "originals/aa/" + "a" * 63 + ".jpg",
        "originals/aa/" + "A" * 64 + ".jpg",
        "Originals/aa/" + "a" * 64 + ".jpg",
        "originals/aa/" + "a" * 64 + ".jpg\n",
        "originals/aa/" + "a" * 64,
        "originals//aa/" + "a" * 64 + ".jpg",
    ],
)
def test_keys_that_are_not_store_keys_are_refused(store: FileStore, key: str) -> None:
    for use in (store.path, store.exists, store.read_bytes, store.delete, store.url_path):
        with pytest.raises(VidpipeError, match="not a store key"):
            use(key)


def test_a_well_formed_key_with_no_file(store: FileStore) -> None:
    key = "originals/aa/" + "a" * 64 + ".jpg"
    assert not store.exists(key)
    with pytest.raises(MissingKeyError, match="no stored file") as caught:
        store.read_bytes(key)
    assert caught.value.status == 404
    store.delete(key)  # missing is fine


def test_delete(store: FileStore) -> None:
    key = store.put_bytes(b"x", kind="crops", suffix=".png")
    assert store.exists(key)
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)


@pytest.mark.parametrize("kind", ["", "Originals", "1st", "a/b", "../x", "a b", "ü", "a.b"])
def test_bad_kinds_are_refused(store: FileStore, kind: str) -> None:
    with pytest.raises(ValueError, match="bad file kind") as caught:
        store.put_bytes(b"x", kind=kind, suffix=".jpg")
    assert repr(kind) in str(caught.value)
    with pytest.raises(ValueError, match="bad file kind"):
        store.put_image(_gradient(), kind=kind)
    assert not store.root.exists()


@pytest.mark.parametrize("suffix", ["", "jpg", ".", ".JPG", ".jpeg22", "./", ".a/b", "..", ".j-g"])
def test_bad_suffixes_are_refused(store: FileStore, suffix: str) -> None:
    with pytest.raises(ValueError, match="bad file suffix") as caught:
        store.put_bytes(b"x", kind="originals", suffix=suffix)
    assert repr(suffix) in str(caught.value)


def test_put_file_streams_and_matches_put_bytes(store: FileStore, tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 17)  # not a whole number of chunks
    source = tmp_path / "big.MOV"
    source.write_bytes(data)
    key, sha, size = store.put_file(source, kind="originals")
    assert sha == hashlib.sha256(data).hexdigest() and size == len(data)
    assert key == store.put_bytes(data, kind="originals", suffix=".mov")
    assert store.read_bytes(key) == data


@pytest.mark.parametrize(
    ("name", "suffix"),
    [("photo.JPG", ".jpg"), ("clip.webm", ".webm"), ("x.tar.gz", ".gz"), ("noext", ".bin"), ("a.toolong", ".bin"),
     ("a.ПНГ", ".bin"), ("a.p-g", ".bin"), (".hidden", ".bin")],
)  # fmt: skip
def test_put_file_suffixes(store: FileStore, tmp_path: Path, name: str, suffix: str) -> None:
    source = tmp_path / name
    source.write_bytes(b"data")
    key, _, _ = store.put_file(source, kind="originals")
    assert key.endswith(suffix) and key.count(".") == 1


def test_put_file_names_do_not_change_the_key(store: FileStore, tmp_path: Path) -> None:
    keys = set()
    for name in ("Zoë — the café.png", "写真.png", "plain.png", "UPPER.PNG"):
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_bytes(b"same bytes")
        keys.add(store.put_file(folder / name, kind="originals")[0])
    assert len(keys) == 1


def test_put_file_of_a_missing_file_or_folder(store: FileStore, tmp_path: Path) -> None:
    with pytest.raises(VidpipeError, match="no such file"):
        store.put_file(tmp_path / "nope.jpg", kind="originals")
    with pytest.raises(VidpipeError, match="directory"):
        store.put_file(tmp_path, kind="originals")


@pytest.mark.parametrize("fmt", ["jpg", "jpeg", "png", "webp", "JPG"])
def test_put_image_is_deterministic_and_decodes(store: FileStore, tmp_path: Path, fmt: str) -> None:
    image = _gradient()
    key = store.put_image(image, kind="crops", fmt=fmt)
    assert store.put_image(image.copy(), kind="crops", fmt=fmt) == key
    assert FileStore(tmp_path / "other").put_image(image, kind="crops", fmt=fmt) == key
    assert key.endswith({"jpeg": ".jpg"}.get(fmt.lower(), f".{fmt.lower()}"))
    changed = image.copy()
    changed[:8, :8] = 255 - changed[:8, :8]
    assert store.put_image(changed, kind="crops", fmt=fmt) != key
    with Image.open(io.BytesIO(store.read_bytes(key))) as decoded:
        assert decoded.size == (64, 48) and decoded.mode == "RGB"
        error = np.abs(np.asarray(decoded).astype(int) - image).mean()
    assert error == 0 if fmt == "png" else error < 8


def test_put_image_refuses_bad_input(store: FileStore) -> None:
    with pytest.raises(ValueError, match="format"):
        store.put_image(_gradient(), kind="crops", fmt="gif")
    with pytest.raises(ValueError, match="quality"):
        store.put_image(_gradient(), kind="crops", quality=0)
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3)), np.zeros((0, 4, 3))):
        with pytest.raises(ValueError, match="H×W×3 uint8"):
            store.put_image(bad, kind="crops")


def test_thumbnail_keeps_aspect_and_never_enlarges(store: FileStore) -> None:
    key = store.thumbnail(_gradient(300, 800), max_side=200)
    assert key.startswith("thumbnails/") and key.endswith(".jpg")
    with Image.open(store.path(key)) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (200, 75)
    with Image.open(store.path(store.thumbnail(_gradient(30, 20)))) as small:
        assert small.size == (20, 30)
    with pytest.raises(ValueError, match="thumbnail size"):
        store.thumbnail(_gradient(), max_side=0)
