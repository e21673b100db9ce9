"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from vidpipe.errors import ConfigError


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, foreign keys and WAL switched on.

    For a server database, each process keeps a small pool (``pool_size`` plus ``max_overflow`` in a
    burst): with many worker processes the server's connection limit is the sum of theirs.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with little context
        raise ConfigError(f"database URL {url!r} is not valid: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # SQLite leaves foreign keys off by default; WAL lets readers (progress polling) run
            # beside the writer. In WAL mode, synchronous=NORMAL stays consistent through any crash
            # of the process (only a power cut may lose the last commits) and spares an fsync per
            # commit, which frequent job progress writes would otherwise pay.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(
        url,
        # A connection the server or a proxy closed while idle is noticed before use, not mid-job.
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # Last in, first out: idle connections beyond a quiet moment's needs age out (recycled after
        # 30 minutes) instead of all being kept warm by round-robin use.
        pool_use_lifo=True,
        pool_recycle=1800,
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together at the end, or not at all."""
    with factory() as session, session.begin():
        yield session
