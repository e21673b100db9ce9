"""`models pull` for real: the default models fetched from a loopback server standing in for the
internet (or a studio's mirror), the two Coral MobileNets converted from their official TFLite
files and verified by their output, then used. The served files are the real ones from
../shared/models, copied into the test's temporary folder (never into the repository)."""

from __future__ import annotations

import dataclasses
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vidpipe.errors import ModelError
from vidpipe.inference.classifier import ImageNetClassifier
from vidpipe.inference.defaults import default_models, load_model
from vidpipe.inference.image_embedder import create_image_embedder
from vidpipe.inference.specs import Conversion, ModelSpec, get_spec
from vidpipe.inference.store import FileState, ModelStore
from vidpipe.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.data]

pytest.importorskip("tflite2onnx")


@dataclasses.dataclass
class Mirror:
    url: str
    root: Path
    requests: list[str]


@pytest.fixture
def mirror(tmp_path: Path, model_dir: Path) -> Iterator[Mirror]:
    """A loopback server holding what the internet holds: the published files and the TFLite
    sources, but not the converted ONNX files (those exist only after a conversion)."""
    root = tmp_path / "mirror"
    (root / "sources").mkdir(parents=True)
    for name in ("yolox_nano.onnx", "ultraface_rfb_320.onnx", "imagenet_labels.txt"):
        shutil.copy(model_dir / name, root / name)
    for source in (model_dir / "sources").glob("*.tflite"):
        shutil.copy(source, root / "sources" / source.name)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Mirror(f"http://127.0.0.1:{server.server_address[1]}", root, requests)
    server.shutdown()


def test_pull_defaults_converts_verifies_and_the_models_work(
    mirror: Mirror, tmp_path: Path, model_dir: Path, data_dir: Path
) -> None:
    folder = tmp_path / "models"
    settings = Settings(model_dir=folder, model_mirror_url=mirror.url)
    store = ModelStore(folder, mirror.url)
    results = [r for spec in default_models(settings) for r in store.pull(spec)]
    actions = {r.file.name: r.action for r in results}
    assert actions["mobilenet_v1_embedding.onnx"] == "converted"
    assert actions["mobilenet_v2_imagenet.onnx"] == "converted"
    assert actions["yolox_nano.onnx"] == actions["imagenet_labels.txt"] == "downloaded"
    assert "/sources/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite" in mirror.requests
    for spec in default_models(settings):
        assert all(c.state.usable for c in store.check(spec)), spec.name
        load_model(spec, settings)  # each loads as a run would
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left

    # Used for real: the converted embedder gives the shared model's vectors, the classifier its labels.
    coffee = data_dir / "detection/skimage_data/coffee.png"
    from vidpipe.imaging.loading import load_image

    image = load_image(coffee)
    ours = create_image_embedder(settings=settings).embed([image])[0]
    shared = create_image_embedder(settings=Settings(model_dir=model_dir)).embed([image])[0]
    assert np.allclose(ours, shared, atol=1e-6)
    labels = ImageNetClassifier(settings=settings).classify(image)
    assert any("espresso" in str(label[0]) for label in labels), labels

    # Everything present: nothing is fetched again.
    mirror.requests.clear()
    again = [r for spec in default_models(settings) for r in store.pull(spec)]
    assert {r.action for r in again} == {"present"} and mirror.requests == []


def test_a_conversion_that_does_not_give_the_reference_output_is_refused(mirror: Mirror, tmp_path: Path) -> None:
    spec = get_spec("mobilenet_v1_embedding")
    file = spec.files[0]
    assert file.conversion is not None
    wrong_check = dataclasses.replace(file.conversion.check, l2_norm=file.conversion.check.l2_norm * 1.01)
    wrong = dataclasses.replace(
        spec, files=(dataclasses.replace(file, conversion=dataclasses.replace(file.conversion, check=wrong_check)),)
    )
    folder = tmp_path / "models"
    with pytest.raises(ModelError, match=r"mobilenet_v1_embedding.*does not give the reference output"):
        ModelStore(folder, mirror.url).pull(wrong)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_source_with_the_wrong_checksum_is_refused(mirror: Mirror, tmp_path: Path) -> None:
    sources = mirror.root / "sources"
    # The v2 classifier served under the v1 embedder's name: a valid TFLite file, but not the one.
    shutil.copy(
        sources / "mobilenet_v2_1.0_224_quant.tflite", sources / "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
    )
    spec = _without_public_addresses(get_spec("mobilenet_v1_embedding"))
    folder = tmp_path / "models"
    with pytest.raises(ModelError, match="sha256"):
        ModelStore(folder, mirror.url).pull(spec)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_the_mirror_is_tried_first_and_files_copied_in_by_hand_are_checked(
    mirror: Mirror, tmp_path: Path, model_dir: Path
) -> None:
    folder = tmp_path / "models"
    (result,) = ModelStore(folder, mirror.url).pull(get_spec("yolox_nano"))
    assert result.source == f"{mirror.url}/yolox_nano.onnx" and mirror.requests == ["/yolox_nano.onnx"]
    # By hand: the shared (converted elsewhere) MobileNet is valid by checksum; a file of another
    # converter version is valid by its output; junk is not.
    shutil.copy(model_dir / "mobilenet_v1_embedding.onnx", folder)
    assert ModelStore(folder).check(get_spec("mobilenet_v1_embedding"))[0].state is FileState.PRESENT
    (folder / "mobilenet_v2_imagenet.onnx").write_bytes(b"not a model")
    state = ModelStore(folder).check(get_spec("mobilenet_v2_imagenet"))[0]
    assert state.state is FileState.BAD_OUTPUT and "onnxruntime cannot load it" in (state.detail or "")


def test_without_the_converter_the_message_says_how_to_get_it(
    mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_tflite2onnx(name: str, *args: object, **kwargs: object) -> object:
        if name == "tflite2onnx":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_tflite2onnx)
    with pytest.raises(ModelError, match=r"vidpipe\[convert\]"):
        ModelStore(tmp_path / "models", mirror.url).pull(_without_public_addresses(get_spec("mobilenet_v1_embedding")))


def _without_public_addresses(spec: ModelSpec) -> ModelSpec:
    """The spec as the mirror alone serves it (the tests reach no internet)."""
    file = spec.files[0]
    assert file.conversion is not None
    source = dataclasses.replace(file.conversion.source, urls=())
    conversion: Conversion = dataclasses.replace(file.conversion, source=source)
    return dataclasses.replace(spec, files=(dataclasses.replace(file, urls=(), conversion=conversion),))
