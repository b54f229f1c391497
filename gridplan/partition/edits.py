"""A planner's hand edits of grids: buildings moved to another grid, grids locked.

No plan survives its first meeting unchanged: a compound's two gates face different streets, a
grid must follow the old village line. :func:`apply_edits` takes a plan's grids and buildings
and a table of moves (``building_id`` → ``grid_id``) and

1. checks the moves (:func:`read_edits` for a file, :func:`check_edits` for a table): every
   building and grid exists, a building moves within its community, no move touches a locked
   grid — each problem names the rows and the fix, and nothing is applied when one is wrong;
2. redraws only the grids the moves touch, each around the buildings it is now given (the
   re-plan engine with fixed assignments: :func:`gridplan.partition.replan_grids` with
   ``manual``), every other grid kept exactly — moved buildings that do not touch their new
   grid become a grid of their own, which the checks show;
3. with ``reoptimise``, re-plans the rest: grids out of bounds after the edits are re-planned
   with the fewest households moved, locked grids kept exactly whatever their households
   (``locks``).

Edits files are CSV (or any layer file) with ``building_id`` and ``grid_id``, optionally
``reason``, ``by``, ``at`` (when) and ``violations`` (the rules the move broke, as seen); the
same table is the ``edits`` log layer of the plan written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridplan._errors import DataError
from gridplan._text import format_ids
from gridplan.partition.replan import ReplanResult, moved_households, replan_grids
from gridplan.settings import DEFAULT, Config

__all__ = ["EDIT_COLUMNS", "EditResult", "apply_edits", "check_edits", "read_edits"]

#: Columns of an edits table (and of the plan's ``edits`` layer).
EDIT_COLUMNS: tuple[str, ...] = (
    "building_id",
    "from_grid_id",
    "grid_id",
    "reason",
    "by",
    "at",
    "violations",
)


@dataclass(frozen=True)
class EditResult:
    """Grids after hand edits (and the re-optimisation of the rest, when asked).

    Attributes
    ----------
    result
        The final partition (grids, buildings, building parts, metrics, flags).
    edits
        The edit log: building_id, from_grid_id, grid_id, reason, by, at, violations.
    touched
        Grids the moves redrew.
    changed
        Every grid that differs from the plan before the edits.
    moved
        Buildings in another grid than before the edits, with households.
    """

    result: ReplanResult
    edits: pd.DataFrame
    touched: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    moved: pd.DataFrame = field(default_factory=pd.DataFrame)


def read_edits(path: str | Path) -> pd.DataFrame:
    """Read an edits file: CSV (UTF-8 or GB18030) or any layer file, with building_id and
    grid_id columns (reason, by, at and violations optional).

    Raises
    ------
    DataError
        The file is missing or lacks the columns.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"edits: {path} does not exist. Fix: give a CSV with building_id,grid_id[,reason]"
        raise DataError(msg)
    if path.suffix.lower() == ".csv":
        try:
            table = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        except UnicodeDecodeError:
            table = pd.read_csv(path, dtype=str, encoding="gb18030")
    else:
        table = pd.DataFrame(gpd.read_file(path).drop(columns="geometry", errors="ignore"))
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("building_id", "grid_id") if c not in table.columns]
    if missing:
        msg = (
            f"edits: {path.name} lacks the column(s) {', '.join(missing)}. Fix: one row per "
            "building moved: building_id,grid_id (the grid it goes to)[,reason]"
        )
        raise DataError(msg)
    return table


def check_edits(
    edits: pd.DataFrame,
    buildings: pd.DataFrame,
    grids: pd.DataFrame,
    locks: Iterable[str] = (),
) -> pd.DataFrame:
    """The edit log of valid moves (:data:`EDIT_COLUMNS`), or every problem at once.

    A building moved twice keeps its last move; a move to the grid it is in is dropped.

    Raises
    ------
    DataError
        Unknown buildings or grids, a move out of the building's community, a move into or
        out of a locked grid (rows named, 1-based as in the file).
    """
    e = edits.copy()
    e["building_id"] = e["building_id"].astype(str).str.strip()
    e["grid_id"] = e["grid_id"].astype(str).str.strip()
    grid_of = dict(
        zip(buildings["building_id"].astype(str), buildings["grid_id"].astype(str), strict=True)
    )
    comm_of_grid = dict(
        zip(grids["grid_id"].astype(str), grids["community_id"].astype(str), strict=True)
    )
    locked = {str(x) for x in locks}
    problems: list[str] = []
    rows = [f"row {i + 2}" for i in range(len(e))]  # the header is row 1
    unknown_b = [r for r, b in zip(rows, e["building_id"], strict=True) if b not in grid_of]
    if unknown_b:
        problems.append(
            f"{len(unknown_b)} edit(s) name a building the plan does not hold "
            f"({format_ids(unknown_b)}); fix the building_id"
        )
    unknown_g = [r for r, g in zip(rows, e["grid_id"], strict=True) if g not in comm_of_grid]
    if unknown_g:
        problems.append(
            f"{len(unknown_g)} edit(s) name a grid the plan does not hold "
            f"({format_ids(unknown_g)}); fix the grid_id"
        )
    e["from_grid_id"] = [grid_of.get(b) for b in e["building_id"]]
    ok = e["from_grid_id"].notna() & e["grid_id"].isin(list(comm_of_grid))
    across = [
        f"{r} ({b}: {comm_of_grid.get(f)} → {comm_of_grid.get(g)})"
        for r, b, f, g, good in zip(
            rows, e["building_id"], e["from_grid_id"], e["grid_id"], ok, strict=True
        )
        if good and comm_of_grid.get(str(f)) != comm_of_grid.get(g)
    ]
    if across:
        problems.append(
            f"{len(across)} edit(s) move a building to another community "
            f"({format_ids(across)}); grids are drawn inside one community: move it to a grid "
            "of its own community, or change the communities (gridplan communities)"
        )
    held = [
        f"{r} ({', '.join(sorted({str(f), g} & locked))})"
        for r, f, g, good in zip(rows, e["from_grid_id"], e["grid_id"], ok, strict=True)
        if good and ({str(f), g} & locked)
    ]
    if held:
        problems.append(
            f"{len(held)} edit(s) move a building into or out of a locked grid "
            f"({format_ids(held)}); unlock the grid first, or drop the edit"
        )
    if problems:
        msg = "edits: " + "; ".join(problems)
        raise DataError(msg)
    e = e.drop_duplicates("building_id", keep="last")
    e = e[e["from_grid_id"].astype(str) != e["grid_id"]]
    for col in ("reason", "by", "at", "violations"):
        if col not in e.columns:
            e[col] = None
    return pd.DataFrame(e[list(EDIT_COLUMNS)]).reset_index(drop=True)


def apply_edits(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    edits: pd.DataFrame,
    *,
    current: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    locks: Sequence[str] = (),
    reoptimise: bool = False,
    config: Config | None = None,
    seed: int | None = None,
) -> EditResult:
    """Apply hand edits to a plan's grids (module docstring).

    Parameters
    ----------
    grids, buildings
        The plan's grids and buildings (grid_id per building), in the dataset's metric CRS.
    edits
        building_id, grid_id (where it goes); optional reason, by, at, violations.
    current
        The dataset's prepared buildings (households, community_id, geometry).
    communities, roads, barriers, config, seed
        As for :func:`gridplan.partition.replan_grids`.
    locks
        Grids kept exactly; moves into or out of them are refused.
    reoptimise
        Re-plan the grids out of bounds after the edits, fewest households moved, locks kept.

    Returns
    -------
    EditResult
    """
    cfg = config or DEFAULT
    log = check_edits(edits, buildings, grids, locks)
    moved_to = dict(zip(log["building_id"], log["grid_id"], strict=True))
    edited = buildings.copy()
    bid = edited["building_id"].astype(str)
    edited["grid_id"] = [moved_to.get(b, g) for b, g in zip(bid, edited["grid_id"], strict=True)]
    touched = sorted(set(log["from_grid_id"].astype(str)) | set(log["grid_id"].astype(str)))
    kw: dict[str, Any] = {
        "roads": roads,
        "barriers": barriers,
        "config": cfg,
        "seed": seed,
        "locks": locks,
    }
    first = replan_grids(edited, grids, current, communities, manual=touched, **kw)
    res = first
    changed = list(first.changed_grids)
    if reoptimise:
        res = replan_grids(first.buildings, first.grids, current, communities, **kw)
        changed = sorted(set(changed) | set(res.changed_grids))
    before = dict(zip(bid, buildings["grid_id"], strict=True))
    return EditResult(
        result=res,
        edits=log,
        touched=touched,
        changed=changed,
        moved=moved_households(before, res),
    )
