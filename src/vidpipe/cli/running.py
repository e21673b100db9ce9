"""Running a manifest in the foreground with live progress; Ctrl-C and SIGTERM cancel it cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vidpipe.cli.common import err_console
from vidpipe.domain.enums import JobStatus
from vidpipe.errors import VidpipeError
from vidpipe.jobs.progress import CANCELLED, StopSignal

if TYPE_CHECKING:
    from vidpipe.app import AppContext
    from vidpipe.services.views import JobView

# Exit statuses of a run stopped by a signal, as shells report them (128 + the signal's number).
EXIT_SIGHUP = 129
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
EXIT_FOR_SIGNAL = {signal.SIGHUP: EXIT_SIGHUP, signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}
# A run cancelled from elsewhere (`vidpipe jobs cancel`) ended without success, like a failed one.
EXIT_CANCELLED_ELSEWHERE = 2


@contextmanager
def cancel_on_signals(stop: StopSignal) -> Iterator[list[int]]:
    """While inside, SIGINT and SIGTERM cancel the run (it stops at its next checkpoint and records
    "cancelled"); a second Ctrl-C quits at once. Yields the list of signals received."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield received
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(signum)
        again = " (Ctrl-C again to quit at once)" if signum == signal.SIGINT else ""
        err_console.print(f"[yellow]stopping the run at its next checkpoint…[/]{again}")
        stop.set(CANCELLED)

    # SIGHUP too: a closed terminal cancels the run rather than leaving it to the lease.
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_job_with_progress(ctx: AppContext, job: JobView, *, quiet: bool = False) -> JobView:
    """Run a queued job here, with bars for photos and descriptions; returns the job once it ended
    successfully. A cancelled run exits 130 (Ctrl-C), 143 (SIGTERM), 129 (SIGHUP) or 2 (cancelled
    from another process); a failed one raises."""
    from vidpipe.services import runs

    stop = StopSignal()
    with Progress(
        TextColumn("[bold]{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=quiet,
    ) as bars:
        photos = bars.add_task("photos", total=None)
        crops = bars.add_task("descriptions", total=None)

        def on_progress(step: str, counters: dict[str, int]) -> None:
            bars.update(photos, description=f"photos ({step})", completed=counters.get("uploads_processed", 0))
            bars.update(photos, total=counters.get("uploads_total"))
            bars.update(
                crops, completed=counters.get("crops_described", 0), total=counters.get("describe_total") or None
            )

        try:
            with cancel_on_signals(stop) as received:
                finished = runs.run_here(ctx, job, sink=on_progress, stop=stop)
        except KeyboardInterrupt:  # the second Ctrl-C: the run was recorded as cancelled on the way out
            err_console.print(f"[yellow]cancelled[/]: job {job.id}")
            raise typer.Exit(EXIT_SIGINT) from None
    if finished.status is JobStatus.CANCELLED:
        err_console.print(f"[yellow]cancelled[/]: job {finished.id}; the registry is as it was before this run")
        raise typer.Exit(EXIT_FOR_SIGNAL[signal.Signals(received[0])] if received else EXIT_CANCELLED_ELSEWHERE)
    if finished.status is not JobStatus.SUCCEEDED:
        raise VidpipeError(f"manifest {finished.target_id}: {finished.error or finished.status.value}")
    return finished
