"""Reading one layer file: formats, CSV geometry, column aliases and value spellings.

The layer names, file extensions and column aliases are documented in :mod:`gridplan.io`,
which re-exports :data:`LAYERS`, :data:`FILE_EXTENSIONS` and :data:`ALIASES`;
:func:`gridplan.io.read_dataset` assembles the layers read here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridplan._errors import DataError
from gridplan._text import format_ids

LAYERS: tuple[str, ...] = (
    "buildings",
    "communities",
    "roads",
    "barriers",
    "facilities",
    "people",
    "vulnerable",
    "sites",
    "landuse",
    "pois",
    "overrides",
    "partner_units",
    "communities_old",
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
        "use": ("building_use", "usage", "use_type", "用途"),
        "compound": ("xiaoqu", "estate", "residential_compound", "小区"),
        "entrances": ("n_entrances", "entrance_count", "单元数"),
        "community_id": ("community", "comm_id", "社区"),
        "name": ("building_name", "bldg_name", "名称", "建筑名称"),
        "building": ("osm_building", "building_tag"),
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
    "landuse": {"landuse": ("land_use", "landuse_type", "用地性质", "用地")},
    "pois": {
        "kind": ("amenity", "shop", "office", "tourism", "leisure", "type", "category", "fclass"),
        "name": ("poi_name",),
    },
    "overrides": {
        "building_id": ("id", "bid", "bldg_id", "osm_id", "建筑编号"),
        "households": ("hh", "households_count", "n_households", "dwellings", "户数"),
        "use": ("building_use", "usage", "use_type", "用途"),
    },
    "communities_old": {
        "community_id": ("id", "code", "comm_id"),
        "name": ("community_name", "名称"),
    },
    "partner_units": {
        "partner_id": ("id", "单位编号"),
        "name": ("unit_name", "单位名称", "名称"),
        "categories": ("category", "承接类别", "类别"),
        "building_id": ("building", "bid", "楼栋编号", "建筑编号"),
        "hours_per_day": ("hours", "每日工时"),
        "max_open_cases": ("capacity", "max_cases", "在办上限"),
        "contact_phone": ("phone", "tel", "联系电话"),
    },
}

#: Columns holding ids (made strings while reading) per layer.
_ID_COLS: dict[str, tuple[str, ...]] = {
    "buildings": ("building_id", "community_id"),
    "communities": ("community_id",),
    "facilities": ("facility_id",),
    "people": ("person_id", "building_id"),
    "vulnerable": ("building_id",),
    "sites": ("site_id",),
    "overrides": ("building_id",),
    "partner_units": ("partner_id", "building_id"),
    "communities_old": ("community_id",),
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
# Files that accompany a layer file (Shapefile parts, CRS and metadata sidecars).
_SIDECARS = frozenset(
    (".prj", ".crs", ".shx", ".dbf", ".cpg", ".qix", ".sbn", ".sbx", ".qmd", ".xml", ".aux")
)


def apply_aliases(frame: pd.DataFrame, layer: str) -> pd.DataFrame:
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


def _by_value(series: pd.Series, fn: Callable[[Any], Any]) -> pd.Series:
    """``fn`` of every value, computed once per distinct value (a road class column of
    24 000 rows holds a dozen)."""
    values = series.astype(object).to_numpy()
    missing = pd.isna(values)
    out = np.empty(len(values), dtype=object)
    if missing.any():
        out[missing] = fn(None)
    present = ~missing
    if present.any():
        kept = values[present]
        _, first, inverse = np.unique(kept.astype(str), return_index=True, return_inverse=True)
        mapped = np.empty(len(first), dtype=object)
        mapped[:] = [fn(v) for v in kept[first]]
        out[present] = mapped[inverse.ravel()]
    return pd.Series(out, index=series.index, dtype=object)


def normalise_values(frame: pd.DataFrame, layer: str) -> pd.DataFrame:
    out = frame.copy()
    for col in _ID_COLS.get(layer, ()):
        if col in out.columns:
            out[col] = pd.Series([_to_id(v) for v in out[col]], index=out.index, dtype=object)
    if layer in ("buildings", "overrides") and "use" in out.columns:
        out["use"] = _by_value(out["use"], _use_value)
    for col in ("building", "landuse", "kind"):
        # OSM values, any string: lowercased, never rejected
        if layer in ("buildings", "landuse", "pois") and col in out.columns:
            out[col] = _by_value(
                out[col], lambda v: None if _missing(v) else str(v).strip().lower()
            )
    for col in ("category", "categories") if layer in ("facilities", "sites") else ():
        if col in out.columns:
            out[col] = _by_value(out[col], _category_value)
    if layer == "roads" and "road_class" in out.columns:
        out["road_class"] = _by_value(out["road_class"], _osm_value)
    return out


def _osm_value(value: Any) -> str | None:
    """An OSM-style value (road class, building tag, landuse, POI kind): trimmed, lower case."""
    return None if _missing(value) else str(value).strip().lower()


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


def _find_col(frame: pd.DataFrame, names: Iterable[str]) -> Hashable | None:
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
    if layer in ("people", "vulnerable", "overrides"):
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
                f"{format_ids(rows)} in {path.name}. Fix: write valid WKT such as "
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
                f"{format_ids(rows)} in {path.name}. Fix: give decimal degrees"
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


def read_file(
    path: Path, layer: str, problems: list[str], gpkg_layer: str | None = None
) -> pd.DataFrame:
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


def read_gpkg(path: Path, wanted: dict[str, str], problems: list[str]) -> dict[str, Any]:
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
            out[layer] = read_file(path, layer, problems, gpkg_layer=real)
    if not out:
        problems.append(
            f"dataset: no gridplan layer in {path.name} (it holds {', '.join(names.values())}). "
            f"Fix: name the layers {', '.join(LAYERS)}"
        )
    return out


def read_folder(
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
        out[layer] = read_file(found[0], layer, problems)
    if not out:
        problems.append(
            f"dataset: no layer files in {path} (expected e.g. buildings.geojson, "
            f"buildings.gpkg, buildings.shp or buildings.csv). Fix: name the files after the "
            f"layers {', '.join(LAYERS)}"
        )
    return out
