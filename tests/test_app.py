"""The application context: one place that turns settings into a migrated registry and its parts."""

from __future__ import annotations

from pathlib import Path

from vidpipe.app import AppContext
from vidpipe.db.migrate import is_current
from vidpipe.settings import Settings


def test_opening_an_empty_folder_makes_a_current_registry(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", model_dir=tmp_path / "models")
    with AppContext.open(settings) as ctx:
        assert is_current(ctx.engine)
        assert ctx.settings.resolved_database_url.endswith("vidpipe.db")
        assert ctx.recovered == []
        assert ctx.store.root == tmp_path / "data" / "files"
        assert ctx.runner is ctx.runner  # one runner per context, made on first use
    # A second open finds it current and migrates nothing.
    with AppContext.open(settings) as again:
        assert is_current(again.engine)
