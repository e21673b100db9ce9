"""`vidpipe serve` refuses a taken port before it starts anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def test_a_taken_port_is_refused_with_exit_2_and_no_worker(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "VIDPIPE_DATA_DIR": str(tmp_path / "data")}
        env.pop("VIDPIPE_DATABASE_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "vidpipe", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    said = " ".join(done.stderr.split())
    assert f"cannot listen on 127.0.0.1:{port}" in said and "--port" in said
    assert "vidpipe on http" not in said  # nothing was announced, no worker was started
    assert not (tmp_path / "data").exists()  # and no registry was made
