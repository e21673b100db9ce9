"""What the CLI tests share: the real entry point run in-process with its exit code and output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vidpipe.cli.app import main
from vidpipe.settings import get_settings

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def vidpipe(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    """``vidpipe ARGS`` through the real entry point: (exit code, stdout, stderr)."""
    monkeypatch.setenv("VIDPIPE_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("VIDPIPE_DATA_DIR", str(tmp_path / "vidpipe-data"))
    monkeypatch.setenv("VIDPIPE_DESCRIBE__PROVIDERS", "offline")
    monkeypatch.setenv("COLUMNS", "80")
    get_settings.cache_clear()

    def run(*args: str | Path) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr("sys.argv", ["vidpipe", *map(str, args)])
        with pytest.raises(SystemExit) as info:
            main()
        out, err = capsys.readouterr()
        code = info.value.code
        return (code if isinstance(code, int) else 0 if code is None else 1), out, err

    return run
