"""`models pull --defaults` timed end to end against a loopback server standing in for the internet
(or a studio's mirror): into an empty model folder, then again with everything present."""

from __future__ import annotations

import http.server
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vidpipe.errors import VidpipeError
from vidpipe.inference.defaults import default_models
from vidpipe.inference.store import ModelStore
from vidpipe.settings import Settings


def mirror_layout(models: Path, into: Path) -> None:
    """What the public addresses hold, laid out as a mirror: the published default files and the
    TFLite sources of the converted ones (never the converted ONNX files themselves)."""
    (into / "sources").mkdir(parents=True, exist_ok=True)
    settings = Settings(model_dir=models)
    for spec in default_models(settings):
        for file in spec.files:
            if file.conversion is not None:
                source = models / file.conversion.source.name
                if not source.is_file():
                    raise VidpipeError(f"{str(source)!r} is missing: the mirror needs the TFLite source")
                shutil.copy(source, into / file.conversion.source.name)
            elif file.urls and (models / file.name).is_file():
                shutil.copy(models / file.name, into / file.name)


@contextmanager
def loopback_server(root: Path) -> Iterator[str]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def run_pull_bench(models: Path) -> dict[str, Any]:
    """Pull the defaults from a loopback mirror made of ``models`` into an empty folder, then again."""
    with tempfile.TemporaryDirectory(prefix="vidpipe-pull-") as work:
        mirror, folder = Path(work) / "mirror", Path(work) / "models"
        mirror_layout(models, mirror)
        served = sum(p.stat().st_size for p in mirror.rglob("*") if p.is_file())
        with loopback_server(mirror) as url:
            store = ModelStore(folder, url)
            specs = default_models(Settings(model_dir=folder))
            start = time.perf_counter()
            first = [r for spec in specs for r in store.pull(spec)]
            empty_seconds = time.perf_counter() - start
            start = time.perf_counter()
            again = [r for spec in specs for r in store.pull(spec)]
            present_seconds = time.perf_counter() - start
    return {
        "models": [s.name for s in specs],
        "mirror_bytes": served,
        "empty_folder_seconds": round(empty_seconds, 3),
        "empty_folder_bytes_fetched": sum(r.bytes_fetched for r in first),
        "actions": {r.file.name: r.action for r in first},
        "all_present_seconds": round(present_seconds, 3),
        "all_present_bytes_fetched": sum(r.bytes_fetched for r in again),
    }
