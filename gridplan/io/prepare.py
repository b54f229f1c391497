"""Preparing a read dataset: repair, reshape, dtype coercion, UTM, communities, households.

:func:`prepare_dataset` is re-exported by :mod:`gridplan.io`, its public home.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gridplan._errors import DataError
from gridplan._text import format_ids, message, parse_bool, split_list
from gridplan.dataset import Dataset
from gridplan.households import calibration_summary, calibration_warnings, estimate_households
from gridplan.io.read import LAYERS, _missing
from gridplan.land import built_up_area, water_area
from gridplan.offsets import local_utm_crs
from gridplan.settings import DEFAULT, Config
from gridplan.validate import checks as _validate
from gridplan.validate.common import row_labels

__all__ = ["prepare_dataset"]


def _largest_polygon(geom: shapely.Geometry | None) -> shapely.Geometry | None:
    if geom is None or geom.is_empty:
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    if not parts:
        sub = [p for p in shapely.get_parts(geom) if p.geom_type == "MultiPolygon"]
        parts = [q for m in sub for q in m.geoms]
    if not parts:
        return None
    return max(parts, key=lambda p: p.area)


def _lines(geom: shapely.Geometry | None) -> list[shapely.LineString]:
    if geom is None or geom.is_empty:
        return []
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "LineString":
            out.append(part)
        elif part.geom_type == "LinearRing":
            out.append(shapely.LineString(part.coords))
        elif part.geom_type in ("MultiLineString", "GeometryCollection"):
            out.extend(_lines(part))
    return out


def _point(geom: shapely.Geometry | None) -> shapely.Geometry | None:
    if geom is None or geom.is_empty:
        return geom
    if geom.geom_type == "Point":
        return geom
    if geom.geom_type == "MultiPoint":
        return shapely.get_geometry(geom, 0)
    return geom.representative_point()


def _repair(frame: gpd.GeoDataFrame, layer: str, warnings: list[str]) -> gpd.GeoDataFrame:
    values = np.asarray(frame.geometry.values)
    present = ~(shapely.is_missing(values) | shapely.is_empty(values))
    invalid = present & ~shapely.is_valid(values)
    if not invalid.any():
        return frame
    labels = row_labels(frame, layer)
    warnings.append(
        message(
            layer,
            "invalid geometry repaired (make_valid)",
            labels[invalid],
            "check the repaired shapes; fix self-intersections at the source",
        )
    )
    values = values.copy()
    values[invalid] = shapely.make_valid(values[invalid])
    return frame.set_geometry(gpd.GeoSeries(values, index=frame.index, crs=frame.crs))


def _single_polygons(
    frame: gpd.GeoDataFrame, layer: str, warnings: list[str], *, allow_points: bool
) -> gpd.GeoDataFrame:
    geom = frame.geometry
    kinds = geom.geom_type
    multi = ~kinds.isin(["Polygon", "Point"] if allow_points else ["Polygon"]) & geom.notna()
    if not multi.any():
        return frame
    labels = row_labels(frame, layer)
    fixed = geom.copy()
    fixed[multi] = [_largest_polygon(g) for g in geom[multi]]
    parts = shapely.get_num_geometries(np.asarray(geom[multi].values))
    several = labels[multi][parts > 1]
    if len(several):
        warnings.append(
            message(
                layer,
                "several polygons per row, the largest part is kept",
                several,
                f"split multi-part {layer} into one row per part",
            )
        )
    return frame.set_geometry(fixed)


def _explode_lines(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    values = frame.geometry.to_numpy()
    simple = (shapely.get_type_id(values) == 1) & ~shapely.is_empty(values)
    # plain LineStrings (nearly every road) stay as they are; only the others are taken apart
    geoms = [[g] if ok else _lines(g) for g, ok in zip(values, simple.tolist(), strict=True)]
    reps = np.array([len(g) for g in geoms], dtype=np.int64)
    attrs = frame.drop(columns=frame.geometry.name).iloc[np.repeat(np.arange(len(frame)), reps)]
    flat = [line for g in geoms for line in g]
    return gpd.GeoDataFrame(attrs.reset_index(drop=True), geometry=flat, crs=frame.crs)


def _barrier_geoms(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    kinds = frame.geometry.geom_type
    lines = frame[kinds.isin(["LineString", "MultiLineString", "LinearRing"])]
    polys = frame[~kinds.isin(["LineString", "MultiLineString", "LinearRing"])]
    polys = polys[polys.geometry.notna() & ~polys.geometry.is_empty]
    polys = polys.explode(index_parts=False)
    polys = polys[polys.geometry.geom_type == "Polygon"]
    out = pd.concat([_explode_lines(lines), polys.reset_index(drop=True)], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs)


def _drop_empty(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geom = frame.geometry
    keep = geom.notna() & ~geom.is_empty
    return frame.loc[keep].reset_index(drop=True) if not keep.all() else frame


def _str_col(series: pd.Series) -> pd.Series:
    return pd.Series(
        [None if _missing(v) else str(v).strip() for v in series], index=series.index, dtype=object
    )


def _int_col(series: pd.Series) -> pd.Series:
    num = pd.to_numeric(series, errors="coerce")
    return np.floor(num + 0.5).astype("Int64")


def _float_col(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _bool_col(series: pd.Series) -> pd.Series:
    return pd.Series([bool(parse_bool(v)) for v in series], index=series.index, dtype=bool)


def _list_col(series: pd.Series) -> pd.Series:
    return pd.Series([";".join(split_list(v)) for v in series], index=series.index, dtype=object)


def _ensure(frame: pd.DataFrame, col: str, value: Any = None) -> pd.DataFrame:
    if col not in frame.columns:
        frame[col] = value
    return frame


def _type_buildings(b: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    b = b.copy()
    b["building_id"] = _str_col(b["building_id"])
    for col in ("households", "population", "height"):
        b[col] = _float_col(b[col]) if col in b.columns else np.nan
    for col in ("floors", "entrances"):
        b[col] = _int_col(b[col]) if col in b.columns else pd.array([pd.NA] * len(b), "Int64")
    for col in ("use", "compound", "community_id"):
        b[col] = _str_col(b[col]) if col in b.columns else pd.Series(None, b.index, object)
    b["use"] = pd.Series(
        [None if _missing(u) else str(u).lower() for u in b["use"]], index=b.index, dtype=object
    )
    for col in ("name", "building"):
        if col in b.columns:
            b[col] = _str_col(b[col])
    return b


def _type_layer(frame: pd.DataFrame, layer: str) -> pd.DataFrame:
    f = frame.copy()
    if layer == "communities":
        f["community_id"] = _str_col(f["community_id"])
        f = _ensure(f, "name")
        f["name"] = _str_col(f["name"]).where(f["name"].notna(), f["community_id"])
        f["households_total"] = (
            _int_col(f["households_total"])
            if "households_total" in f
            else pd.array([pd.NA] * len(f), "Int64")
        )
        f["population_total"] = (
            _float_col(f["population_total"]) if "population_total" in f else np.nan
        )
    elif layer == "roads":
        f = _ensure(f, "road_class")
        f["road_class"] = _str_col(f["road_class"]).fillna("unclassified")
        f["name"] = _str_col(f["name"]) if "name" in f else pd.Series(None, f.index, object)
        if "walkable" in f:
            f["walkable"] = pd.array(
                [None if _missing(v) else parse_bool(v) for v in f["walkable"]],
                dtype="boolean",
            )
        else:
            f["walkable"] = pd.array([pd.NA] * len(f), dtype="boolean")
    elif layer == "barriers":
        f = _ensure(f, "kind")
        f["kind"] = _str_col(f["kind"]).fillna("barrier").str.lower()
    elif layer == "facilities":
        f["facility_id"] = _str_col(f["facility_id"])
        f["category"] = _str_col(f["category"])
        f["name"] = _str_col(f["name"]) if "name" in f else pd.Series(None, f.index, object)
    elif layer == "people":
        f["person_id"] = _str_col(f["person_id"])
        f["building_id"] = _str_col(f["building_id"])
        f["name"] = _str_col(f["name"]) if "name" in f else pd.Series(None, f.index, object)
        for col in ("party_member", "full_time"):
            f[col] = _bool_col(f[col]) if col in f else False
        for col in ("roles", "skills"):
            f[col] = _list_col(f[col]) if col in f else ""
        f["capacity_households"] = (
            _int_col(f["capacity_households"])
            if "capacity_households" in f
            else pd.array([pd.NA] * len(f), "Int64")
        )
        f["phone"] = _str_col(f["phone"]) if "phone" in f else pd.Series(None, f.index, object)
    elif layer == "vulnerable":
        f["building_id"] = _str_col(f["building_id"])
        f["households"] = _int_col(f["households"]).fillna(0).astype("int64")
        f = _ensure(f, "kind")
        f["kind"] = pd.Series(
            [None if _missing(v) else str(v).strip().lower() for v in f["kind"]],
            index=f.index,
            dtype=object,
        )
    elif layer == "sites":
        f["site_id"] = _str_col(f["site_id"])
        f["categories"] = _list_col(f["categories"]) if "categories" in f else ""
    elif layer == "communities_old":
        f["community_id"] = _str_col(f["community_id"])
        f = _ensure(f, "name")
        f["name"] = _str_col(f["name"]).where(f["name"].notna(), f["community_id"])
        for col in ("residents_before", "residents_after", "residents_stayed"):
            if col in f:
                f[col] = _int_col(f[col])
    elif layer in ("landuse", "pois"):
        col = "landuse" if layer == "landuse" else "kind"
        f[col] = _str_col(f[col]).str.lower()
        f["name"] = _str_col(f["name"]) if "name" in f else pd.Series(None, f.index, object)
    elif layer == "overrides":
        f["building_id"] = _str_col(f["building_id"])
        f["use"] = (
            _str_col(f["use"]).str.lower() if "use" in f else pd.Series(None, f.index, object)
        )
        f["households"] = _float_col(f["households"]) if "households" in f else np.nan
        f = f[["building_id", "use", "households"]]
    return f


def _default_community(layers: dict[str, Any], crs: CRS) -> gpd.GeoDataFrame:
    """The one community of a dataset without ``communities``: its built-up area.

    The buildings and the walkable streets among them, grown, closed and less open water
    (:func:`gridplan.land.built_up_area`), never the convex hull of the data, which takes in
    the sea off a coastal town and draws long thin grids over it.
    """
    b = layers["buildings"]
    roads = layers.get("roads")
    road_geoms: list[Any] = []
    if isinstance(roads, gpd.GeoDataFrame) and len(roads):
        walk = np.ones(len(roads), dtype=bool)
        if "walkable" in roads:
            walk &= np.array([parse_bool(v) is not False for v in roads["walkable"]], dtype=bool)
        if "road_class" in roads:
            cls = roads["road_class"].astype(str).str.lower().to_numpy()
            walk &= ~np.isin(cls, ["motorway", "motorway_link"])
        road_geoms = list(roads.geometry.array[walk])
    barriers = layers.get("barriers")
    water = water_area(barriers if isinstance(barriers, gpd.GeoDataFrame) else None)
    poly = built_up_area(list(b.geometry.array), road_geoms, water=water)
    return gpd.GeoDataFrame(
        {
            "community_id": ["C01"],
            "name": ["C01"],
            "households_total": pd.array([pd.NA], dtype="Int64"),
            "population_total": [np.nan],
        },
        geometry=[poly],
        crs=crs,
    )


def _assign_communities(b: gpd.GeoDataFrame, comm: gpd.GeoDataFrame) -> pd.Series:
    cid = b["community_id"].copy()
    todo = cid.isna()
    if not todo.any():
        return cid
    pts = gpd.GeoDataFrame(
        geometry=b.loc[todo].geometry.representative_point(), crs=b.crs, index=b.index[todo]
    )
    cols = comm[["community_id", "geometry"]]
    inside = gpd.sjoin(pts, cols, how="left", predicate="within")
    inside = inside[~inside.index.duplicated(keep="first")]
    cid.loc[inside.index] = (
        inside["community_id"].astype(object).where(inside["community_id"].notna(), None)
    )
    rest = cid.isna()
    if rest.any():
        near = gpd.sjoin_nearest(
            gpd.GeoDataFrame(geometry=b.loc[rest].geometry, crs=b.crs), cols, how="left"
        )
        near = near[~near.index.duplicated(keep="first")]
        cid.loc[near.index] = near["community_id"].astype(object)
    return cid


def _calibration_gaps(b: gpd.GeoDataFrame, comm: gpd.GeoDataFrame) -> list[str]:
    """Communities whose households_total their buildings cannot match."""
    totals = comm.dropna(subset=["households_total"])
    if not len(totals):
        return []
    sums = b.groupby("community_id")["households"].sum()
    gaps = []
    for cid, total in zip(totals["community_id"], totals["households_total"], strict=True):
        got = int(sums.get(cid, 0))
        if got != int(total):
            gaps.append(f"{cid}: total {int(total)}, buildings {got}")
    if not gaps:
        return []
    return [
        message(
            "communities",
            "households_total not matched (the given building counts exceed it, or no building "
            "without a count looks residential)",
            gaps,
            "check households_total against the buildings' counts",
        )
    ]


def prepare_dataset(raw: Dataset, *, config: Config | None = None) -> Dataset:
    """Repair, reshape, type, fill and reproject a (validated) raw dataset.

    Parameters
    ----------
    raw
        A dataset from :func:`read_dataset`, normally validated first
        (:func:`load_dataset` does both).
    config
        Settings (household estimation); ``None`` for the defaults.

    Returns
    -------
    Dataset
        Spatial layers in the local UTM zone with the normalised columns of the dataset
        contract; ``communities`` always present; households filled (``households_estimated``
        flags the estimates); ``input_crs`` kept for writing outputs.

    Raises
    ------
    DataError
        No buildings, or no CRS at all (validation reports these first).
    """
    cfg = config if config is not None else DEFAULT
    if "buildings" not in raw.layers or not len(raw.layers["buildings"]):
        msg = "buildings: missing or empty layer. Fix: add the buildings to plan"
        raise DataError(msg)
    if raw.layer_crs and all(c is None for c in raw.layer_crs.values()):
        msg = "dataset: missing CRS. Fix: save the layers with their CRS (e.g. EPSG:4326)"
        raise DataError(msg)
    warnings: list[str] = []
    layers: dict[str, Any] = {}
    for name, frame in raw.layers.items():
        if isinstance(frame, gpd.GeoDataFrame) and name in _validate.SPATIAL_LAYERS:
            frame = _drop_empty(_repair(frame, name, warnings))
        layers[name] = frame

    utm = local_utm_crs(layers["buildings"])
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
            layers[name] = frame.to_crs(utm)

    b = _single_polygons(layers["buildings"], "buildings", warnings, allow_points=True)
    b = _type_buildings(b)
    if "communities" in layers:
        comm = _single_polygons(layers["communities"], "communities", warnings, allow_points=False)
        comm = _type_layer(comm, "communities")
    else:
        comm = _default_community(layers, utm)
        given = b["community_id"].dropna().unique()
        if len(given) > 1:
            warnings.append(
                "communities: no communities layer, so all buildings form one community C01 "
                f"(their community_id values {format_ids(sorted(given))} are replaced). "
                "Fix: add a communities layer"
            )
        b["community_id"] = pd.Series(None, index=b.index, dtype=object)
    b["community_id"] = _assign_communities(b, comm)
    layers["communities"] = comm

    for name in ("roads", "barriers"):
        if name in layers and isinstance(layers[name], gpd.GeoDataFrame):
            shaped = (
                _explode_lines(layers[name]) if name == "roads" else _barrier_geoms(layers[name])
            )
            layers[name] = _type_layer(shaped, name)
    for name in ("facilities", "sites"):
        if name in layers and isinstance(layers[name], gpd.GeoDataFrame):
            frame = layers[name]
            frame = frame.set_geometry([_point(g) for g in frame.geometry], crs=frame.crs)
            layers[name] = _type_layer(frame, name)
    for name in ("people", "vulnerable", "overrides"):
        if name in layers:
            layers[name] = _type_layer(layers[name], name)
    for name in ("landuse", "pois", "communities_old"):
        if name in layers and isinstance(layers[name], gpd.GeoDataFrame):
            layers[name] = _type_layer(layers[name], name)

    points_missing = b["households"].isna() & (b.geometry.geom_type == "Point")
    if "footprint_m2" in b.columns:
        points_missing &= pd.to_numeric(b["footprint_m2"], errors="coerce").isna()
    if points_missing.any():
        warnings.append(
            message(
                "buildings",
                "point buildings without households or footprint_m2 get 0 households",
                b.loc[points_missing, "building_id"],
                "give households (or footprint_m2 and floors) for point buildings",
            )
        )
    overrides = layers.get("overrides")
    b = estimate_households(
        b,
        communities=comm,
        config=cfg,
        landuse=layers.get("landuse"),
        pois=layers.get("pois"),
        overrides=overrides,
        warn=False,  # said once, through the dataset's warnings below
    )
    if overrides is not None and len(overrides):
        applied = b.loc[b["use_source"] == "override", "building_id"]
        warnings.append(
            f"overrides: {len(applied)} planner correction(s) applied, winning over every "
            f"estimate: {format_ids(applied.tolist())}"
        )
    warnings.extend(_calibration_gaps(b, comm))
    warnings.extend(calibration_warnings(calibration_summary(b, comm, config=cfg), config=cfg))
    pop = b["population"]
    b["population"] = pop.where(
        pop.notna(), b["households"].astype("float64") * cfg.households.persons_per_household
    ).astype("float64")
    layers["buildings"] = b

    ordered = {name: layers[name] for name in LAYERS if name in layers}
    return replace(
        raw,
        layers=ordered,
        crs=CRS.from_user_input(utm),
        warnings=list(dict.fromkeys([*raw.warnings, *warnings])),
        prepared=True,
    )
