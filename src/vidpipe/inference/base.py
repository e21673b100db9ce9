"""Template for every model: metadata on the class, weights loaded on first use, each call timed."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vidpipe.errors import ModelError
from vidpipe.inference.sessions import get_session
from vidpipe.inference.specs import ModelSpec, Task, get_spec
from vidpipe.inference.store import ModelStore
from vidpipe.settings import Settings, get_settings


class Model:
    """Base of all models. Subclasses set ``task`` and ``default_model`` and use ``session``/``run``."""

    task: ClassVar[Task]
    default_model: ClassVar[str]

    def __init__(self, model: str | ModelSpec | None = None, *, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        spec = get_spec(model or self.default_model) if not isinstance(model, ModelSpec) else model
        if spec.task != self.task:
            raise ModelError(
                f"model {spec.name!r} is a {spec.task.value} model; {type(self).__name__} needs {self.task.value}"
            )
        self.spec = spec
        self.store = ModelStore(self.settings.model_dir, self.settings.model_mirror_url)
        self._lock = threading.Lock()
        self._loaded: Any = None
        self.calls = 0
        self.seconds = 0.0

    @property
    def name(self) -> str:
        return self.spec.name

    def model_path(self, index: int = 0) -> Path:
        return self.store.path(self.spec, self.spec.files[index])

    def ensure_loaded(self) -> Any:
        """Load weights once (thread-safe) and return what ``_load`` built."""
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> Any:
        # Default: an onnxruntime session for the first file.
        return get_session(self.model_path(), self.settings.runtime)

    @property
    def session(self) -> Any:
        return self.ensure_loaded()

    def run(self, feeds: dict[str, np.ndarray[Any, Any]]) -> list[np.ndarray[Any, Any]]:
        """Run the onnx session and record the time spent in it."""
        session = self.session
        start = time.perf_counter()
        outputs: list[np.ndarray[Any, Any]] = session.run(None, feeds)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return outputs

    def input_name(self, index: int = 0) -> str:
        return str(self.session.get_inputs()[index].name)

    def input_hw(self, default: tuple[int, int]) -> tuple[int, int]:
        """The model's fixed input (height, width), or ``default`` where the export is dynamic."""
        shape = self.session.get_inputs()[0].shape
        h, w = shape[2], shape[3]
        return (h if isinstance(h, int) else default[0], w if isinstance(w, int) else default[1])
