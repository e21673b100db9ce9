"""The schema comes from the migrations, and the migrations match the models, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from vidpipe.db.base import Base
from vidpipe.db.engine import make_engine
from vidpipe.db.migrate import downgrade, is_current, upgrade

TABLES = {
    "manifests",
    "uploads",
    "assets",
    "asset_references",
    "asset_decisions",
    "jobs",
    "dismissed_views",
    "chosen_primaries",
    "projects",
    "scenes",
    "clips",
    "clip_analyses",
    "asset_appearances",
    "alembic_version",
}


def test_upgrade_builds_the_schema_the_models_describe(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    assert set(inspect(engine).get_table_names()) == TABLES
    assert is_current(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    engine.dispose()


def test_downgrade_and_upgrade_again(database_url: str) -> None:
    upgrade(database_url)
    downgrade(database_url, "base")
    engine = make_engine(database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert not is_current(engine)
    upgrade(database_url)
    assert is_current(engine)
    engine.dispose()
