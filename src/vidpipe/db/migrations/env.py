"""Alembic environment: metadata and URL come from vidpipe, not from an ini file."""

from __future__ import annotations

from alembic import context

from vidpipe.db import models  # noqa: F401  (registers the tables on the metadata)
from vidpipe.db.base import Base
from vidpipe.db.engine import make_engine

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            # Batch mode lets the same migrations alter tables on SQLite, which lacks most ALTERs.
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
