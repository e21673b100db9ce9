"""Throw-away PostgreSQL databases, for the tests and the benches that need a server registry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

from vidpipe.errors import ConfigError


class DatabaseUnreachableError(ConfigError):
    """The PostgreSQL server named by an admin URL does not answer."""


@contextmanager
def throwaway_postgres(admin_url: str, *, prefix: str = "vidpipe_bench") -> Iterator[str]:
    """A new, empty database on the server of ``admin_url`` (its URL, same driver); dropped afterwards."""
    import psycopg

    admin = make_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachableError(f"PostgreSQL is not reachable at {admin_url}: {exc}") from None
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
