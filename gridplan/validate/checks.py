"""Dataset validation: collect every problem of a raw dataset, then report them all at once.

:func:`check_dataset` returns ``(errors, warnings)``; :func:`validate_dataset` raises one
:class:`~gridplan._errors.DataError` listing every error (``exc.problems``) and returns the
warnings otherwise. Each message names the layer, the offending ids (the first ten, then "and N
more") and the fix.

Errors (the dataset cannot be planned as given):

- reading: unreadable values noted by the reader (bad WKT, unparseable coordinates);
- CRS: no layer has a CRS; an offset (``gcj02``/``bd09``) declared on projected data;
  coordinates outside ±180/±90 (or not finite) in a geographic CRS;
- structure: no ``buildings`` layer; an empty ``buildings`` layer; a required column missing
  (per layer); a spatial layer without geometry;
- ids: missing or duplicate ids (buildings, communities, facilities, people, sites);
- geometry: empty geometry (id'd layers); invalid geometry that cannot be repaired into the
  layer's type; wrong geometry type (roads as polygons, facilities as lines, communities as
  lines or points, ...);
- buildings: non-numeric, negative, non-integer or absurd ``households`` (above
  ``households.max_households_per_building``, or fewer than
  ``households.min_floor_area_per_household_m2`` m² of floor area per household);
  non-numeric or negative ``floors``, ``height``, ``population``, ``entrances``; an unknown
  ``use``; a ``community_id`` missing from ``communities``;
  buildings outside every community;
- communities: overlapping polygons (more than :data:`MAX_OVERLAP_M2` m² in common); bad
  ``households_total`` / ``population_total``;
- people: home building missing; unknown role; unreadable ``party_member`` / ``full_time``;
  bad ``capacity_households``;
- facilities / sites: unknown category (``config.known_categories``);
- vulnerable: building missing; bad ``households``; more vulnerable households than the
  building has; unknown ``kind``.
- overrides: a ``building_id`` found in no building; an unknown ``use``; bad ``households``.
- landuse / pois / communities_old: a missing ``landuse`` / ``kind`` / ``community_id``
  column; wrong geometry (landuse and old communities are polygons; POIs points or polygons).
  Landuse and POI values are OSM values: never rejected.

Warnings (tolerated, repaired or filled by :func:`gridplan.io.prepare_dataset`): repaired
geometry, layers without a CRS that take the dataset's, empty road or barrier geometries (dropped),
buildings without household counts (estimated), residential buildings with 0 households,
multi-part polygons where one polygon is needed (largest part kept), a ``community_id`` given
without a ``communities`` layer.

This module is the entry point and checks the structure (layers, columns, ids, CRS); the
checks themselves live in :mod:`gridplan.validate.geometry`,
:mod:`gridplan.validate.buildings` (buildings, communities) and
:mod:`gridplan.validate.people` (people, vulnerable, facility and site categories), on
the shared helpers of :mod:`gridplan.validate.common` (messages, value parsing). Every
public name is re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

import geopandas as gpd
import numpy as np
import pandas as pd

from gridplan._errors import DataError
from gridplan.dataset import SpatialLayer
from gridplan.settings import DEFAULT, Config
from gridplan.validate.buildings import (
    check_building_communities,
    check_buildings,
    check_communities,
    check_overrides,
)
from gridplan.validate.common import (
    ID_COLUMNS,
    _Report,
    row_labels,
)
from gridplan.validate.geometry import _metric, check_geometry, check_range
from gridplan.validate.people import check_categories, check_people, check_vulnerable

if TYPE_CHECKING:
    from gridplan.dataset import Dataset

__all__ = [
    "REQUIRED_COLUMNS",
    "SPATIAL_LAYERS",
    "check_dataset",
    "validate_dataset",
]

#: Layers that carry geometry.
SPATIAL_LAYERS: tuple[str, ...] = get_args(SpatialLayer)
#: Required columns (besides geometry) per layer.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "buildings": ("building_id",),
    "communities": ("community_id",),
    "roads": (),
    "barriers": (),
    "facilities": ("facility_id", "category"),
    "people": ("person_id", "building_id"),
    "vulnerable": ("building_id", "households"),
    "sites": ("site_id",),
    "landuse": ("landuse",),
    "pois": ("kind",),
    "communities_old": ("community_id",),
    "overrides": ("building_id",),
}


def _check_ids(frame: pd.DataFrame, layer: str, rep: _Report) -> None:
    col = ID_COLUMNS.get(layer)
    if not col or col not in frame.columns:
        return
    ids = frame[col]
    blank = ids.isna() | (ids.astype(str).str.strip() == "")
    if blank.any():
        rows = [f"row {i + 1}" for i in np.flatnonzero(blank.to_numpy())]
        rep.error(layer, f"missing {col}", rows, f"give every row of {layer} a {col}")
    dup = ids[~blank & ids.duplicated(keep=False)]
    if len(dup):
        rep.error(
            layer,
            f"duplicate {col} values",
            sorted(dup.astype(str).unique()),
            f"make every {col} unique (each row of {layer} is one object)",
        )


def check_dataset(raw: Dataset, *, config: Config | None = None) -> tuple[list[str], list[str]]:
    """Every problem of a raw dataset (as :func:`gridplan.io.read_dataset` returns it).

    Parameters
    ----------
    raw
        The dataset as read (aliases applied, not repaired, in its input CRS).
    config
        Settings (household caps, known categories); ``None`` for the defaults.

    Returns
    -------
    tuple of list of str
        ``(errors, warnings)``, one sentence each naming layer, ids and fix.
    """
    cfg = config if config is not None else DEFAULT
    rep = _Report()
    rep.errors.extend(getattr(raw, "read_problems", []))
    layers = raw.layers
    layer_crs: dict[str, Any] = getattr(raw, "layer_crs", {})

    spatial_present = [n for n in SPATIAL_LAYERS if n in layers]
    if raw.offset is not None and raw.crs is not None and not raw.crs.is_geographic:
        rep.error(
            "dataset",
            f"offset {raw.offset!r} declared on projected data ({raw.crs.to_string()})",
            None,
            "the GCJ-02/BD-09 offsets apply to longitude/latitude only: drop --offset, or give "
            "the data in degrees",
        )
    no_crs = [
        n
        for n in spatial_present
        if (layer_crs[n] if n in layer_crs else getattr(layers[n], "crs", None)) is None
    ]
    if no_crs and len(no_crs) == len(spatial_present):
        rep.error(
            "dataset",
            "missing CRS (no layer says which coordinate system it uses)",
            no_crs,
            "save the layers with their CRS (e.g. EPSG:4326 or EPSG:4490), add a .prj, or give "
            "CSV coordinates as lon/lat columns",
        )
    elif no_crs:
        rep.warn(
            "dataset",
            f"layers without a CRS are taken to be in {raw.crs.to_string()}",
            no_crs,
            "save these layers with their CRS",
        )
    crs_known = not (no_crs and len(no_crs) == len(spatial_present))

    if "buildings" not in layers:
        rep.error(
            "buildings",
            "missing layer (the only required one)",
            None,
            "add a buildings layer: buildings.geojson/.gpkg/.shp/.csv in the folder, or a "
            "layer named buildings in the GeoPackage",
        )

    usable: dict[str, pd.Series] = {}
    labels_of: dict[str, pd.Series] = {}
    for name in (n for n in (*SPATIAL_LAYERS, "people", "vulnerable", "overrides") if n in layers):
        frame = layers[name]
        labels = row_labels(frame, name)
        labels_of[name] = labels
        missing_cols = [c for c in REQUIRED_COLUMNS[name] if c not in frame.columns]
        if missing_cols:
            rep.error(
                name,
                f"missing required column {', '.join(missing_cols)}",
                None,
                f"add the column(s) to {name} (see the alias table of gridplan.io for accepted "
                "names)",
            )
        if name == "buildings" and len(frame) == 0:
            rep.error("buildings", "the layer is empty", None, "add the buildings to plan")
            continue
        _check_ids(frame, name, rep)
        if name in SPATIAL_LAYERS:
            if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
                rep.error(
                    name,
                    "no geometry",
                    None,
                    "give polygons/lines/points, or lon/lat (or WKT geometry) columns in a CSV",
                )
                continue
            ok = check_geometry(frame, name, labels, rep)
            usable[name] = check_range(frame, name, labels, ok, rep) if crs_known else ok

    b = layers.get("buildings")
    c = layers.get("communities")
    metric_crs = None
    bmetric = cmetric = None
    if crs_known and b is not None and "buildings" in usable:
        bmetric = _metric(b, usable["buildings"], None)
        metric_crs = bmetric.crs if bmetric is not None else None
    if crs_known and c is not None and "communities" in usable:
        cmetric = _metric(c, usable["communities"], metric_crs)
    building_ids: set[str] | None = None
    if b is not None and len(b) and "buildings" in labels_of:
        check_buildings(b, bmetric, labels_of["buildings"], cfg, rep)
        if "building_id" in b.columns:
            building_ids = set(b["building_id"].dropna().astype(str))
        check_building_communities(b, bmetric, c, cmetric, labels_of["buildings"], rep)
    if c is not None and "communities" in labels_of:
        check_communities(c, cmetric, labels_of["communities"], rep)
    if "people" in layers:
        check_people(layers["people"], labels_of["people"], building_ids, rep)
    if "facilities" in layers:
        f = layers["facilities"]
        check_categories(f, "facilities", "category", labels_of["facilities"], cfg, rep)
    if "sites" in layers:
        s = layers["sites"]
        check_categories(s, "sites", "categories", labels_of["sites"], cfg, rep)
    if "vulnerable" in layers:
        check_vulnerable(layers["vulnerable"], b, building_ids, rep)
    if "overrides" in layers and "overrides" in labels_of:
        check_overrides(layers["overrides"], building_ids, labels_of["overrides"], rep)
    return rep.errors, rep.warnings


def validate_dataset(raw: Dataset, *, config: Config | None = None) -> list[str]:
    """Validate a raw dataset; raise once with every error, else return the warnings.

    Parameters
    ----------
    raw
        The dataset as read.
    config
        Settings; ``None`` for the defaults.

    Returns
    -------
    list of str
        Warnings (repairs, estimates), one sentence each.

    Raises
    ------
    DataError
        With ``problems`` holding every error; the message lists them all.
    """
    errors, warnings = check_dataset(raw, config=config)
    if errors:
        where = f" in {raw.source}" if raw.source is not None else ""
        lines = "\n".join(f"- {e}" for e in errors)
        msg = f"{len(errors)} problem(s) found{where}:\n{lines}"
        raise DataError(msg, problems=errors)
    return warnings
