"""Read datasets (the dataset contract): a GeoPackage or a folder of per-layer files.

Three steps, each usable alone:

- :func:`read_dataset` reads the layers as they are (column aliases renamed, ids made strings,
  a few value spellings normalised, checksums computed; the web-map offset removed when one is
  declared) and never rejects anything: reading problems are kept for the validator;
- :func:`gridplan.validate.validate_dataset` collects every problem and raises once;
- :func:`prepare_dataset` repairs, reshapes, types, fills and reprojects to the local UTM zone.

:func:`load_dataset` chains the three; every CLI command uses it.

Formats
-------
A GeoPackage holds one layer per name (``buildings``, ``communities``, ``roads``, ``barriers``,
``facilities``, ``people``, ``vulnerable``, ``sites``; case ignored). A folder holds one file per
layer, ``<layer>.<ext>``, the first found in the order ``gpkg, geojson, json, shp, parquet,
geoparquet, csv``. CSV files are UTF-8 (a BOM is fine) or GB18030; their geometry is a WKT
column (``geometry``, ``wkt``, ``geom``, ``the_geom``) or ``lon``/``lat`` columns (also
``lng``, ``longitude``, ``x`` / ``latitude``, ``y``); ``people`` and ``vulnerable`` need none,
``partner_units`` none when it gives a ``building_id``.
A CSV's CRS is read from a ``<layer>.prj`` (or ``.crs``) file beside it holding WKT or
``EPSG:xxxx``; without one, ``lon``/``lat`` mean EPSG:4326 and WKT has no CRS. GeoParquet
needs ``pyarrow``. A single file other than a GeoPackage is read as the buildings layer.

Column aliases
--------------
Column names are matched without regard to case or surrounding spaces. When a layer lacks a
normalised column, the first alias present is renamed to it (Shapefile's 10-character
truncation of each long name is accepted too, e.g. ``building_i``, ``households`` for
``households_total``, ``capacity_h``):

=============  ===================  ======================================================
layer          column               aliases
=============  ===================  ======================================================
buildings      building_id          id, bid, bldg_id, osm_id, 建筑编号
buildings      households           hh, households_count, household_count, n_households,
                                    num_households, hh_count, dwellings, 户数
buildings      population           pop, residents, persons, 人口
buildings      floors               building:levels, levels, building_levels, storeys,
                                    stories, n_floors, num_floors, floor_count, 层数
buildings      height               building:height, height_m, bldg_height, 高度
buildings      use                  building_use, usage, use_type, 用途, building (OSM tag)
buildings      compound             xiaoqu, estate, residential_compound, 小区
buildings      entrances            n_entrances, entrance_count, 单元数
buildings      community_id         community, comm_id, 社区
communities    community_id         id, code, comm_id
communities    name                 community_name, 名称
communities    households_total     households, hh, hh_total, total_households
communities    population_total     population, pop, residents, total_population
roads          road_class           highway, fclass, class, road_type, type
roads          name                 road_name
roads          walkable             is_walkable
barriers       kind                 type, barrier, waterway, railway
facilities     facility_id          id, poi_id
facilities     category             type, kind, amenity, fclass, class
facilities     name                 poi_name
people         person_id            id, pid
people         building_id          home, home_building, home_building_id, home_id
people         party_member         party, is_party_member
people         roles                role
people         full_time            fulltime, is_full_time
people         skills               skill
people         capacity_households  capacity
people         phone                tel, telephone, mobile
vulnerable     building_id          home, building, bid
vulnerable     households           hh, count, n, households_count
vulnerable     kind                 type, category
sites          site_id              id
sites          categories           category, type, kind
partner_units  partner_id           id, 单位编号
partner_units  name                 unit_name, 单位名称, 名称
partner_units  categories           category, 承接类别, 类别
partner_units  building_id          building, bid, 楼栋编号, 建筑编号
partner_units  hours_per_day        hours, 每日工时
partner_units  max_open_cases       capacity, max_cases, 在办上限
partner_units  contact_phone        phone, tel, 联系电话
=============  ===================  ======================================================

Value spellings normalised while reading: ``use`` (lowercase; ``res``/``house``/
``apartments``/``住宅``… → ``residential``, ``商住``/``mixed_use`` → ``mixed``,
``commercial``/``industrial``/``school``… → ``non_residential``, OSM ``yes`` → missing);
facility and site categories (lowercase, spaces and dashes → ``_``); ``road_class`` (lowercase).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gridplan._errors import DataError
from gridplan.dataset import Dataset
from gridplan.db import is_database_url, parse_database_url
from gridplan.io.prepare import prepare_dataset
from gridplan.io.read import (
    _WGS84,
    ALIASES,
    FILE_EXTENSIONS,
    LAYERS,
    _wanted,
    apply_aliases,
    normalise_values,
    read_file,
    read_folder,
    read_gpkg,
)
from gridplan.offsets import convert_geoseries
from gridplan.settings import Config
from gridplan.validate import checks as _validate

__all__ = [
    "ALIASES",
    "FILE_EXTENSIONS",
    "LAYERS",
    "Dataset",
    "layer_checksum",
    "load_dataset",
    "prepare_dataset",
    "read_dataset",
    "to_output_crs",
]

logger = logging.getLogger(__name__)


def layer_checksum(frame: pd.DataFrame) -> str:
    """SHA-256 of a layer's content: CRS, columns (sorted), values and geometry WKB.

    Stable across runs and machines for the same content; row order counts.
    """
    h = hashlib.sha256()
    crs = getattr(frame, "crs", None) if isinstance(frame, gpd.GeoDataFrame) else None
    h.update(f"crs={crs.to_string() if crs is not None else ''}\nrows={len(frame)}\n".encode())
    geom_name = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    for col in sorted(frame.columns, key=str):
        h.update(f"col={col}\n".encode())
        series = frame[col]
        if col == geom_name:
            wkb = shapely.to_wkb(np.asarray(series.values), hex=True)
            vals = ["" if w is None else str(w) for w in wkb]
        else:
            # str() of each value; missing values spell themselves (None, nan, <NA>).
            vals = [str(v) for v in series.tolist()]
        h.update("\x1f".join(vals).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


def _geographic_in_range(frame: gpd.GeoDataFrame) -> bool:
    values = np.asarray(frame.geometry.values)
    values = values[~(shapely.is_missing(values) | shapely.is_empty(values))]
    if not len(values):
        return True
    b = shapely.bounds(values)
    return bool(
        np.isfinite(b).all()
        and (b[:, 0] >= -180).all()
        and (b[:, 2] <= 180).all()
        and (b[:, 1] >= -90).all()
        and (b[:, 3] <= 90).all()
    )


def _normalise_offset(offset: str | None) -> str | None:
    if offset is None:
        return None
    key = str(offset).strip().lower().replace("-", "").replace("_", "")
    if key in ("", "none", "wgs84"):
        return None
    if key not in ("gcj02", "bd09"):
        msg = f"unknown offset {offset!r}; use gcj02 or bd09 (or leave it out for WGS84 data)"
        raise DataError(msg)
    return key


def _read_files(
    src: Path, wanted: dict[str, str], problems: list[str], warnings: list[str]
) -> dict[str, Any]:
    if not src.exists():
        msg = (
            f"dataset {src} does not exist. Fix: give a GeoPackage (.gpkg), a folder holding "
            "buildings.geojson (or .gpkg/.shp/.csv) and the other layers, or a PostgreSQL URL"
        )
        raise DataError(msg)
    if src.is_dir():
        return read_folder(src, wanted, problems, warnings)
    if src.suffix.lower() == ".gpkg":
        return read_gpkg(src, wanted, problems)
    if src.suffix.lower() in FILE_EXTENSIONS:
        return {"buildings": read_file(src, "buildings", problems)}
    msg = (
        f"unknown file type {src.name}. Fix: give a GeoPackage (.gpkg), a folder of layer "
        f"files, or one of {', '.join(FILE_EXTENSIONS)}"
    )
    raise DataError(msg)


def read_dataset(
    path: str | Path,
    *,
    offset: str | None = None,
    layers: Iterable[str] | Mapping[str, str] | None = None,
    overrides: str | Path | None = None,
) -> Dataset:
    """Read a dataset as it is: no validation, no repair.

    Parameters
    ----------
    path
        A GeoPackage, a folder of per-layer files, a single file (read as ``buildings``), or
        a PostgreSQL URL ``postgresql://…?schema=NAME`` whose schema holds the layers as
        tables (:mod:`gridplan.db`; the password never shows in messages or metadata).
    offset
        ``"gcj02"`` or ``"bd09"`` when the coordinates carry a Chinese web-map offset: they are
        converted to WGS84 (only when the data is geographic; declaring an offset on projected
        data is reported by validation).
    layers
        Layer names to read (default: all of :data:`LAYERS` found), or a mapping of gridplan
        layer name -> layer name in the GeoPackage / file stem in the folder.
    overrides
        A planner's corrections file (CSV ``building_id,use,households``, or any layer file)
        read as the ``overrides`` layer; it replaces an ``overrides`` layer of the dataset
        (with a warning).

    Returns
    -------
    Dataset
        Layers with normalised column names and string ids, all in one CRS (that of
        ``buildings`` when it has one), checksums of each layer as read.

    Raises
    ------
    DataError
        The path does not exist, a file cannot be read, a file type is unknown, GeoParquet
        without pyarrow, an unknown offset or layer name.
    """
    off = _normalise_offset(offset)
    wanted = _wanted(layers)
    problems: list[str] = []
    warnings: list[str] = []
    src: Path | str
    if is_database_url(path):
        from gridplan.io.postgis import read_postgis_layers

        where = parse_database_url(str(path))
        src = where.masked
        raw = read_postgis_layers(where, wanted, problems)
    else:
        src = Path(path)
        raw = _read_files(src, wanted, problems, warnings)
    if overrides is not None:
        ov_path = Path(overrides)
        if not ov_path.is_file():
            msg = (
                f"overrides: {ov_path} does not exist. Fix: give a CSV with the columns "
                "building_id, use, households"
            )
            raise DataError(msg)
        if "overrides" in raw:
            warnings.append(
                f"overrides: the dataset's overrides layer is replaced by {ov_path.name}. "
                "Fix: keep the corrections in one place"
            )
        raw["overrides"] = read_file(ov_path, "overrides", problems)

    frames: dict[str, pd.DataFrame] = {}
    layer_crs: dict[str, CRS | None] = {}
    checksums: dict[str, str] = {}
    for name in LAYERS:
        if name not in raw:
            continue
        frame = normalise_values(apply_aliases(raw[name], name), name)
        if isinstance(frame, gpd.GeoDataFrame):
            if frame.geometry.name != "geometry":
                frame = frame.rename_geometry("geometry")
            layer_crs[name] = CRS.from_user_input(frame.crs) if frame.crs is not None else None
        frames[name] = frame
        checksums[name] = layer_checksum(frame)

    crs: CRS | None = layer_crs.get("buildings")
    if crs is None:
        crs = next((c for c in layer_crs.values() if c is not None), None)
    if crs is not None:
        for name, frame in frames.items():
            if not isinstance(frame, gpd.GeoDataFrame):
                continue
            own = layer_crs.get(name)
            if own is None:
                frames[name] = frame.set_crs(crs, allow_override=True)
            elif own != crs and (not own.is_geographic or _geographic_in_range(frame)):
                frames[name] = frame.to_crs(crs)
    input_crs = crs if crs is not None else _WGS84
    if off is not None and crs is not None and crs.is_geographic:
        for name, frame in frames.items():
            if isinstance(frame, gpd.GeoDataFrame) and _geographic_in_range(frame):
                conv = convert_geoseries(frame.geometry, off, "wgs84")
                frames[name] = frame.set_geometry(conv).set_crs(_WGS84, allow_override=True)
        crs = input_crs = _WGS84
    return Dataset(
        layers=frames,
        crs=crs if crs is not None else _WGS84,
        input_crs=input_crs,
        offset=off,
        source=src,
        checksums=checksums,
        warnings=warnings,
        layer_crs=layer_crs,
        read_problems=problems,
    )


def load_dataset(
    path: str | Path,
    *,
    offset: str | None = None,
    config: Config | None = None,
    overrides: str | Path | None = None,
) -> Dataset:
    """Read, validate and prepare a dataset: what every gridplan command starts with.

    Parameters
    ----------
    path
        A GeoPackage, a folder of per-layer files or a PostgreSQL URL (see
        :func:`read_dataset`).
    offset
        ``"gcj02"`` or ``"bd09"`` for coordinates with a Chinese web-map offset.
    config
        Settings; ``None`` for the defaults.
    overrides
        A planner's corrections file (see :func:`read_dataset`): they win over every
        estimate; the prepared dataset's warnings say how many were applied.

    Returns
    -------
    Dataset
        The prepared dataset (metric UTM CRS); ``warnings`` lists what was repaired, estimated
        or tolerated.

    Raises
    ------
    DataError
        Unreadable input, or every validation error at once (``exc.problems``).

    Example
    -------
    >>> ds = load_dataset("data/town")                      # doctest: +SKIP
    >>> ds.crs.utm_zone, len(ds.layer("communities"))       # doctest: +SKIP
    ('48N', 3)
    """
    raw = read_dataset(path, offset=offset, overrides=overrides)
    warnings = _validate.validate_dataset(raw, config=config)
    prepared = prepare_dataset(raw, config=config)
    prepared.warnings = list(dict.fromkeys([*raw.warnings, *warnings, *prepared.warnings]))
    for message in prepared.warnings:
        logger.info(message)
    return prepared


def to_output_crs(gdf: gpd.GeoDataFrame, dataset: Dataset) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` in the dataset's input CRS (WGS84 for offset inputs), for writing."""
    if gdf.crs is None:
        gdf = gdf.set_crs(dataset.crs)
    return gdf.to_crs(dataset.input_crs)
