"""Is this deployment able to work? The database, the job backend and (in the dramatiq backend) the
broker and its workers, as the health endpoint and `vidpipe worker --check` report them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from vidpipe import __version__

if TYPE_CHECKING:
    from vidpipe.app import AppContext


@dataclass(frozen=True)
class Health:
    ok: bool
    version: str
    database: dict[str, Any]
    jobs_backend: str
    broker: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)  # what makes it not ok
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure


def check_health(ctx: AppContext) -> Health:
    """Asks each part once; never raises for a part that is down, it says so instead."""
    from vidpipe.db.migrate import is_current

    problems: list[str] = []
    notes: list[str] = []
    database: dict[str, Any] = {"dialect": ctx.engine.dialect.name}
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database["ok"] = True
        database["schema_current"] = is_current(ctx.engine)
        if not database["schema_current"]:
            problems.append("the database schema is not at the newest migration")
    except SQLAlchemyError as exc:
        database["ok"] = False
        database["error"] = str(exc.__cause__ or exc).splitlines()[0]
        problems.append(f"database: {database['error']}")
    backend = ctx.settings.jobs.backend
    broker = None
    if backend == "dramatiq":
        from vidpipe.jobs.distributed import describe_health, messaging_for

        broker = describe_health(messaging_for(ctx.settings))
        if not broker["ok"]:
            problems.append(f"broker: {broker['error']}")
        elif broker["workers"] == 0:
            notes.append("no worker is connected to the broker: queued jobs wait until one starts (`vidpipe worker`)")
    return Health(not problems, __version__, database, backend, broker, problems, notes)
