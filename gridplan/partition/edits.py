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
3. a ``grid_id`` the plan does not hold, named in the community's code scheme
   (``<community_id>-NNN``, :func:`next_grid_code`), is a *new grid* made of the buildings
   moved to it (a grid split in two: :func:`split_edits`); moving every building of a grid to
   a neighbour retires it (two grids merged: :func:`merge_edits`);
4. with ``reoptimise``, re-plans the rest: grids out of bounds after the edits are re-planned
   with the fewest households moved, locked grids kept exactly whatever their households
   (``locks``).

Edits files are CSV (or any layer file) with ``building_id`` and ``grid_id``, optionally
``reason``, ``by``, ``at`` (when) and ``violations`` (the rules the move broke, as seen); the
same table is the ``edits`` log layer of the plan written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gridplan._errors import DataError
from gridplan._text import format_ids
from gridplan.adjacency import glue
from gridplan.partition.replan import ReplanResult, moved_households, replan_grids
from gridplan.settings import DEFAULT, Config

__all__ = [
    "EDIT_COLUMNS",
    "EditResult",
    "apply_edits",
    "check_edits",
    "is_new_code",
    "merge_edits",
    "next_grid_code",
    "read_edits",
    "split_edits",
]

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


def is_new_code(grid_id: str, community_id: str) -> bool:
    """Whether ``grid_id`` is a grid code of the community's scheme (``<community_id>-NNN``)."""
    return re.fullmatch(re.escape(str(community_id)) + r"-\d{3,}", str(grid_id)) is not None


def next_grid_code(grid_ids: Iterable[str], community_id: str) -> str:
    """The next free code of the community's scheme: one above its highest number
    (``C01-018`` after ``C01-017``), as the re-plan engine numbers new grids."""
    seqs = [int(str(g).rsplit("-", 1)[1]) for g in grid_ids if is_new_code(str(g), community_id)]
    return f"{community_id}-{max(seqs, default=0) + 1:03d}"


def merge_edits(buildings: pd.DataFrame, keep: str, gone: str) -> pd.DataFrame:
    """The edits that merge grid ``gone`` into grid ``keep``: every building of ``gone`` moves.

    Raises
    ------
    DataError
        ``gone`` holds no building (or is ``keep``).
    """
    if str(keep) == str(gone):
        msg = f"merge: grid {keep} cannot be merged with itself; pick a neighbouring grid"
        raise DataError(msg)
    ids = sorted(buildings.loc[buildings["grid_id"].astype(str) == str(gone), "building_id"])
    if not ids:
        msg = f"merge: grid {gone} holds no building; pick a grid on the map"
        raise DataError(msg)
    return pd.DataFrame({"building_id": [str(b) for b in ids], "grid_id": str(keep)})


def split_edits(
    buildings: pd.DataFrame, grids: pd.DataFrame, building_ids: Iterable[str]
) -> pd.DataFrame:
    """The edits that split ``building_ids`` off their grid into a new grid, coded next in the
    community's scheme (:func:`next_grid_code` over ``grids``).

    Raises
    ------
    DataError
        No building, unknown buildings, buildings of several grids, or the whole grid.
    """
    ids = [str(b) for b in dict.fromkeys(building_ids)]
    grid_of = dict(
        zip(buildings["building_id"].astype(str), buildings["grid_id"].astype(str), strict=True)
    )
    unknown = [b for b in ids if b not in grid_of]
    if not ids or unknown:
        msg = (
            f"split: {'unknown buildings ' + format_ids(unknown) if unknown else 'no building'}; "
            "select the buildings of one grid that become the new grid"
        )
        raise DataError(msg)
    src = sorted({grid_of[b] for b in ids})
    if len(src) > 1:
        msg = (
            f"split: the buildings are in grids {', '.join(src)}; a split takes buildings of one "
            "grid (move the others first)"
        )
        raise DataError(msg)
    rest = [b for b, g in grid_of.items() if g == src[0] and b not in set(ids)]
    if not rest:
        msg = f"split: every building of grid {src[0]} is selected; leave some in it"
        raise DataError(msg)
    comm = dict(zip(grids["grid_id"].astype(str), grids["community_id"].astype(str), strict=True))
    code = next_grid_code(grids["grid_id"].astype(str), comm[src[0]])
    return pd.DataFrame({"building_id": ids, "grid_id": code})


def check_edits(
    edits: pd.DataFrame,
    buildings: pd.DataFrame,
    grids: pd.DataFrame,
    locks: Iterable[str] = (),
) -> pd.DataFrame:
    """The edit log of valid moves (:data:`EDIT_COLUMNS`), or every problem at once.

    The log keeps every move in order (a building moved twice has two rows; ``from_grid_id``
    is the grid it was in before that row); a move to the grid it is in is dropped. The last
    row of a building is where it ends.

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
    e["from_grid_id"] = [grid_of.get(b) for b in e["building_id"]]
    # a grid the plan does not hold, coded in its buildings' community scheme, is a new grid
    new_comm: dict[str, str] = {}
    for f, g in zip(e["from_grid_id"], e["grid_id"], strict=True):
        c = comm_of_grid.get(str(f))
        if g not in comm_of_grid and c is not None and is_new_code(g, c):
            new_comm.setdefault(g, c)
    comm_of_grid = {**comm_of_grid, **new_comm}
    unknown_g = [r for r, g in zip(rows, e["grid_id"], strict=True) if g not in comm_of_grid]
    if unknown_g:
        problems.append(
            f"{len(unknown_g)} edit(s) name a grid the plan does not hold "
            f"({format_ids(unknown_g)}); fix the grid_id (a new grid is coded in its "
            "community's scheme, <community_id>-NNN)"
        )
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
    where = dict(grid_of)
    before: list[Any] = []
    for b, g in zip(e["building_id"], e["grid_id"], strict=True):
        before.append(where.get(b))
        where[b] = g
    e["from_grid_id"] = before
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
    bid = buildings["building_id"].astype(str)
    first = dict(zip(bid, buildings["grid_id"].astype(str), strict=True))
    # where each building ends (its last row), from the grid the plan had it in
    final = log.drop_duplicates("building_id", keep="last")
    final = final.assign(from_grid_id=final["building_id"].map(first))
    final = final[final["from_grid_id"] != final["grid_id"]]
    moved_to = dict(zip(final["building_id"], final["grid_id"], strict=True))
    edited = buildings.copy()
    edited["grid_id"] = [moved_to.get(b, g) for b, g in zip(bid, edited["grid_id"], strict=True)]
    touched = sorted(set(final["from_grid_id"].astype(str)) | set(final["grid_id"].astype(str)))
    grids = _with_new_grids(grids, final)
    kw: dict[str, Any] = {
        "roads": roads,
        "barriers": barriers,
        "config": cfg,
        "seed": seed,
        "locks": locks,
    }
    drawn = replan_grids(edited, grids, current, communities, manual=touched, **kw)
    res = drawn
    changed = list(drawn.changed_grids)
    if reoptimise:
        res = replan_grids(drawn.buildings, drawn.grids, current, communities, **kw)
        changed = sorted(set(changed) | set(res.changed_grids))
    before = dict(zip(bid, buildings["grid_id"], strict=True))
    return EditResult(
        result=res,
        edits=log,
        touched=touched,
        changed=changed,
        moved=moved_households(before, res),
    )


def _with_new_grids(grids: gpd.GeoDataFrame, log: pd.DataFrame) -> gpd.GeoDataFrame:
    """``grids`` with a placeholder row per new grid of the edits: the union of the grids its
    buildings come from (so the re-plan engine redraws them together, each around its
    buildings; the placeholder's own polygon is never kept)."""
    known = set(grids["grid_id"].astype(str))
    new = sorted(set(log["grid_id"].astype(str)) - known)
    if not new:
        return grids
    geo = dict(zip(grids["grid_id"].astype(str), grids.geometry, strict=True))
    comm = dict(zip(grids["grid_id"].astype(str), grids["community_id"].astype(str), strict=True))
    rows = []
    for g in new:
        src = sorted(set(log.loc[log["grid_id"].astype(str) == g, "from_grid_id"].astype(str)))
        area = geo[src[0]]
        for other in src[1:]:
            area = glue(area, geo[other])
        if area.geom_type != "Polygon":
            area = max(shapely.get_parts(area), key=lambda p: p.area)
        rows.append({"grid_id": g, "community_id": comm[src[0]], "geometry": area})
    extra = gpd.GeoDataFrame(rows, geometry="geometry", crs=grids.crs)
    out = pd.concat([grids, extra], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=grids.crs)
