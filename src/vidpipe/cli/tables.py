"""Tables that stay readable in a narrow terminal: short, distinct file names and no broken words.

Full paths in a table leave an 80-column terminal only "/work/shared/da…" of each file, so every
file looks the same. Tables show the shortest trailing part of each path that still tells the files
apart; `--json` keeps the paths as given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Literal

from rich import box
from rich.table import Table

ColumnKind = Literal["key", "text"]


def shorten_paths(paths: Sequence[str | Path]) -> list[str]:
    """Each path's shortest trailing part, in whole components, that no other path ends with.

    ``["a/b/c.jpg", "x/d.jpg"]`` gives ``["c.jpg", "d.jpg"]``; ``["a/b/c.jpg", "x/b/c.jpg",
    "y/c.jpg"]`` gives ``["a/b/c.jpg", "x/b/c.jpg", "y/c.jpg"]``. A path given twice is one file and
    gets one name. A path that is the tail of another ("c.jpg" and "b/c.jpg") stays whole.
    """
    parts = [PurePath(p).parts for p in paths]
    # How many distinct paths end in each tail: a tail only one path has tells that path apart.
    tails = Counter(p[-k:] for p in set(parts) for k in range(1, len(p) + 1))
    short: list[str] = []
    for mine in parts:
        keep = next((k for k in range(1, len(mine)) if tails[mine[-k:]] == 1), len(mine))
        short.append(str(PurePath(*mine[-keep:])))
    return short


def narrow_table(title: str | None, columns: Sequence[tuple[str, ColumnKind]], *, caption: str | None = None) -> Table:
    """A table without side borders, for terminals down to 80 columns.

    A ``key`` column (a file name, a tag, a number) is never wrapped, so it reads whole; a ``text``
    column wraps between words and folds only a word longer than the column, so no cell is cut to
    an ellipsis.
    """
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header, kind in columns:
        if kind == "key":
            table.add_column(header, no_wrap=True)
        else:
            table.add_column(header, overflow="fold")
    return table
