"""Entry point: ``vidpipe`` and its sub-commands; errors become one clear line, not a traceback."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from vidpipe import __version__
from vidpipe.cli import bench_cmd, faces_cmd, jobs_cmd, manifest_cmd, models_cmd, project_cmd
from vidpipe.cli.analyze_cmd import analyze
from vidpipe.cli.common import err_console
from vidpipe.cli.demo_cmd import demo
from vidpipe.cli.detect_cmd import detect
from vidpipe.cli.doctor_cmd import doctor
from vidpipe.cli.serve_cmd import serve
from vidpipe.cli.worker_cmd import worker
from vidpipe.errors import NeedsForceError, VidpipeError

app = typer.Typer(
    name="vidpipe",
    help="Asset Registry and continuity checks for AI video production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(models_cmd.app, name="models")
app.add_typer(faces_cmd.app, name="faces")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(manifest_cmd.app, name="manifest")
app.add_typer(jobs_cmd.app, name="jobs")
app.add_typer(project_cmd.app, name="project")
app.add_typer(project_cmd.scene_app, name="scene")
app.command("analyze")(analyze)
app.command("detect")(detect)
app.command("demo")(demo)
app.command("doctor")(doctor)
app.command("serve")(serve)
app.command("worker")(worker)


def _version(value: bool) -> None:
    if value:
        print(f"vidpipe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version"),
) -> None:
    """vidpipe: keep characters, props and places consistent across generated scenes."""


def main() -> None:
    try:
        app()
    except NeedsForceError as exc:
        err_console.print(f"[red]error:[/] {exc} (--force overrides)")
        sys.exit(2)
    except VidpipeError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        sys.exit(2)
    except SQLAlchemyError as exc:
        # The database itself refused (unreachable, locked, a schema from elsewhere): say so in one line.
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        err_console.print(f"[red]error:[/] the database refused the operation: {reason}")
        sys.exit(2)
    except ValidationError as exc:
        # Settings come from VIDPIPE_* variables; name the variable, not pydantic's field path.
        problems = "; ".join(f"VIDPIPE_{'__'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors())
        err_console.print(f"[red]error:[/] invalid setting: {problems}")
        sys.exit(2)


if __name__ == "__main__":
    main()
