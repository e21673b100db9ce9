import threading
from pathlib import Path

import pytest

from vidpipe.errors import ModelError
from vidpipe.inference.object_detector import create_object_detector
from vidpipe.inference.sessions import choose_providers, get_session
from vidpipe.settings import RuntimeSettings, Settings


def test_providers_are_available_intersected_with_preferred() -> None:
    import onnxruntime as ort

    cpu_only = choose_providers(RuntimeSettings(use_cuda=False))
    assert cpu_only == ["CPUExecutionProvider"]
    with_cuda = choose_providers(RuntimeSettings(use_cuda=True))
    assert with_cuda[-1] == "CPUExecutionProvider"
    assert ("CUDAExecutionProvider" in with_cuda) == ("CUDAExecutionProvider" in ort.get_available_providers())


@pytest.mark.models
def test_one_session_per_model_even_under_concurrent_first_use(model_dir: Path, fresh_sessions: None) -> None:
    runtime = RuntimeSettings(intra_op_threads=1)
    seen: list[object] = []
    barrier = threading.Barrier(6)

    def load() -> None:
        barrier.wait()
        seen.append(get_session(model_dir / "ultraface_rfb_320.onnx", runtime))

    threads = [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 6 and len({id(s) for s in seen}) == 1
    assert get_session(model_dir / "ultraface_rfb_320.onnx", RuntimeSettings(intra_op_threads=2)) is not seen[0]


@pytest.mark.models
def test_models_load_lazily(settings: Settings, fresh_sessions: None) -> None:
    detector = create_object_detector("yolox_nano", settings=settings)
    assert detector._loaded is None  # constructing reads the spec only
    assert detector.session is detector.session


def test_a_corrupt_model_file_is_a_clear_error(tmp_path: Path, fresh_sessions: None) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match=r"broken\.onnx"):
        get_session(bad, RuntimeSettings())
