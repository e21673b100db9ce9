"""One cached onnxruntime session per model file, created lazily and shared between threads."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import onnxruntime as ort

from vidpipe.errors import ModelError
from vidpipe.settings import RuntimeSettings

_lock = threading.Lock()
_sessions: dict[tuple[str, tuple[str, ...], int, int], Any] = {}


def choose_providers(runtime: RuntimeSettings) -> list[str]:
    """Providers = what this onnxruntime build offers, intersected with what the settings allow."""
    available = set(ort.get_available_providers())
    preferred = ["CUDAExecutionProvider"] if runtime.use_cuda else []
    preferred.append("CPUExecutionProvider")
    return [p for p in preferred if p in available]


def get_session(path: Path, runtime: RuntimeSettings) -> Any:
    """The shared InferenceSession for ``path``; onnxruntime's ``run`` is safe to call concurrently."""
    providers = tuple(choose_providers(runtime))
    key = (str(Path(path).resolve()), providers, runtime.intra_op_threads, runtime.inter_op_threads)
    session = _sessions.get(key)
    if session is not None:
        return session
    with _lock:
        session = _sessions.get(key)
        if session is None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = runtime.intra_op_threads
            options.inter_op_num_threads = runtime.inter_op_threads
            # Exports with initialisers listed as inputs make onnxruntime log hundreds of warnings.
            options.log_severity_level = 3
            try:
                session = ort.InferenceSession(str(path), sess_options=options, providers=list(providers))
            except Exception as exc:  # onnxruntime raises bare Fail/InvalidProtobuf errors
                raise ModelError(f"cannot load model file {str(path)!r}: {exc}") from exc
            _sessions[key] = session
    return session


def clear_sessions() -> None:
    """Forget every cached session (tests, or after model files changed)."""
    with _lock:
        _sessions.clear()
