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

Warnings (tolerated, repaired or filled by :func:`gridplan.io.prepare_dataset`): repaired
geometry, layers without a CRS that take the dataset's, empty road or barrier geometries (dropped),
buildings without household counts (estimated), residential buildings with 0 households,
multi-part polygons where one polygon is needed (largest part kept), a ``community_id`` given
without a ``communities`` layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan._errors import DataError
from gridplan.offsets import local_utm_crs
from gridplan.settings import BUILDING_USES, DEFAULT, PERSON_ROLES, VULNERABLE_KINDS, Config

if TYPE_CHECKING:
    from gridplan.io import Dataset

__all__ = [
    "GEOMETRY_TYPES",
    "ID_COLUMNS",
    "MAX_OVERLAP_M2",
    "REQUIRED_COLUMNS",
    "SPATIAL_LAYERS",
    "check_dataset",
    "format_ids",
    "parse_bool",
    "split_list",
    "validate_dataset",
]

#: Communities may share at most this much area (m²) before they count as overlapping.
MAX_OVERLAP_M2 = 1.0
#: How many ids a message lists before "and N more".
MAX_IDS = 10

#: Layers that carry geometry.
SPATIAL_LAYERS: tuple[str, ...] = (
    "buildings",
    "communities",
    "roads",
    "barriers",
    "facilities",
    "sites",
)
#: The id column of each layer that has one.
ID_COLUMNS: dict[str, str] = {
    "buildings": "building_id",
    "communities": "community_id",
    "facilities": "facility_id",
    "people": "person_id",
    "sites": "site_id",
}
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
}
_POLY = frozenset({"Polygon", "MultiPolygon"})
_LINE = frozenset({"LineString", "MultiLineString", "LinearRing"})
_POINT = frozenset({"Point", "MultiPoint"})
#: Geometry types accepted per spatial layer (polygon facilities and sites become points).
GEOMETRY_TYPES: dict[str, frozenset[str]] = {
    "buildings": _POLY | {"Point"},
    "communities": _POLY,
    "roads": _LINE,
    "barriers": _LINE | _POLY,
    "facilities": _POINT | _POLY,
    "sites": _POINT | _POLY,
}
_TYPE_WORDS = {
    "buildings": "polygons (footprints) or points",
    "communities": "polygons",
    "roads": "lines",
    "barriers": "lines or polygons",
    "facilities": "points (or polygons, turned into points)",
    "sites": "points (or polygons, turned into points)",
}

_TRUE = frozenset({"true", "t", "yes", "y", "1", "是", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "否", "0.0", ""})
_SPLIT = re.compile(r"[;,，；、|]")


def format_ids(ids: Iterable[Any], limit: int = MAX_IDS) -> str:
    """``a, b, c and 4 more``: the first ``limit`` ids, then how many were left out."""
    items = [str(i) for i in ids]
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])} and {len(items) - limit} more"


def split_list(value: Any) -> list[str]:
    """Split a ``;``-list (``,``, ``、``, ``|`` also accepted) into stripped lowercase items."""
    if value is None or (not isinstance(value, list | tuple) and pd.isna(value)):
        return []
    parts = value if isinstance(value, list | tuple) else _SPLIT.split(str(value))
    return [p.strip().lower() for p in (str(x) for x in parts) if p.strip()]


def parse_bool(value: Any) -> bool | None:
    """``True``/``False`` for the usual spellings (yes/no, 1/0, 是/否), ``None`` if unreadable.

    Missing values read as ``False``.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return False
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _labels(frame: pd.DataFrame, layer: str) -> pd.Series:
    """A label per row: its id when it has one, else ``row N`` (1-based)."""
    rows = pd.Series([f"row {i + 1}" for i in range(len(frame))], index=frame.index)
    col = ID_COLUMNS.get(layer)
    if col and col in frame.columns:
        ids = frame[col]
        return ids.astype("object").where(ids.notna(), rows).astype(str)
    return rows


def _pairs(labels: pd.Series, mask: pd.Series, values: pd.Series, fmt: Any) -> list[str]:
    """``fmt(label, value)`` for the rows selected by ``mask``."""
    return [
        fmt(lab, v) for lab, v in zip(labels[mask].tolist(), values[mask].tolist(), strict=True)
    ]


class _Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, layer: str, what: str, ids: Iterable[Any] | None, fix: str) -> None:
        self.errors.append(_message(layer, what, ids, fix))

    def warn(self, layer: str, what: str, ids: Iterable[Any] | None, fix: str) -> None:
        self.warnings.append(_message(layer, what, ids, fix))


def _message(layer: str, what: str, ids: Iterable[Any] | None, fix: str) -> str:
    text = f"{layer}: {what}"
    if ids is not None:
        items = list(ids)
        text += f" ({len(items)}): {format_ids(items)}"
    return f"{text}. Fix: {fix}"


def _numeric_problems(
    frame: pd.DataFrame,
    column: str,
    labels: pd.Series,
    layer: str,
    rep: _Report,
    *,
    integer: bool,
    what: str,
) -> pd.Series:
    """Report non-numeric, negative and (when ``integer``) fractional values; return numbers."""
    raw = frame[column]
    num = pd.to_numeric(raw, errors="coerce").astype("float64")
    present = raw.notna() & (raw.astype(str).str.strip() != "")
    bad = present & (num.isna() | ~np.isfinite(num.fillna(0.0)))
    if bad.any():
        rep.error(
            layer,
            f"{column} is not a number",
            _pairs(labels, bad, raw, lambda lab, v: f"{lab}={v!r}"),
            f"give {what} as a plain number, or leave it empty",
        )
    neg = num < 0
    if neg.any():
        rep.error(
            layer,
            f"negative {column}",
            _pairs(labels, neg, num, lambda lab, v: f"{lab}={v:g}"),
            f"{what} cannot be negative; correct or blank the value",
        )
    if integer:
        frac = (num >= 0) & np.isfinite(num) & (num != np.floor(num))
        if frac.any():
            rep.error(
                layer,
                f"{column} is not a whole number",
                _pairs(labels, frac, num, lambda lab, v: f"{lab}={v:g}"),
                f"{what} counts whole units; round the value",
            )
    return num.where(~(bad | neg))


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


def _check_geometry(
    frame: gpd.GeoDataFrame, layer: str, labels: pd.Series, rep: _Report
) -> pd.Series:
    """Empty, invalid and wrong-type geometry. Returns the mask of usable rows."""
    geom = frame.geometry
    values = np.asarray(geom.values)
    empty = pd.Series(shapely.is_missing(values) | shapely.is_empty(values), index=frame.index)
    if empty.any():
        if layer in ("roads", "barriers"):
            rep.warn(
                layer,
                "empty geometry, these rows are dropped",
                labels[empty],
                "delete the rows or draw their geometry",
            )
        else:
            rep.error(
                layer,
                "empty geometry",
                labels[empty],
                "draw the geometry (or give lon/lat) of every row, or delete the rows",
            )
    types = pd.Series(shapely.get_type_id(values), index=frame.index)
    names = types.map(_TYPE_NAMES)
    allowed = GEOMETRY_TYPES[layer]
    wrong = ~empty & ~names.isin(allowed)
    if wrong.any():
        got = ", ".join(sorted(names[wrong].dropna().unique()))
        rep.error(
            layer,
            f"wrong geometry type ({got}; {layer} must be {_TYPE_WORDS[layer]})",
            labels[wrong],
            f"give {layer} as {_TYPE_WORDS[layer]}",
        )
    ok = ~empty & ~wrong
    invalid = ok & ~pd.Series(shapely.is_valid(values), index=frame.index)
    if invalid.any():
        repaired = shapely.make_valid(values[invalid.to_numpy()])
        fixable = np.array([_keeps_type(g, allowed) for g in repaired], dtype=bool)
        bad_labels = labels[invalid]
        if fixable.any():
            rep.warn(
                layer,
                "invalid geometry repaired (make_valid)",
                bad_labels[fixable],
                "check the repaired shapes; fix self-intersections at the source",
            )
        if (~fixable).any():
            rep.error(
                layer,
                "invalid geometry that cannot be repaired (it collapses to a lower dimension)",
                bad_labels[~fixable],
                "redraw these shapes (a polygon needs at least three distinct corners)",
            )
        ok = ok.copy()
        ok[invalid[invalid].index[~fixable]] = False
    return ok


_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


def _keeps_type(geom: Any, allowed: frozenset[str]) -> bool:
    if geom is None or shapely.is_empty(geom):
        return False
    parts = shapely.get_parts(geom)
    if not len(parts):
        return False
    for part in parts:
        name = part.geom_type
        if name in allowed or f"Multi{name}" in allowed:
            if name in ("Polygon", "MultiPolygon") and part.area <= 0:
                continue
            return True
    return False


def _check_range(
    frame: gpd.GeoDataFrame, layer: str, labels: pd.Series, ok: pd.Series, rep: _Report
) -> pd.Series:
    """Coordinates outside ±180/±90 or not finite in a geographic CRS; returns usable rows."""
    if frame.crs is None or not frame.crs.is_geographic or not ok.any():
        return ok
    bounds = shapely.bounds(np.asarray(frame.geometry.values)[ok.to_numpy()])
    finite = np.isfinite(bounds).all(axis=1)
    inside = (
        finite
        & (bounds[:, 0] >= -180)
        & (bounds[:, 2] <= 180)
        & (bounds[:, 1] >= -90)
        & (bounds[:, 3] <= 90)
    )
    if inside.all():
        return ok
    bad_idx = ok[ok].index[~inside]
    rep.error(
        layer,
        f"coordinates out of range for the geographic CRS {frame.crs.to_string()} "
        "(longitude must be within ±180, latitude within ±90)",
        labels[bad_idx],
        "these look like projected (metre) coordinates: label the layer with its real CRS "
        "(e.g. EPSG:32648 or EPSG:4547), or swap lon/lat if they are reversed",
    )
    ok = ok.copy()
    ok[bad_idx] = False
    return ok


def _metric(frame: gpd.GeoDataFrame, ok: pd.Series, crs: Any) -> gpd.GeoDataFrame | None:
    """Usable rows in a metric CRS (``crs`` if given), or ``None`` when impossible."""
    if frame.crs is None:
        return None
    sub = frame.loc[ok]
    if not frame.crs.is_geographic:
        return sub if crs is None else sub.to_crs(crs)
    if crs is None:
        if not len(sub):
            return None
        crs = local_utm_crs(sub)
    return sub.to_crs(crs)


def _floor_area_check(
    b: gpd.GeoDataFrame,
    metric: gpd.GeoDataFrame | None,
    hh: pd.Series,
    labels: pd.Series,
    cfg: Config,
    rep: _Report,
) -> None:
    cap = cfg.households.max_households_per_building
    over = hh > cap
    if over.any():
        rep.error(
            "buildings",
            f"absurd households (more than households.max_households_per_building = {cap})",
            _pairs(labels, over, hh, lambda lab, v: f"{lab}={int(v)}"),
            "correct the count (a typing slip?), split the building, or raise "
            "[households] max_households_per_building",
        )
    if metric is None or not len(metric):
        return
    poly = metric.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    idx = metric.index[poly.to_numpy()]
    if not len(idx):
        return
    geoms = metric.geometry[idx]
    invalid = ~geoms.is_valid
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = geoms[invalid].make_valid()
    area = geoms.area
    floors = pd.to_numeric(b.loc[idx, "floors"], errors="coerce") if "floors" in b else None
    height = pd.to_numeric(b.loc[idx, "height"], errors="coerce") if "height" in b else None
    # floor area = footprint × floors; floors from ``floors``, else ``height`` / floor height,
    # else ``households.assumed_max_floors``
    f = pd.Series(float(cfg.households.assumed_max_floors), index=idx)
    if height is not None:
        from_h = np.maximum(np.floor(height / cfg.households.floor_height_m + 0.5), 1.0)
        f = f.where(~(height > 0), from_h)
    if floors is not None:
        f = f.where(~(floors > 0), floors)
    capacity = area * f / cfg.households.min_floor_area_per_household_m2
    dense = (hh[idx] > capacity) & ~over[idx]
    if dense.any():
        items = [
            f"{lab}={int(n)} households on {a:.0f} m² × {fl:g} floors"
            for lab, n, a, fl in zip(
                labels[idx][dense].tolist(),
                hh[idx][dense].tolist(),
                area[dense].tolist(),
                f[dense].tolist(),
                strict=True,
            )
        ]
        rep.error(
            "buildings",
            "implausible household density (under "
            f"{cfg.households.min_floor_area_per_household_m2:g} m² of floor area per household)",
            items,
            "correct households or floors, or check that the footprint is the whole building",
        )


def _unknown_values(
    values: pd.Series,
    allowed: Sequence[str],
    labels: pd.Series,
    rep: _Report,
    layer: str,
    column: str,
    fix: str,
) -> None:
    """An error naming the rows whose ``column`` is not one of ``allowed`` (case and spaces
    aside); missing values are fine."""
    unknown = values.notna() & ~values.astype(str).str.strip().str.lower().isin(allowed)
    if unknown.any():
        rep.error(
            layer,
            f"unknown {column} (allowed: {', '.join(allowed)})",
            _pairs(labels, unknown, values, lambda lab, v: f"{lab}={v!r}"),
            fix,
        )


def _check_buildings(
    b: pd.DataFrame,
    metric: gpd.GeoDataFrame | None,
    labels: pd.Series,
    cfg: Config,
    rep: _Report,
) -> None:
    for col, what in (
        ("floors", "the number of floors"),
        ("height", "the height in metres"),
        ("population", "the number of residents"),
        ("entrances", "the number of entrances (单元)"),
    ):
        if col in b.columns:
            _numeric_problems(b, col, labels, "buildings", rep, integer=False, what=what)
    if "use" in b.columns:
        _unknown_values(
            b["use"],
            BUILDING_USES,
            labels,
            rep,
            "buildings",
            "use",
            "set use to residential, mixed or non_residential, or leave it empty to infer",
        )
    if "households" not in b.columns:
        rep.warn(
            "buildings",
            "no households column: every building's households is estimated from footprint "
            "and floors",
            None,
            "add a households column where counts are known",
        )
        return
    hh = _numeric_problems(
        b, "households", labels, "buildings", rep, integer=True, what="households"
    )
    missing = b["households"].isna() | (b["households"].astype(str).str.strip() == "")
    if missing.any():
        rep.warn(
            "buildings",
            "households missing, estimated from footprint × floors (flagged in the plan)",
            labels[missing],
            "give the counts where known",
        )
    _floor_area_check(b, metric, hh, labels, cfg, rep)
    if "use" in b.columns:
        use = b["use"].astype(str).str.strip().str.lower()
        lived_in = (use == "non_residential") & (hh > 0)
        if lived_in.any():
            rep.warn(
                "buildings",
                "non_residential buildings with households (their households are planned)",
                labels[lived_in],
                "mark them mixed if people live there, or blank their households",
            )
        res = use == "residential"
        zero = res & (hh == 0)
        if zero.any():
            rep.warn(
                "buildings",
                "residential buildings with 0 households",
                labels[zero],
                "give their households, or mark them non_residential if nobody lives there",
            )


def _check_communities(
    c: pd.DataFrame, metric: gpd.GeoDataFrame | None, labels: pd.Series, rep: _Report
) -> None:
    for col, what in (
        ("households_total", "the community's household total"),
        ("population_total", "the community's population"),
    ):
        if col in c.columns:
            _numeric_problems(
                c, col, labels, "communities", rep, integer=col == "households_total", what=what
            )
    if metric is None or len(metric) < 2:
        return
    geoms = np.asarray(metric.geometry.values)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    pairs = []
    for i, j in zip(left[keep], right[keep], strict=True):
        area = shapely.area(shapely.intersection(geoms[i], geoms[j]))
        if area > MAX_OVERLAP_M2:
            a, b = labels[metric.index[i]], labels[metric.index[j]]
            pairs.append(f"{a}/{b} ({area:.0f} m²)")
    if pairs:
        rep.error(
            "communities",
            "overlapping communities",
            pairs,
            "make the boundaries meet without overlapping (snap shared edges), so that every "
            "building belongs to one community",
        )


def _check_building_communities(
    b: pd.DataFrame,
    bmetric: gpd.GeoDataFrame | None,
    c: pd.DataFrame | None,
    cmetric: gpd.GeoDataFrame | None,
    labels: pd.Series,
    rep: _Report,
) -> None:
    has_cid = "community_id" in b.columns and b["community_id"].notna().any()
    if c is None:
        if has_cid and b["community_id"].dropna().nunique() > 1:
            rep.warn(
                "buildings",
                "community_id given but there is no communities layer: all buildings are "
                "planned as one community C01",
                None,
                "add a communities layer (community_id + boundary polygon)",
            )
        return
    if has_cid and "community_id" in c.columns:
        known = set(c["community_id"].dropna().astype(str))
        cid = b["community_id"]
        unknown = cid.notna() & ~cid.astype(str).isin(known)
        if unknown.any():
            rep.error(
                "buildings",
                "community_id not found in communities",
                _pairs(labels, unknown, cid, lambda lab, v: f"{lab}={v}"),
                "add those communities (id + boundary) or correct the buildings' community_id",
            )
    if bmetric is None or cmetric is None or not len(bmetric) or not len(cmetric):
        return
    tree = shapely.STRtree(np.asarray(cmetric.geometry.values))
    hits = tree.query(np.asarray(bmetric.geometry.values), predicate="intersects")
    inside = np.zeros(len(bmetric), dtype=bool)
    inside[hits[0]] = True
    if not inside.all():
        rep.error(
            "buildings",
            "outside every community",
            labels[bmetric.index[~inside]],
            "extend the community boundaries to cover these buildings, or delete buildings that "
            "belong to another area",
        )


def _check_people(
    p: pd.DataFrame, labels: pd.Series, building_ids: set[str] | None, rep: _Report
) -> None:
    if building_ids is not None and "building_id" in p.columns:
        home = p["building_id"]
        missing = home.isna() | ~home.astype(str).isin(building_ids)
        if missing.any():
            rep.error(
                "people",
                "home building does not exist in buildings",
                _pairs(labels, missing, home, lambda lab, v: f"{lab}→{v}"),
                "correct building_id to a building of the dataset (or add the building)",
            )
    if "roles" in p.columns:
        bad = []
        for lab, value in zip(labels.tolist(), p["roles"].tolist(), strict=True):
            unknown = [r for r in split_list(value) if r not in PERSON_ROLES]
            if unknown:
                bad.append(f"{lab}={'/'.join(unknown)}")
        if bad:
            rep.error(
                "people",
                f"unknown role (allowed: {', '.join(PERSON_ROLES)})",
                bad,
                "use those role names, separated by ';'",
            )
    for col in ("party_member", "full_time"):
        if col in p.columns:
            bad_mask = p[col].map(parse_bool).isna()
            if bad_mask.any():
                rep.error(
                    "people",
                    f"{col} is not yes/no",
                    _pairs(labels, bad_mask, p[col], lambda lab, v: f"{lab}={v!r}"),
                    "write true/false (or yes/no, 1/0, 是/否)",
                )
    if "capacity_households" in p.columns:
        _numeric_problems(
            p,
            "capacity_households",
            labels,
            "people",
            rep,
            integer=True,
            what="the households a person can look after",
        )


def _check_categories(
    frame: pd.DataFrame, layer: str, column: str, labels: pd.Series, cfg: Config, rep: _Report
) -> None:
    if column not in frame.columns:
        return
    known = set(cfg.known_categories)
    bad = []
    for lab, value in zip(labels.tolist(), frame[column].tolist(), strict=True):
        cats = split_list(value)
        if layer == "facilities" and not cats:
            bad.append(f"{lab}=(empty)")
            continue
        if layer == "facilities" and len(cats) > 1:
            bad.append(f"{lab}={value!r} (one category per facility)")
            continue
        unknown = [c for c in cats if c not in known]
        if unknown:
            bad.append(f"{lab}={'/'.join(unknown)}")
    if bad:
        rep.error(
            layer,
            "unknown facility category",
            bad,
            f"use one of {', '.join(cfg.known_categories)} "
            "(or add yours under [coverage] categories in plan.toml)",
        )


def _check_vulnerable(
    v: pd.DataFrame,
    buildings: pd.DataFrame | None,
    building_ids: set[str] | None,
    rep: _Report,
) -> None:
    labels = pd.Series(
        [f"row {i + 1} ({bid})" for i, bid in enumerate(v.get("building_id", [None] * len(v)))],
        index=v.index,
    )
    hh = (
        _numeric_problems(
            v, "households", labels, "vulnerable", rep, integer=True, what="vulnerable households"
        )
        if "households" in v.columns
        else None
    )
    if "kind" in v.columns:
        _unknown_values(
            v["kind"],
            VULNERABLE_KINDS,
            labels,
            rep,
            "vulnerable",
            "kind",
            "use one of the allowed kinds",
        )
    if building_ids is None or "building_id" not in v.columns:
        return
    bid = v["building_id"]
    missing = bid.isna() | ~bid.astype(str).isin(building_ids)
    if missing.any():
        rep.error(
            "vulnerable",
            "building does not exist in buildings",
            labels[missing],
            "correct building_id to a building of the dataset",
        )
    if hh is None or buildings is None or "households" not in buildings.columns:
        return
    bhh = pd.to_numeric(buildings["households"], errors="coerce")
    bhh = bhh.where(bhh >= 0)
    bhh.index = buildings["building_id"].astype(str)
    bhh = bhh[~bhh.index.duplicated()]
    per = hh[~missing].groupby(bid[~missing].astype(str)).sum()
    have = bhh.reindex(per.index)
    over = per[have.notna() & (per > have)]
    if len(over):
        rep.error(
            "vulnerable",
            "more vulnerable households than the building has",
            [
                f"{k}: {int(n)} > {int(h)}"
                for k, n, h in zip(
                    over.index.tolist(), over.tolist(), have[over.index].tolist(), strict=True
                )
            ],
            "correct the vulnerable rows or the building's households",
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
    for name in (n for n in (*SPATIAL_LAYERS, "people", "vulnerable") if n in layers):
        frame = layers[name]
        labels = _labels(frame, name)
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
            ok = _check_geometry(frame, name, labels, rep)
            usable[name] = _check_range(frame, name, labels, ok, rep) if crs_known else ok

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
        _check_buildings(b, bmetric, labels_of["buildings"], cfg, rep)
        if "building_id" in b.columns:
            building_ids = set(b["building_id"].dropna().astype(str))
        _check_building_communities(b, bmetric, c, cmetric, labels_of["buildings"], rep)
    if c is not None and "communities" in labels_of:
        _check_communities(c, cmetric, labels_of["communities"], rep)
    if "people" in layers:
        _check_people(layers["people"], labels_of["people"], building_ids, rep)
    if "facilities" in layers:
        f = layers["facilities"]
        _check_categories(f, "facilities", "category", labels_of["facilities"], cfg, rep)
    if "sites" in layers:
        s = layers["sites"]
        _check_categories(s, "sites", "categories", labels_of["sites"], cfg, rep)
    if "vulnerable" in layers:
        _check_vulnerable(layers["vulnerable"], b, building_ids, rep)
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
