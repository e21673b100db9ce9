"""``vidpipe worker``: worker processes of the dramatiq backend, on this machine or any other that
reaches the same Redis, database and file store.

Dramatiq's own process manager runs them (forking, restarts of its consumers, signal handling):
SIGTERM or Ctrl-C stops taking work, and running jobs go back to the queue at their next checkpoint.
"""

from __future__ import annotations

import os
import sys

import typer

from vidpipe.cli.common import err_console, open_app, print_json
from vidpipe.errors import VidpipeError

KNOWN_QUEUES = ("cpu", "gpu")


def worker(
    queues: str = typer.Option("cpu", "--queues", help="Queues to serve, comma-separated: cpu, gpu or both"),
    processes: int = typer.Option(1, "--processes", min=1, max=64, help="Worker processes (each loads the models)"),
    threads: int = typer.Option(1, "--threads", min=1, max=64, help="Jobs run at once in each process"),
    check: bool = typer.Option(False, "--check", help="Check the database and the broker, print, and exit"),
    json_out: bool = typer.Option(False, "--json", help="With --check: print only the JSON object"),
) -> None:
    """Run jobs sent through Redis (VIDPIPE_JOBS__BACKEND=dramatiq, VIDPIPE_REDIS_URL).

    A worker serving the gpu queue uses onnxruntime's CUDA provider when it is there; one serving only
    cpu never takes a GPU. Exit codes: 0 stopped cleanly (or --check healthy), 1 --check found a
    problem, 2 bad options.
    """
    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = [q for q in names if q not in KNOWN_QUEUES]
    if not names or unknown:
        raise VidpipeError(f"bad --queues {queues!r}: expected a comma-separated list of {', '.join(KNOWN_QUEUES)}")
    # The worker processes read their settings from the environment they inherit.
    os.environ["VIDPIPE_JOBS__BACKEND"] = "dramatiq"
    os.environ["VIDPIPE_RUNTIME__USE_CUDA"] = "true" if "gpu" in names else "false"
    # One message held per free thread: a job waiting behind a long one on this worker would be
    # better started by an idle worker elsewhere.
    os.environ["dramatiq_queue_prefetch"] = str(threads)  # noqa: SIM112 - Dramatiq reads this lower-case name
    from vidpipe.settings import get_settings

    get_settings.cache_clear()
    # An idle Redis consumer backs off up to this long between polls: the delay before a job starts.
    poll = get_settings().jobs.broker_poll_seconds
    os.environ["dramatiq_worker_timeout"] = str(max(10, int(poll * 1000)))  # noqa: SIM112 - Dramatiq's own name
    if check:
        _check(json_out)
        return
    ctx = open_app()  # migrates the schema and recovers stale jobs once, before any process forks
    err_console.print(
        f"vidpipe worker: {processes} process(es) × {threads} thread(s) on queue(s) {', '.join(names)}; "
        f"broker {ctx.settings.redis_url} (namespace {ctx.settings.jobs.redis_namespace}), "
        f"registry {ctx.settings.resolved_database_url}"
    )
    ctx.close()

    import dramatiq.cli

    args = dramatiq.cli.make_argument_parser().parse_args(  # type: ignore[no-untyped-call]
        ["vidpipe.jobs.worker", "--processes", str(processes), "--threads", str(threads), "--queues", *names]
    )
    code = dramatiq.cli.main(args)  # type: ignore[no-untyped-call]
    raise typer.Exit(int(code or 0))


def _check(json_out: bool) -> None:
    from dataclasses import asdict

    from vidpipe.services.health import check_health

    with open_app() as ctx:
        found = check_health(ctx)
    if json_out:
        print_json(asdict(found))
    else:
        database = found.database
        err_console.print(
            f"database ({database['dialect']}): "
            + (
                "ok" + ("" if database.get("schema_current") else ", schema not current")
                if database.get("ok")
                else "DOWN"
            )
        )
        if found.broker is None:
            err_console.print(f"jobs backend: {found.jobs_backend} (no broker)")
        elif found.broker["ok"]:
            queued = ", ".join(f"{q} {n}" for q, n in found.broker["queued"].items())
            err_console.print(
                f"broker {found.broker['url']}: ok; {found.broker['workers']} worker(s) alive; queued: {queued}"
            )
        else:
            err_console.print(f"broker {found.broker['url']}: DOWN ({found.broker['error']})")
        for line in [*found.problems, *found.notes]:
            err_console.print(f"- {line}")
    if not found.ok:
        sys.exit(1)
