"""How well the remote describe step overlaps requests: N assets against a local server with a fixed latency.

The server (`FakeVisionServer`) speaks the real OpenAI or Gemini wire protocol and answers every
request after ``latency_seconds``; the assets go through the real describer and SDK, exactly as in a
manifesting run (cache off, so each asset costs one request). With ``concurrency`` requests in
flight, the step should take about ``ceil(assets / concurrency) * latency_seconds`` rather than the
serial ``assets * latency_seconds``.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Literal

import numpy as np
import skimage.data

from vidpipe.describe.describer import DescribeRequest, Description
from vidpipe.describe.describers.gemini import GeminiDescriber
from vidpipe.describe.describers.openai_compat import OpenAICompatDescriber
from vidpipe.describe.fake_servers import FakeVisionServer
from vidpipe.describe.remote import RemoteDescriber, RemoteOptions
from vidpipe.domain.enums import AssetType
from vidpipe.errors import VidpipeError

BENCH_PROVIDERS = ("fake-latency",)
BENCH_MODEL = {"openai": "fake-vision", "gemini": "gemini-2.5-flash"}
CROP_SIDE = 192  # pixels; big enough to be a real JPEG, small enough that encoding is not what is measured


def bench_crops(count: int) -> list[np.ndarray[Any, Any]]:
    """``count`` different crops of scikit-image's astronaut photo (bundled with the package, no download)."""
    photo = np.asarray(skimage.data.astronaut())  # type: ignore[no-untyped-call]  # skimage is untyped
    height, width = photo.shape[:2]
    crops = []
    for index in range(count):
        # Walk a grid of windows so that no two crops are the same picture.
        top = (index * 37) % (height - CROP_SIDE)
        left = (index * 53) % (width - CROP_SIDE)
        crops.append(np.ascontiguousarray(photo[top : top + CROP_SIDE, left : left + CROP_SIDE]))
    return crops


def _describer(dialect: Literal["openai", "gemini"], server: FakeVisionServer, concurrency: int) -> RemoteDescriber:
    options = RemoteOptions(model=BENCH_MODEL[dialect], max_in_flight=concurrency, timeout_seconds=60.0, max_attempts=1)
    if dialect == "gemini":
        return GeminiDescriber(options, api_key=server.api_key, base_url=server.url)
    return OpenAICompatDescriber(options, api_key=server.api_key, base_url=server.url)


def run_describe_bench(
    provider: str = "fake-latency",
    *,
    assets: int = 20,
    latency_seconds: float = 0.5,
    concurrency: int = 5,
    dialect: Literal["openai", "gemini"] = "openai",
) -> dict[str, Any]:
    """Describe ``assets`` crops against a local server answering after ``latency_seconds``; times in seconds.

    Returns the wall time of `describe_many`, the serial and ideal concurrent times it compares with,
    the most requests the server saw at once, and when the first and last asset finished.
    """
    if provider not in BENCH_PROVIDERS:
        raise VidpipeError(f"unknown describe bench provider {provider!r}: expected one of {list(BENCH_PROVIDERS)}")
    if assets < 1 or concurrency < 1 or latency_seconds < 0:
        raise VidpipeError(
            f"the describe bench needs assets ≥ 1, concurrency ≥ 1 and latency ≥ 0, "
            f"got {assets}, {concurrency} and {latency_seconds}"
        )
    requests = [
        DescribeRequest(crop, AssetType.OBJECT, name=f"asset {i + 1}") for i, crop in enumerate(bench_crops(assets))
    ]
    finished_at: list[float] = []
    lock = threading.Lock()
    with FakeVisionServer(dialect, api_key="bench-key", latency_seconds=latency_seconds) as server:
        describer = _describer(dialect, server, concurrency)
        start = time.perf_counter()

        def done(index: int, result: Description | Exception) -> None:
            with lock:
                finished_at.append(time.perf_counter() - start)

        results = describer.describe_many(requests, on_done=done)
        total = time.perf_counter() - start
        observed = server.max_in_flight
    failures = [str(r) for r in results if isinstance(r, Exception)]
    ideal = math.ceil(assets / concurrency) * latency_seconds
    return {
        "provider": provider,
        "dialect": dialect,
        "assets": assets,
        "concurrency": concurrency,
        "latency_seconds": latency_seconds,
        "seconds_total": round(total, 3),
        "seconds_serial_expected": round(assets * latency_seconds, 3),
        "seconds_ideal_concurrent": round(ideal, 3),
        "speedup_vs_serial": round(assets * latency_seconds / total, 2) if total > 0 else None,
        "max_in_flight_observed": observed,
        "first_finished_seconds": round(min(finished_at), 3) if finished_at else None,
        "last_finished_seconds": round(max(finished_at), 3) if finished_at else None,
        "described": assets - len(failures),
        "failures": failures,
    }
