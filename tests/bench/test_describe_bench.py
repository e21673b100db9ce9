"""The describe bench: requests overlap as configured, so the step beats serial time."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vidpipe.bench.describe import bench_crops, run_describe_bench
from vidpipe.cli.app import app
from vidpipe.errors import VidpipeError


@pytest.mark.parametrize("dialect", ["openai", "gemini"])
def test_concurrent_requests_beat_serial_time(dialect: str) -> None:
    result = run_describe_bench(assets=6, latency_seconds=0.2, concurrency=3, dialect=dialect)  # type: ignore[arg-type]
    assert result["described"] == 6 and result["failures"] == []
    assert result["seconds_serial_expected"] == pytest.approx(1.2)
    assert result["seconds_ideal_concurrent"] == pytest.approx(0.4)
    assert result["seconds_ideal_concurrent"] <= result["seconds_total"] < 0.75 * result["seconds_serial_expected"]
    assert result["max_in_flight_observed"] == 3
    assert result["first_finished_seconds"] < result["last_finished_seconds"]


def test_concurrency_one_is_serial() -> None:
    result = run_describe_bench(assets=3, latency_seconds=0.1, concurrency=1)
    assert result["max_in_flight_observed"] == 1 and result["seconds_total"] >= 0.3


def test_crops_differ_and_bad_arguments_are_refused() -> None:
    crops = bench_crops(5)
    assert len({c.tobytes() for c in crops}) == 5
    with pytest.raises(VidpipeError, match="unknown describe bench provider"):
        run_describe_bench("gemini-live")
    with pytest.raises(VidpipeError, match="concurrency"):
        run_describe_bench(assets=2, concurrency=0)


def test_the_command_prints_one_json_object() -> None:
    result = CliRunner().invoke(
        app, ["bench", "describe", "--assets", "4", "--latency", "0.1", "--concurrency", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["assets"] == 4 and report["max_in_flight_observed"] == 2 and report["described"] == 4
