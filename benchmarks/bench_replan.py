"""Re-planning: grids changed after adding a 600-household compound, against a fresh plan.

Plans the ``town`` sample (``gridplan.sample`` + ``gridplan.io.load_dataset``), adds a new
compound of six 100-household towers inside one grid, then compares
:func:`gridplan.replan_grids` with a from-scratch :func:`gridplan.partition_grids` run on the
changed data: grids changed (an old grid whose set of buildings or id changed, plus new grids),
households moved between grids, time, and balance.

Run: ``.venv/bin/python benchmarks/bench_replan.py``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK_DIR, table, timed, write_section

from gridplan.partition.grids import partition_grids
from gridplan.partition.replan import replan_grids

warnings.filterwarnings("ignore")


def load_town() -> tuple[dict[str, Any], str]:
    try:
        from gridplan.io.load import load_dataset
        from gridplan.sample.generate import write_sample
    except ImportError:  # pragma: no cover - before the sample generator landed
        raise SystemExit("needs gridplan.sample and gridplan.io.load_dataset") from None
    path = WORK_DIR / "town"
    if not (path / "buildings.geojson").exists() and not path.exists():
        write_sample(path, "town", seed=0, overwrite=True)
    ds = load_dataset(path)
    return dict(ds.layers), "`town` sample (seed 0)"


def add_compound(buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Six 100-household towers inside the largest in-bounds grid of the biggest community."""
    cid = grids["community_id"].value_counts().sort_index().idxmax()
    cand = grids[(grids["community_id"] == cid) & grids["households"].between(300, 500)]
    g = cand.assign(area=cand.geometry.area).sort_values(["area", "grid_id"]).iloc[-1]
    c = g.geometry.representative_point()
    rows = []
    for i in range(6):
        x = c.x + (i % 3 - 1) * 35.0
        y = c.y + (i // 3 - 0.5) * 35.0
        p = Point(x, y)
        if not g.geometry.contains(p):
            p = c
        rows.append(
            {
                "building_id": f"NEW{i + 1:02d}",
                "households": 100,
                "population": 262.0,
                "use": "residential",
                "compound": "New compound",
                "entrances": 2,
                "community_id": g["community_id"],
                "households_estimated": False,
                "geometry": p.buffer(12, 4),
            }
        )
    new = gpd.GeoDataFrame(rows, geometry="geometry", crs=buildings.crs)
    out = pd.concat([buildings, new], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=buildings.crs)


def changed_vs(old_b: gpd.GeoDataFrame, new_b: gpd.GeoDataFrame) -> tuple[int, int]:
    """Grids changed (membership or id) and households moved, old plan → new plan."""
    old = old_b.set_index("building_id")["grid_id"]
    new = new_b.set_index("building_id")["grid_id"]
    members_old = old.groupby(old).groups
    common = new.reindex(old.index)
    moved = old.index[common.to_numpy() != old.to_numpy()]
    hh = old_b.set_index("building_id")["households"]
    new_sets = new.groupby(new).groups
    changed = 0
    for gid, idx in members_old.items():
        if gid not in new_sets or set(idx) != set(new_sets[gid]):
            changed += 1
    old_ids = set(members_old)
    changed += sum(1 for gid in new_sets if gid not in old_ids)
    return changed, int(hh.reindex(moved).sum())


def main() -> None:
    layers, desc = load_town()
    b, c = layers["buildings"], layers["communities"]
    roads, barriers = layers.get("roads"), layers.get("barriers")
    base = partition_grids(b, c, roads=roads, barriers=barriers, seed=0)
    b2 = add_compound(b, base.grids)
    t_re, re = timed(
        lambda: replan_grids(
            base.buildings, base.grids, b2, c, roads=roads, barriers=barriers, seed=0
        )
    )
    t_fr, fr = timed(lambda: partition_grids(b2, c, roads=roads, barriers=barriers, seed=0))
    re_changed, re_moved = changed_vs(base.buildings, re.buildings)
    fr_changed, fr_moved = changed_vs(base.buildings, fr.buildings)
    rows = [
        [
            "gridplan replan_grids",
            f"{t_re:.2f}",
            re_changed,
            re_moved,
            len(re.grids),
            f"{100 * re.metrics['share_within_bounds']:.0f} %",
            f"{100 * re.metrics['max_deviation']:.1f} %",
        ],
        [
            "from-scratch partition_grids",
            f"{t_fr:.2f}",
            fr_changed,
            fr_moved,
            len(fr.grids),
            f"{100 * fr.metrics['share_within_bounds']:.0f} %",
            f"{100 * fr.metrics['max_deviation']:.1f} %",
        ],
    ]
    body = "\n".join(
        [
            f"{desc}: {len(b)} buildings, {int(b['households'].sum())} households, "
            f"{len(base.grids)} grids in the first plan. A compound of six 100-household towers "
            "(600 households) is added inside the largest within-bounds grid of the community with "
            "the most grids. 'Grids changed' counts old grids "
            "whose set of buildings changed (a building left or joined) or that were retired, "
            "plus new grids; 'moved' counts households of existing "
            "buildings now in another grid. Time: median of 3 runs.",
            "",
            table(
                [
                    "method",
                    "time (s)",
                    "grids changed",
                    "households moved",
                    "grids",
                    "within bounds",
                    "max deviation",
                ],
                rows,
            ),
            "",
            f"Re-plan: `changed_grids` lists {', '.join(re.changed_grids)} (a grid whose "
            "buildings stayed but whose polygon gave way to the new grids counts there too); "
            f"{len(re.kept)} grids kept exactly as they were (same id, same polygon).",
        ]
    )
    print(body)
    write_section(
        "replan", "Re-planning (issue 9)", body, command="python benchmarks/bench_replan.py"
    )


if __name__ == "__main__":
    main()
