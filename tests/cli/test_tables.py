"""Short file names for tables: the shortest trailing part of each path that tells the files apart."""

import io
from pathlib import Path

from rich.console import Console

from vidpipe.cli.tables import narrow_table, shorten_paths


def test_unique_file_names_stay_plain_names() -> None:
    assert shorten_paths(["/data/cast/obama.jpg", "props/cup.png", Path("set/room.jpg")]) == [
        "obama.jpg",
        "cup.png",
        "room.jpg",
    ]


def test_same_names_in_different_folders_keep_just_enough_folders() -> None:
    paths = ["/a/day/b/c.jpg", "/a/night/b/c.jpg", "/x/y/c.jpg", "/x/y/d.jpg"]
    assert shorten_paths(paths) == ["day/b/c.jpg", "night/b/c.jpg", "y/c.jpg", "d.jpg"]


def test_one_path_and_edge_cases() -> None:
    assert shorten_paths(["/work/shared/data/faces/obama.jpg"]) == ["obama.jpg"]
    assert shorten_paths([]) == []
    # The same file twice is one file; a path that is another's tail stays whole.
    assert shorten_paths(["a/x.jpg", "a/x.jpg", "b/x.jpg"]) == ["a/x.jpg", "a/x.jpg", "b/x.jpg"]
    assert shorten_paths(["c.jpg", "b/c.jpg"]) == ["c.jpg", "b/c.jpg"]


def test_a_narrow_table_keeps_keys_whole_and_folds_text_at_80_columns() -> None:
    table = narrow_table("t", [("file", "key"), ("note", "text")])
    name = "knn_examples__train__biden__biden2.jpg"
    table.add_row(name, "a long note " * 10)
    out = io.StringIO()
    Console(file=out, width=80).print(table)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert any(name in line for line in lines) and "…" not in "".join(lines)
