"""Read datasets (DESIGN.md §1): a GeoPackage or a folder of per-layer files.

Three steps, each usable alone:

- :func:`read_dataset` reads the layers as they are (column aliases renamed, ids made strings,
  a few value spellings normalised, checksums computed; the web-map offset removed when one is
  declared) and never rejects anything: reading problems are kept for the validator;
- :func:`gridplan._validate.validate_dataset` collects every problem and raises once;
- :func:`prepare_dataset` repairs, reshapes, types, fills and reprojects to the local UTM zone.

:func:`load_dataset` chains the three; every CLI command uses it.

Formats
-------
A GeoPackage holds one layer per name (``buildings``, ``communities``, ``roads``, ``barriers``,
``facilities``, ``people``, ``vulnerable``, ``sites``; case ignored). A folder holds one file per
layer, ``<layer>.<ext>``, the first found in the order ``gpkg, geojson, json, shp, parquet,
geoparquet, csv``. CSV files are UTF-8 (a BOM is fine) or GB18030; their geometry is a WKT
column (``geometry``, ``wkt``, ``geom``, ``the_geom``) or ``lon``/``lat`` columns (also
``lng``, ``longitude``, ``x`` / ``latitude``, ``y``); ``people`` and ``vulnerable`` need none.
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridplan import _validate
from gridplan._errors import DataError
from gridplan.households import estimate_households
from gridplan.offsets import convert_geoseries, local_utm_crs
from gridplan.settings import DEFAULT, Config

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

LAYERS: tuple[str, ...] = (
    "buildings",
    "communities",
    "roads",
    "barriers",
    "facilities",
    "people",
    "vulnerable",
    "sites",
)

#: File extensions of a per-layer folder, in the order they are looked for.
FILE_EXTENSIONS: tuple[str, ...] = (
    ".gpkg",
    ".geojson",
    ".json",
    ".shp",
    ".parquet",
    ".geoparquet",
    ".csv",
)

#: Layer -> normalised column -> accepted aliases (see the module docstring's table).
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "buildings": {
        "building_id": ("id", "bid", "bldg_id", "osm_id", "建筑编号"),
        "households": (
            "hh",
            "households_count",
            "household_count",
            "n_households",
            "num_households",
            "hh_count",
            "dwellings",
            "户数",
        ),
        "population": ("pop", "residents", "persons", "人口"),
        "floors": (
            "building:levels",
            "levels",
            "building_levels",
            "storeys",
            "stories",
            "n_floors",
            "num_floors",
            "floor_count",
            "层数",
        ),
        "height": ("building:height", "height_m", "bldg_height", "高度"),
        "use": ("building_use", "usage", "use_type", "用途", "building"),
        "compound": ("xiaoqu", "estate", "residential_compound", "小区"),
        "entrances": ("n_entrances", "entrance_count", "单元数"),
        "community_id": ("community", "comm_id", "社区"),
    },
    "communities": {
        "community_id": ("id", "code", "comm_id"),
        "name": ("community_name", "名称"),
        "households_total": ("households", "hh", "hh_total", "total_households"),
        "population_total": ("population", "pop", "residents", "total_population"),
    },
    "roads": {
        "road_class": ("highway", "fclass", "class", "road_type", "type"),
        "name": ("road_name",),
        "walkable": ("is_walkable",),
    },
    "barriers": {"kind": ("type", "barrier", "waterway", "railway")},
    "facilities": {
        "facility_id": ("id", "poi_id"),
        "category": ("type", "kind", "amenity", "fclass", "class"),
        "name": ("poi_name",),
    },
    "people": {
        "person_id": ("id", "pid"),
        "building_id": ("home", "home_building", "home_building_id", "home_id"),
        "party_member": ("party", "is_party_member"),
        "roles": ("role",),
        "full_time": ("fulltime", "is_full_time"),
        "skills": ("skill",),
        "capacity_households": ("capacity",),
        "phone": ("tel", "telephone", "mobile"),
    },
    "vulnerable": {
        "building_id": ("home", "building", "bid"),
        "households": ("hh", "count", "n", "households_count"),
        "kind": ("type", "category"),
    },
    "sites": {"site_id": ("id",), "categories": ("category", "type", "kind")},
}

#: Columns holding ids (made strings while reading) per layer.
_ID_COLS: dict[str, tuple[str, ...]] = {
    "buildings": ("building_id", "community_id"),
    "communities": ("community_id",),
    "facilities": ("facility_id",),
    "people": ("person_id", "building_id"),
    "vulnerable": ("building_id",),
    "sites": ("site_id",),
}

_USE_SYNONYMS: dict[str, str | None] = {
    **dict.fromkeys(
        (
            "residential",
            "res",
            "house",
            "houses",
            "apartments",
            "apartment",
            "detached",
            "semidetached_house",
            "terrace",
            "dormitory",
            "bungalow",
            "housing",
            "住宅",
            "居住",
        ),
        "residential",
    ),
    **dict.fromkeys(("mixed", "mixed_use", "mixed-use", "商住", "商住混合"), "mixed"),
    **dict.fromkeys(
        (
            "non_residential",
            "non-residential",
            "nonresidential",
            "commercial",
            "retail",
            "office",
            "industrial",
            "warehouse",
            "school",
            "kindergarten",
            "university",
            "hospital",
            "public",
            "civic",
            "government",
            "church",
            "temple",
            "shed",
            "garage",
            "garages",
            "hut",
            "kiosk",
            "toilets",
            "service",
            "商业",
            "工业",
            "办公",
            "公共",
        ),
        "non_residential",
    ),
    **dict.fromkeys(("yes", "building", "unknown", ""), None),
}

_LON = ("lon", "lng", "long", "longitude", "x")
_LAT = ("lat", "latitude", "y")
_WKT = ("geometry", "wkt", "geom", "the_geom")
_WGS84 = CRS.from_epsg(4326)
_COMMUNITY_BUFFER_M = 50.0
# Files that accompany a layer file (Shapefile parts, CRS and metadata sidecars).
_SIDECARS = frozenset(
    (".prj", ".crs", ".shx", ".dbf", ".cpg", ".qix", ".sbn", ".sbx", ".qmd", ".xml", ".aux")
)


@dataclass
class Dataset:
    """A dataset after reading, validation and preparation.

    Attributes
    ----------
    layers
        Layer name -> table. Spatial layers are GeoDataFrames in :attr:`crs` (a metric UTM
        CRS once prepared); ``people`` and ``vulnerable`` may be plain DataFrames.
    crs
        The CRS the layers are in now (EPSG:4326 as a placeholder when no layer has one; see
        :attr:`layer_crs`).
    input_crs
        The CRS outputs are written in (the input's; WGS84 for offset inputs).
    offset
        ``"gcj02"``, ``"bd09"`` or ``None``: the web-map offset the input carried.
    source
        Where it was read from.
    checksums
        Layer name -> SHA-256 of the layer's content as read.
    warnings
        Problems repaired or tolerated, one line each, naming layer and ids.
    layer_crs
        Layer name -> the CRS the layer's file declared (``None`` when it declared none).
    read_problems
        Problems met while reading (unparseable coordinates or WKT), reported by validation.
    prepared
        Whether :func:`prepare_dataset` produced this dataset.
    """

    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame]
    crs: CRS
    input_crs: CRS
    offset: str | None = None
    source: Path | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    layer_crs: dict[str, CRS | None] = field(default_factory=dict)
    read_problems: list[str] = field(default_factory=list)
    prepared: bool = False

    def layer(self, name: str) -> Any:
        """The layer ``name``, or ``None`` when the dataset has none."""
        return self.layers.get(name)


# --------------------------------------------------------------------------- reading


def _apply_aliases(frame: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Rename columns to their normalised names (case-insensitive, aliases, shp truncation)."""
    geom_name = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    lower: dict[str, str] = {}
    for col in frame.columns:
        if col == geom_name:
            continue
        key = str(col).strip().lower()
        lower.setdefault(key, col)
    renames: dict[Any, str] = {}
    taken = set()
    for canonical, aliases in ALIASES.get(layer, {}).items():
        names: tuple[str, ...] = (canonical, *aliases)
        if len(canonical) > 10:
            names = (*names, canonical[:10])
        for name in names:
            hit = lower.get(name.lower())
            if hit is not None and hit not in renames and hit not in taken:
                if hit != canonical:
                    renames[hit] = canonical
                taken.add(hit)
                break
    return frame.rename(columns=renames) if renames else frame


def _to_id(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].lstrip("-").isdigit():
        text = text[:-2]
    return text or None


def _normalise_values(frame: pd.DataFrame, layer: str) -> pd.DataFrame:
    out = frame.copy()
    for col in _ID_COLS.get(layer, ()):
        if col in out.columns:
            out[col] = pd.Series([_to_id(v) for v in out[col]], index=out.index, dtype=object)
    if layer == "buildings" and "use" in out.columns:
        out["use"] = pd.Series([_use_value(v) for v in out["use"]], index=out.index, dtype=object)
    for col in ("category", "categories") if layer in ("facilities", "sites") else ():
        if col in out.columns:
            out[col] = pd.Series(
                [_category_value(v) for v in out[col]], index=out.index, dtype=object
            )
    if layer == "roads" and "road_class" in out.columns:
        out["road_class"] = pd.Series(
            [None if _missing(v) else str(v).strip().lower() for v in out["road_class"]],
            index=out.index,
            dtype=object,
        )
    return out


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _use_value(value: Any) -> Any:
    if _missing(value):
        return None
    key = str(value).strip().lower().replace(" ", "_")
    if key in _USE_SYNONYMS:
        return _USE_SYNONYMS[key]
    return str(value).strip()


def _category_value(value: Any) -> Any:
    if _missing(value):
        return None
    text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    return ";".join(p for p in (q.strip("_") for q in text.split(";")) if p)


def _sidecar_crs(path: Path) -> CRS | None:
    for ext in (".prj", ".crs"):
        side = path.with_suffix(ext)
        if side.exists():
            text = side.read_text(encoding="utf-8", errors="replace").strip()
            try:
                return CRS.from_user_input(text)
            except CRSError:
                msg = f"{side}: not a CRS (give WKT or EPSG:xxxx)"
                raise DataError(msg) from None
    return None


def _find_col(frame: pd.DataFrame, names: Iterable[str]) -> Any:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _read_csv(path: Path, layer: str, problems: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=True)
    except UnicodeDecodeError:
        frame = pd.read_csv(path, dtype=str, encoding="gb18030", keep_default_na=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    if layer in ("people", "vulnerable"):
        return frame
    crs = _sidecar_crs(path)
    wkt_col = _find_col(frame, _WKT)
    lon_col, lat_col = _find_col(frame, _LON), _find_col(frame, _LAT)
    if wkt_col is not None:
        text = frame[wkt_col]
        geoms = shapely.from_wkt(
            np.asarray(text.where(text.notna(), None), dtype=object), on_invalid="ignore"
        )
        bad = text.notna() & pd.Series(shapely.is_missing(geoms), index=frame.index)
        if bad.any():
            rows = [f"row {i + 1}" for i in np.flatnonzero(bad.to_numpy())]
            problems.append(
                f"{layer}: WKT geometry that cannot be read ({len(rows)}): "
                f"{_validate.format_ids(rows)} in {path.name}. Fix: write valid WKT such as "
                "POLYGON ((x y, ...)) or give lon/lat columns"
            )
        return gpd.GeoDataFrame(frame.drop(columns=[wkt_col]), geometry=geoms, crs=crs)
    if lon_col is not None and lat_col is not None:
        lon = pd.to_numeric(frame[lon_col], errors="coerce")
        lat = pd.to_numeric(frame[lat_col], errors="coerce")
        ok = lon.notna() & lat.notna()
        if (~ok).any():
            rows = [f"row {i + 1}" for i in np.flatnonzero((~ok).to_numpy())]
            problems.append(
                f"{layer}: lon/lat missing or not numbers ({len(rows)}): "
                f"{_validate.format_ids(rows)} in {path.name}. Fix: give decimal degrees"
            )
        pts = shapely.points(lon.fillna(0.0).to_numpy(), lat.fillna(0.0).to_numpy())
        pts = np.where(ok.to_numpy(), pts, None)
        return gpd.GeoDataFrame(
            frame.drop(columns=[lon_col, lat_col]),
            geometry=pts,
            crs=crs if crs is not None else _WGS84,
        )
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        msg = (
            f"{path}: reading GeoParquet needs the pyarrow package; install it with "
            "`pip install pyarrow`, or save the layer as GeoPackage or GeoJSON"
        )
        raise DataError(msg) from None
    try:
        return gpd.read_parquet(path)
    except ValueError:  # plain Parquet without geo metadata
        return pd.read_parquet(path)


def _read_file(path: Path, layer: str, problems: list[str], gpkg_layer: str | None = None) -> Any:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _read_csv(path, layer, problems)
        if suffix in (".parquet", ".geoparquet"):
            return _read_parquet(path)
        if suffix == ".gpkg" and gpkg_layer is None:
            import pyogrio

            names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
            match = [n for n in names if n.lower() == layer]
            gpkg_layer = match[0] if match else names[0]
        return gpd.read_file(path, layer=gpkg_layer, engine="pyogrio")
    except DataError:
        raise
    except Exception as exc:
        msg = (
            f"{layer}: cannot read {path} ({type(exc).__name__}: {exc}). Fix: check that the "
            "file is complete and in the format its extension says (a Shapefile needs its "
            ".shx and .dbf beside it)"
        )
        raise DataError(msg) from exc


def _wanted(layers: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    if layers is None:
        return {name: name for name in LAYERS}
    items = dict(layers) if isinstance(layers, Mapping) else {n: n for n in layers}
    unknown = sorted(set(items) - set(LAYERS))
    if unknown:
        msg = f"unknown layer name(s) {', '.join(unknown)}; gridplan layers: {', '.join(LAYERS)}"
        raise DataError(msg)
    return {k: str(v) for k, v in items.items()}


def _read_gpkg(path: Path, wanted: dict[str, str], problems: list[str]) -> dict[str, Any]:
    import pyogrio

    try:
        listed = pyogrio.list_layers(path)
    except Exception as exc:
        msg = f"cannot read {path} as a GeoPackage ({exc}). Fix: check the file is a .gpkg"
        raise DataError(msg) from exc
    names = {str(n).lower(): str(n) for n in listed[:, 0]}
    out = {}
    for layer, source in wanted.items():
        real = names.get(source.lower())
        if real is not None:
            out[layer] = _read_file(path, layer, problems, gpkg_layer=real)
    if not out:
        problems.append(
            f"dataset: no gridplan layer in {path.name} (it holds {', '.join(names.values())}). "
            f"Fix: name the layers {', '.join(LAYERS)}"
        )
    return out


def _read_folder(
    path: Path, wanted: dict[str, str], problems: list[str], warnings: list[str]
) -> dict[str, Any]:
    files = {p.name.lower(): p for p in path.iterdir() if p.is_file()}
    out = {}
    for layer, source in wanted.items():
        found = [
            files[f"{source.lower()}{ext}"]
            for ext in FILE_EXTENSIONS
            if f"{source.lower()}{ext}" in files
        ]
        if not found:
            odd = [
                p
                for name, p in files.items()
                if Path(name).stem == source.lower() and p.suffix.lower() not in _SIDECARS
            ]
            if odd:
                msg = (
                    f"{layer}: unknown file type {odd[0].name}. Fix: save it as one of "
                    f"{', '.join(source + e for e in FILE_EXTENSIONS)}"
                )
                raise DataError(msg)
            continue
        if len(found) > 1:
            warnings.append(
                f"{layer}: several files ({', '.join(p.name for p in found)}); reading "
                f"{found[0].name}. Fix: keep one file per layer"
            )
        out[layer] = _read_file(found[0], layer, problems)
    if not out:
        problems.append(
            f"dataset: no layer files in {path} (expected e.g. buildings.geojson, "
            f"buildings.gpkg, buildings.shp or buildings.csv). Fix: name the files after the "
            f"layers {', '.join(LAYERS)}"
        )
    return out


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


def read_dataset(
    path: str | Path,
    *,
    offset: str | None = None,
    layers: Iterable[str] | Mapping[str, str] | None = None,
) -> Dataset:
    """Read a dataset as it is: no validation, no repair.

    Parameters
    ----------
    path
        A GeoPackage, a folder of per-layer files, or a single file (read as ``buildings``).
    offset
        ``"gcj02"`` or ``"bd09"`` when the coordinates carry a Chinese web-map offset: they are
        converted to WGS84 (only when the data is geographic; declaring an offset on projected
        data is reported by validation).
    layers
        Layer names to read (default: all of :data:`LAYERS` found), or a mapping of gridplan
        layer name -> layer name in the GeoPackage / file stem in the folder.

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
    src = Path(path)
    off = _normalise_offset(offset)
    wanted = _wanted(layers)
    problems: list[str] = []
    warnings: list[str] = []
    if not src.exists():
        msg = (
            f"dataset {src} does not exist. Fix: give a GeoPackage (.gpkg) or a folder holding "
            "buildings.geojson (or .gpkg/.shp/.csv) and the other layers"
        )
        raise DataError(msg)
    if src.is_dir():
        raw = _read_folder(src, wanted, problems, warnings)
    elif src.suffix.lower() == ".gpkg":
        raw = _read_gpkg(src, wanted, problems)
    elif src.suffix.lower() in FILE_EXTENSIONS:
        raw = {"buildings": _read_file(src, "buildings", problems)}
    else:
        msg = (
            f"unknown file type {src.name}. Fix: give a GeoPackage (.gpkg), a folder of layer "
            f"files, or one of {', '.join(FILE_EXTENSIONS)}"
        )
        raise DataError(msg)

    frames: dict[str, pd.DataFrame] = {}
    layer_crs: dict[str, CRS | None] = {}
    checksums: dict[str, str] = {}
    for name in LAYERS:
        if name not in raw:
            continue
        frame = _normalise_values(_apply_aliases(raw[name], name), name)
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


# --------------------------------------------------------------------------- preparing


def _largest_polygon(geom: Any) -> Any:
    if geom is None or geom.is_empty:
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    if not parts:
        sub = [p for p in shapely.get_parts(geom) if p.geom_type == "MultiPolygon"]
        parts = [q for m in sub for q in m.geoms]
    if not parts:
        return None
    return max(parts, key=lambda p: p.area)


def _lines(geom: Any) -> list[Any]:
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


def _point(geom: Any) -> Any:
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
    labels = _validate._labels(frame, layer)
    warnings.append(
        _validate._message(
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
    labels = _validate._labels(frame, layer)
    fixed = geom.copy()
    fixed[multi] = [_largest_polygon(g) for g in geom[multi]]
    parts = shapely.get_num_geometries(np.asarray(geom[multi].values))
    several = labels[multi][parts > 1]
    if len(several):
        warnings.append(
            _validate._message(
                layer,
                "several polygons per row, the largest part is kept",
                several,
                f"split multi-part {layer} into one row per part",
            )
        )
    return frame.set_geometry(fixed)


def _explode_lines(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geoms = [_lines(g) for g in frame.geometry]
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
    return pd.Series(
        [bool(_validate.parse_bool(v)) for v in series], index=series.index, dtype=bool
    )


def _list_col(series: pd.Series) -> pd.Series:
    return pd.Series(
        [";".join(_validate.split_list(v)) for v in series], index=series.index, dtype=object
    )


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
                [None if _missing(v) else _validate.parse_bool(v) for v in f["walkable"]],
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
    return f


def _default_community(layers: dict[str, Any], crs: CRS) -> gpd.GeoDataFrame:
    geoms = [
        frame.geometry.values
        for name, frame in layers.items()
        if isinstance(frame, gpd.GeoDataFrame) and name != "communities" and len(frame)
    ]
    allg = np.concatenate([np.asarray(g) for g in geoms])
    allg = allg[~(shapely.is_missing(allg) | shapely.is_empty(allg))]
    hull = shapely.convex_hull(shapely.multipoints(shapely.get_coordinates(allg)))
    poly = shapely.buffer(hull, _COMMUNITY_BUFFER_M)
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
        _validate._message(
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
                f"(their community_id values {_validate.format_ids(sorted(given))} are replaced). "
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
    for name in ("people", "vulnerable"):
        if name in layers:
            layers[name] = _type_layer(layers[name], name)

    points_missing = b["households"].isna() & (b.geometry.geom_type == "Point")
    if "footprint_m2" in b.columns:
        points_missing &= pd.to_numeric(b["footprint_m2"], errors="coerce").isna()
    if points_missing.any():
        warnings.append(
            _validate._message(
                "buildings",
                "point buildings without households or footprint_m2 get 0 households",
                b.loc[points_missing, "building_id"],
                "give households (or footprint_m2 and floors) for point buildings",
            )
        )
    b = estimate_households(b, communities=comm, config=cfg)
    warnings.extend(_calibration_gaps(b, comm))
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


def load_dataset(
    path: str | Path, *, offset: str | None = None, config: Config | None = None
) -> Dataset:
    """Read, validate and prepare a dataset: what every gridplan command starts with.

    Parameters
    ----------
    path
        A GeoPackage or a folder of per-layer files (see the module docstring).
    offset
        ``"gcj02"`` or ``"bd09"`` for coordinates with a Chinese web-map offset.
    config
        Settings; ``None`` for the defaults.

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
    raw = read_dataset(path, offset=offset)
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
