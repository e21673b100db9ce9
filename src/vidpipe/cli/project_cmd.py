"""``vidpipe project`` and ``vidpipe scene``: films whose scenes are checked against a registry."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import typer
from rich.table import Table

from vidpipe.cli.common import console, open_app
from vidpipe.services.views import ProjectView, SceneView

app = typer.Typer(no_args_is_help=True, help="Projects: a registry (manifest) and the scenes made with it")
scene_app = typer.Typer(no_args_is_help=True, help="Scenes of a project: what each should show")

ProjectRef = typer.Argument(..., help="Project id (or its first 6+ characters) or its name")
JsonOut = typer.Option(False, "--json", help="Print JSON")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _print_project(project: ProjectView) -> None:
    console.print(f"[bold]{project.name}[/]  {project.id}  registry: {project.manifest_name} ({project.manifest_id})")
    table = Table("scene", "expects", "clips", "latest verdict", show_lines=False)
    for scene in project.scenes:
        verdicts = [
            f"{c.filename}: {c.analysis.continuity_score:.1f} {c.analysis.gate}"
            if c.analysis
            else f"{c.filename}: {c.status.lower()}"
            for c in scene.clips
        ]
        table.add_row(
            str(scene.index), ", ".join(scene.expected_tags) or "-", str(len(scene.clips)), "\n".join(verdicts) or "-"
        )
    console.print(table)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Project name"),
    manifest: str = typer.Option(..., "--manifest", help="The manifest whose registry the scenes are checked against"),
    as_json: bool = JsonOut,
) -> None:
    """Create a project over a manifest's registry; prints its id."""
    from vidpipe.services import projects

    with open_app() as ctx:
        project = projects.create_project(ctx, name, manifest)
    if as_json:
        print(json.dumps(_jsonable(asdict(project)), indent=2))
    else:
        print(project.id)


@app.command("list")
def list_cmd(as_json: bool = JsonOut) -> None:
    """Projects, newest first."""
    from vidpipe.services import projects

    with open_app() as ctx:
        found = projects.list_projects(ctx)
    if as_json:
        print(json.dumps(_jsonable([asdict(p) for p in found]), indent=2))
        return
    table = Table("id", "name", "registry", "scenes")
    for p in found:
        table.add_row(str(p.id), p.name, p.manifest_name, str(len(p.scenes)))
    console.print(table)


@app.command("show")
def show(project: str = ProjectRef, as_json: bool = JsonOut) -> None:
    """A project with its scenes, their clips and the latest verdict of each."""
    from vidpipe.services import projects

    with open_app() as ctx:
        view = projects.show_project(ctx, project)
    if as_json:
        print(json.dumps(_jsonable(asdict(view)), indent=2))
    else:
        _print_project(view)


@app.command("delete")
def delete(project: str = ProjectRef) -> None:
    """Remove a project with its scenes, clips and analyses (generated references stay)."""
    from vidpipe.services import projects

    with open_app() as ctx:
        name = projects.delete_project(ctx, project)
    console.print(f"deleted project {name!r}")


def _print_scene(scene: SceneView) -> None:
    expects = ", ".join(scene.expected_tags) or "nothing in particular"
    console.print(f"scene {scene.index} ({scene.id}) expects {expects}")


@scene_app.command("add")
def scene_add(
    project: str = ProjectRef,
    index: int = typer.Option(..., "--index", min=0, help="The scene's number in the project"),
    expect: str | None = typer.Option(None, "--expect", help="Asset tags the scene should show, e.g. CHAR_01,PROP_02"),
    description: str | None = typer.Option(None, "--description", help="What happens in the scene"),
) -> None:
    """Add a scene and what it should show (tags of the project's registry)."""
    from vidpipe.services import projects

    with open_app() as ctx:
        scene = projects.add_scene(ctx, project, index, description=description, expect=projects.parse_tags(expect))
    _print_scene(scene)


@scene_app.command("edit")
def scene_edit(
    project: str = ProjectRef,
    index: int = typer.Option(..., "--index", min=0, help="The scene's number in the project"),
    expect: str | None = typer.Option(None, "--expect", help="New expected tags (an empty string: none)"),
    description: str | None = typer.Option(None, "--description", help="New description"),
) -> None:
    """Change what a scene expects, or its description."""
    from vidpipe.services import projects

    with open_app() as ctx:
        scene = projects.edit_scene(
            ctx,
            project,
            index,
            description=description,
            expect=projects.parse_tags(expect) if expect is not None else None,
        )
    _print_scene(scene)


@app.command("search")
def search(
    project: str = ProjectRef,
    words: str = typer.Argument(..., help="What the frame shows, in words"),
    limit: int = typer.Option(10, "--limit", min=1, help="Frames to list"),
    as_json: bool = JsonOut,
) -> None:
    """Sampled frames of the project's analysed clips that match the words (needs a CLIP image model)."""
    from vidpipe.services import projects

    with open_app() as ctx:
        hits = projects.search_frames(ctx, project, words, limit)
    if as_json:
        print(json.dumps(_jsonable([asdict(h) for h in hits]), indent=2))
        return
    table = Table("score", "clip", "scene", "time")
    for h in hits:
        table.add_row(f"{h.score:.3f}", h.clip, str(h.scene_index), f"{h.seconds:.2f} s")
    console.print(table)
