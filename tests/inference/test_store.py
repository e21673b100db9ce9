"""Model specs and the model folder: listing, checksums, the missing-model error, downloads."""

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from vidpipe.errors import ModelError, ModelMissingError
from vidpipe.inference.specs import SPECS, ModelFile, ModelSpec, Task, get_spec
from vidpipe.inference.store import FileState, ModelStore

SHARED_FILES = {
    "yolox_nano", "yolov8n_int8", "scrfd_2.5g_kps", "ultraface_rfb_320", "mobilefacenet_arcface",
    "mobilenet_v1_embedding", "mobilenet_v2_imagenet",
}  # fmt: skip


def test_every_shared_model_is_registered_under_its_file_name() -> None:
    names = {s.name for s in SPECS}
    assert names >= SHARED_FILES
    for name in SHARED_FILES:
        assert get_spec(name).files[0].name == f"{name}.onnx"


def test_defaults_are_licence_clean() -> None:
    from vidpipe.settings import VisionSettings

    defaults = VisionSettings()
    for name in (
        defaults.object_detector,
        defaults.face_detector,
        defaults.face_embedder,
        defaults.image_embedder,
    ):
        assert get_spec(name).licence_clean, name
    assert not get_spec("yolov8n_int8").licence_clean
    assert not get_spec("scrfd_2.5g_kps").licence_clean


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ModelError, match=r"known models: .*yolox_nano"):
        get_spec("yolo_nope")


def test_missing_model_error_names_file_folder_and_fix(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    with pytest.raises(ModelMissingError) as info:
        store.path(get_spec("yolox_nano"))
    message = str(info.value)
    assert "yolox_nano.onnx" in message and str(tmp_path) in message and "vidpipe models pull --defaults" in message
    with pytest.raises(ModelMissingError, match=r"copy yolov8n_int8\.onnx"):
        store.path(get_spec("yolov8n_int8"))


def test_check_finds_present_bad_and_missing_files(model_dir: Path, tmp_path: Path) -> None:
    assert [c.state for c in ModelStore(model_dir).check(get_spec("yolox_nano"))] == [FileState.PRESENT]
    (tmp_path / "yolox_nano.onnx").write_bytes(b"not the model")
    assert ModelStore(tmp_path).check(get_spec("yolox_nano"))[0].state is FileState.BAD_CHECKSUM
    assert ModelStore(tmp_path).check(get_spec("scrfd_2.5g_kps"))[0].state is FileState.MISSING


def test_dlib_files_come_from_their_package_when_the_folder_lacks_them(tmp_path: Path) -> None:
    pytest.importorskip("dlib")
    spec = get_spec("dlib_resnet_v1")
    paths = ModelStore(tmp_path).paths(spec)
    assert all(p.is_file() and "face_recognition_models" in str(p) for p in paths)
    assert all(c.state is FileState.PRESENT for c in ModelStore(tmp_path).check(spec))


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a folder: the download path runs for real, without the internet."""
    root = tmp_path / "served"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def _spec(url: str, sha: str | None) -> ModelSpec:
    return ModelSpec(
        name="tiny", task=Task.IMAGE_EMBEDDING, files=(ModelFile("tiny.bin", sha, (url,)),),
        licence="MIT", source="test", input_format="-",
    )  # fmt: skip


def test_pull_downloads_verifies_and_reports_progress(file_server: tuple[str, Path], tmp_path: Path) -> None:
    base, root = file_server
    payload = b"weights" * 1000
    (root / "tiny.bin").write_bytes(payload)
    seen: list[int] = []
    store = ModelStore(tmp_path / "models")
    spec = _spec(f"{base}/tiny.bin", hashlib.sha256(payload).hexdigest())
    (result,) = store.pull(spec, progress=lambda f: lambda done, total: seen.append(done))
    assert result.path.read_bytes() == payload and seen[-1] == len(payload)
    assert result.action == "downloaded" and result.bytes_fetched == len(payload)
    # Present and valid: kept, nothing fetched.
    assert [r.action for r in store.pull(spec)] == ["present"]


def test_pull_refuses_a_corrupt_download_and_leaves_nothing(file_server: tuple[str, Path], tmp_path: Path) -> None:
    base, root = file_server
    (root / "tiny.bin").write_bytes(b"tampered")
    folder = tmp_path / "models"
    with pytest.raises(ModelError, match="does not verify"):
        ModelStore(folder).pull(_spec(f"{base}/tiny.bin", "0" * 64))
    assert list(folder.iterdir()) == []
    with pytest.raises(ModelError, match="404"):
        ModelStore(folder).pull(_spec(f"{base}/absent.bin", None))
