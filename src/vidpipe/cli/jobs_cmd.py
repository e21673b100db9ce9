"""``vidpipe jobs``: see, follow and cancel background runs, and work through queued ones."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from vidpipe.cli.common import console, err_console, open_app

if TYPE_CHECKING:
    from vidpipe.app import AppContext
    from vidpipe.services.views import JobView

app = typer.Typer(help="Background runs: list, show, cancel, and a worker for queued ones.", no_args_is_help=True)
JobRef = typer.Argument(..., help="Job id (or its first 6+ characters)")


@contextmanager
def _app() -> Iterator[AppContext]:
    ctx = open_app()
    try:
        yield ctx
    finally:
        ctx.close()


def _age(job: JobView) -> str:
    age = job.heartbeat_age_seconds()
    return "-" if age is None or not job.active else f"{age:.0f} s"


def _counters(job: JobView) -> str:
    p = job.progress
    if not p:
        return "-"
    parts = [f"photos {p.get('uploads_processed', 0)}/{p.get('uploads_total', 0)}"]
    if p.get("describe_total"):
        parts.append(f"described {p.get('crops_described', 0)}/{p['describe_total']}")
    return ", ".join(parts)


@app.command("list")
def list_cmd(
    manifest: str | None = typer.Option(None, "--manifest", help="Only this manifest's jobs"),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Jobs, newest first: kind, target, status, step, attempts, heartbeat age, error."""
    from vidpipe.services import runs

    with _app() as ctx:
        jobs = runs.list_jobs(ctx, manifest, limit)
    if as_json:
        print(json.dumps([j.to_json() for j in jobs], indent=2))
        return
    table = Table(title=f"Jobs ({len(jobs)})", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("target", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("try", no_wrap=True, justify="right")
    table.add_column("beat", no_wrap=True, justify="right")
    table.add_column("error", min_width=10, overflow="fold")
    for j in jobs:
        table.add_row(
            str(j.id)[:8],
            j.kind,
            str(j.target_id)[:8] if j.target_id else "-",
            j.status.value,
            j.step or "-",
            str(j.attempts),
            _age(j),
            escape(j.error or ""),
        )
    console.print(table)


@app.command("show")
def show_cmd(job: str = JobRef, as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """One job: kind, target, status, step, counters, attempts, heartbeat age, error."""
    from vidpipe.services import runs

    with _app() as ctx:
        view = runs.get_job(ctx, job)
    if as_json:
        print(json.dumps(view.to_json(), indent=2))
        return
    rows = [
        ("id", str(view.id)),
        ("kind", view.kind),
        ("target", str(view.target_id)),
        ("status", view.status.value + (" (cancel requested)" if view.cancel_requested and view.active else "")),
        ("step", view.step or "-"),
        ("progress", _counters(view)),
        ("attempts", str(view.attempts)),
        ("heartbeat", _age(view) + (" ago" if view.active and view.heartbeat_at else "")),
        ("created", f"{view.created_at:%Y-%m-%d %H:%M:%S}"),
        ("finished", f"{view.finished_at:%Y-%m-%d %H:%M:%S}" if view.finished_at else "-"),
        ("error", view.error or "-"),
    ]
    for key, value in rows:
        console.print(f"[bold]{key:<10}[/] {escape(value)}", highlight=False)


@app.command("cancel")
def cancel_cmd(
    job: str = JobRef,
    wait_seconds: float = typer.Option(10.0, "--wait", min=0.0, help="Seconds to wait for a running job to stop"),
) -> None:
    """Stop a job: a queued one at once, a running one at its next checkpoint (about a second),
    wherever it runs. Its manifest ends in ERROR "cancelled" with the previous registry intact."""
    from vidpipe.services import runs

    with _app() as ctx:
        view = runs.cancel_job(ctx, job)
        deadline = time.monotonic() + wait_seconds
        while view.active and time.monotonic() < deadline:
            time.sleep(0.2)
            view = runs.get_job(ctx, str(view.id))
    if view.active:
        err_console.print(
            f"cancel requested for job {view.id}; it is still {view.status.value} and stops at its next checkpoint"
        )
        raise typer.Exit(1)
    console.print(f"job {view.id}: {view.status.value}", highlight=False)


@app.command("work")
def work_cmd(
    once: bool = typer.Option(False, "--once", help="Run what is queued now, then stop"),
) -> None:
    """A long-lived worker: recovers stale jobs and runs queued ones on VIDPIPE_JOBS__WORKERS threads,
    sweeping every VIDPIPE_JOBS__SWEEP_SECONDS. Ctrl-C or SIGTERM cancels its runs and stops it."""
    import signal

    with _app() as ctx:
        runner = ctx.runner
        if once:
            started = runner.sweep()
            err_console.print(f"running {len(started)} queued job(s)")
            while runner.running():
                time.sleep(0.2)
            return
        stopping: list[int] = []
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, lambda signum, _frame: stopping.append(signum))
        runner.serve()
        err_console.print(
            f"worker: {runner.workers} thread(s), sweeping every {ctx.settings.jobs.sweep_seconds:g} s; Ctrl-C stops"
        )
        while not stopping:
            time.sleep(0.2)
        err_console.print("stopping: cancelling running jobs")
        runner.close(cancel=True)
