"""The small valid dataset shared by the reader tests (test_io) and the validation tests.

Two 400 m × 400 m communities side by side (A west, B east; B has a household total of 200),
nine 40 m × 12 m six-floor residential buildings in each (``A00`` … ``B22``; those with an odd
``i + j`` have no household count, the others 12), two roads crossing at the shared boundary,
two facilities (F2 drawn as a polygon), one site, two people and one vulnerable household.
Built in UTM 48N around (:data:`X0`, :data:`Y0`); every call returns fresh frames to mutate.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point, box

UTM = "EPSG:32648"
X0, Y0 = 600000.0, 2900000.0


def valid_layers(
    crs: str = UTM,
    *,
    community_ids: bool = True,
    heights: bool = True,
    text_flags: bool = False,
) -> dict[str, Any]:
    """Every layer of the valid dataset, spatial layers reprojected to ``crs``.

    ``community_ids`` gives each building its community_id (else communities come from
    locations), ``heights`` gives each building a height of 18 m, and ``text_flags`` writes the
    people's ``full_time`` as ``"true"``/``"false"`` instead of booleans.
    """
    comms = gpd.GeoDataFrame(
        {"community_id": ["A", "B"], "name": ["Alpha", "Beta"], "households_total": [None, 200]},
        geometry=[box(X0, Y0, X0 + 400, Y0 + 400), box(X0 + 400, Y0, X0 + 800, Y0 + 400)],
        crs=UTM,
    )
    rows = []
    for c, dx in (("A", 0), ("B", 400)):
        for i in range(3):
            for j in range(3):
                bx, by = X0 + dx + 50 + i * 110, Y0 + 50 + j * 110
                row: dict[str, Any] = {
                    "building_id": f"{c}{i}{j}",
                    "households": 12.0 if (i + j) % 2 == 0 else None,
                    "floors": 6,
                }
                if heights:
                    row["height"] = 18.0
                row["use"] = "residential"
                if community_ids:
                    row["community_id"] = c
                row["geometry"] = box(bx, by, bx + 40, by + 12)
                rows.append(row)
    spatial: dict[str, gpd.GeoDataFrame] = {
        "buildings": gpd.GeoDataFrame(rows, crs=UTM),
        "communities": comms,
        "roads": gpd.GeoDataFrame(
            {"road_class": ["primary", "footway"]},
            geometry=[
                LineString([(X0, Y0 + 200), (X0 + 800, Y0 + 200)]),
                LineString([(X0 + 400, Y0), (X0 + 400, Y0 + 400)]),
            ],
            crs=UTM,
        ),
        "facilities": gpd.GeoDataFrame(
            {"facility_id": ["F1", "F2"], "category": ["kindergarten", "market"]},
            geometry=[Point(X0 + 100, Y0 + 100), box(X0 + 500, Y0 + 300, X0 + 520, Y0 + 320)],
            crs=UTM,
        ),
        "sites": gpd.GeoDataFrame(
            {"site_id": ["S1"], "categories": ["kindergarten;market"]},
            geometry=[Point(X0 + 300, Y0 + 300)],
            crs=UTM,
        ),
    }
    layers: dict[str, Any] = {k: v.to_crs(crs) for k, v in spatial.items()}
    layers["people"] = pd.DataFrame(
        {
            "person_id": ["P1", "P2"],
            "building_id": ["A00", "B11"],
            "party_member": ["yes", "0"],
            "roles": ["grid_head", "volunteer;unit_head"],
            "full_time": ["true", "false"] if text_flags else [True, False],
            "capacity_households": [None, 30],
        }
    )
    layers["vulnerable"] = pd.DataFrame(
        {"building_id": ["A00"], "households": [2], "kind": ["elderly_alone"]}
    )
    return layers
