"""``vidpipe jobs``: see, follow and cancel background runs, and work through queued ones."""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from vidpipe.cli.common import console, err_console, open_app
from vidpipe.cli.tables import ColumnKind, narrow_table

if TYPE_CHECKING:
    from vidpipe.services.views import JobView

app = typer.Typer(help="Background runs: list, show, cancel, and a worker for queued ones.", no_args_is_help=True)
JobRef = typer.Argument(..., help="Job id (or its first 6+ characters)")


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
    limit: int = typer.Option(20, "--limit", min=1, help="At most this many, newest first"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Jobs, newest first: target, status, step, attempts, heartbeat age, error (and kind)."""
    from vidpipe.services import runs

    with open_app() as ctx:
        jobs = runs.list_jobs(ctx, manifest, limit + 1)
    shown = jobs[:limit]
    if as_json:
        print(json.dumps([j.to_json() for j in shown], indent=2))
        return
    kinds = {j.kind for j in shown}
    columns: list[tuple[str, ColumnKind]] = [("id", "key"), ("manifest", "key")]
    if len(kinds) > 1:
        columns.append(("kind", "key"))
    columns += [("status", "key"), ("step", "key"), ("try", "key"), ("beat", "key"), ("error", "text")]
    title = f"Jobs ({', '.join(sorted(kinds)) or 'none'})"
    more = f"the newest {limit} shown; --limit for more" if len(jobs) > limit else None
    table = narrow_table(title, columns, caption=more)
    for j in shown:
        table.add_row(
            str(j.id)[:8],
            str(j.target_id)[:8] if j.target_id else "-",
            *([j.kind] if len(kinds) > 1 else []),
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

    with open_app() as ctx:
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

    with open_app() as ctx:
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
    parent: int | None = typer.Option(None, "--parent", help="Stop when this process (a `vidpipe serve`) is gone"),
) -> None:
    """A long-lived worker: recovers stale jobs and runs queued ones on VIDPIPE_JOBS__WORKERS threads,
    sweeping every VIDPIPE_JOBS__SWEEP_SECONDS. Ctrl-C or SIGTERM stops it: its running jobs stop at
    their next checkpoint and go back to the queue, for the next worker or `manifest process`."""
    import signal

    from vidpipe.services import runs

    with open_app() as ctx:

        def on_event(event: str, job_id: uuid.UUID) -> None:
            job = runs.get_job(ctx, str(job_id))
            detail = f" ({job.error})" if event == "ended" and job.error else ""
            state = "started" if event == "started" else job.status.value
            err_console.print(f"{time.strftime('%H:%M:%S')} job {str(job_id)[:8]} {job.kind} {state}{detail}")

        runner = ctx.runner
        runner.on_event = on_event
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
            if parent is not None and os.getppid() != parent:
                # The server that started this worker is gone (killed outright, say): stop too.
                err_console.print(f"the server (process {parent}) is gone")
                break
        if runner.running():
            err_console.print("stopping: running jobs go back to the queue at their next checkpoint")
        runner.close(release=True)
        err_console.print("worker stopped")
