"""Reading one batch of a province from disk, for :mod:`gridplan.run.batched`.

Holds finding a dataset's layer files (:func:`layer_files`), the filtered reads of a batch's
buildings, nearby roads, barriers, facilities, landuse and POIs, its rosters and a planner's
overrides (:func:`read_batch`, :func:`read_table`), the
bounding-box helpers that size those reads (:func:`_expand_box`, :func:`_load_margin`) and
writing a batch's raw layers to a scratch folder (:func:`write_scratch`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyogrio

from gridplan._errors import DataError

if TYPE_CHECKING:
    from pyproj import CRS

_SPATIAL = (
    "buildings",
    "communities",
    "roads",
    "barriers",
    "facilities",
    "sites",
    "landuse",
    "pois",
)
#: Tables read by building id: the rosters and a planner's corrections.
_TABLES = ("people", "vulnerable", "overrides")
#: Layers no planning stage reads, listed for the plan's metadata (rows, checksum) only: the
#: request dispatcher's partner units, and a re-drawn dataset's old communities (a sequential
#: run also draws them on its map; a batched run lists them only).
_LISTED = ("partner_units", "communities_old")


def layer_files(path: Path) -> dict[str, tuple[Path, str | None]]:
    """Layer name -> (file, layer inside the file) for a dataset folder or GeoPackage."""
    found: dict[str, tuple[Path, str | None]] = {}
    if path.is_dir():
        for name in (*_SPATIAL, *_TABLES, *_LISTED):
            for ext in (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".csv"):
                f = path / f"{name}{ext}"
                if f.exists():
                    found[name] = (f, None)
                    break
    elif path.suffix.lower() == ".gpkg":
        names = {str(n) for n, _ in pyogrio.list_layers(path)}
        for name in (*_SPATIAL, *_TABLES, *_LISTED):
            if name in names:
                found[name] = (path, name)
    else:
        msg = f"dataset {path}: batched planning reads a folder of layer files or a GeoPackage"
        raise DataError(msg)
    if "buildings" not in found or "communities" not in found:
        msg = (
            f"dataset {path}: batched planning needs `buildings` and `communities` layers "
            "(communities are the batches); add the communities layer or plan in memory"
        )
        raise DataError(msg)
    if found["buildings"][0].suffix.lower() == ".csv":
        msg = (
            f"dataset {path}: batched planning cannot filter buildings.csv by area; convert it "
            "to GeoPackage or GeoJSON first"
        )
        raise DataError(msg)
    return found


def _read(src: tuple[Path, str | None], **kw: Any) -> Any:
    return pyogrio.read_dataframe(src[0], layer=src[1], **kw)


def _sql_list(ids: Iterable[str]) -> str:
    return ", ".join("'" + str(i).replace("'", "''") + "'" for i in ids)


def building_id_column(columns: Iterable[Any], name: str) -> str:
    """The column of table ``name`` that holds building ids, under its name or an alias.

    Raises
    ------
    DataError
        No column of ``columns`` is ``building_id`` or one of its aliases for ``name``.
    """
    from gridplan.io.read import apply_aliases

    cols = [str(c) for c in columns]
    renamed = apply_aliases(pd.DataFrame(columns=cols), name)
    for old, new in zip(cols, renamed.columns, strict=True):
        if new == "building_id":
            return old
    msg = (
        f"{name}: no building_id column (columns: {', '.join(cols)}); a batched run reads "
        f"{name} by building id. Fix: add a building_id column"
    )
    raise DataError(msg)


def read_table(
    src: tuple[Path, str | None], name: str, building_ids: set[str] | None = None
) -> pd.DataFrame:
    """Rows of table ``name`` (people, vulnerable, overrides) whose building id is in
    ``building_ids`` (all rows when ``None``); a CSV is read in chunks."""
    path, layer = src
    if path.suffix.lower() == ".csv":
        keep = []
        for chunk in pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], chunksize=200_000
        ):
            col = building_id_column(chunk.columns, name)
            keep.append(chunk if building_ids is None else chunk[chunk[col].isin(building_ids)])
        return pd.concat(keep, ignore_index=True)
    df = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
    if building_ids is None:
        return pd.DataFrame(df)
    col = building_id_column(df.columns, name)
    return pd.DataFrame(df[df[col].astype(str).isin(building_ids)])


def write_scratch(folder: Path, layers: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame):
            pyogrio.write_dataframe(frame, folder / f"{name}.gpkg", layer=name, driver="GPKG")
        else:
            frame.to_csv(folder / f"{name}.csv", index=False)


Box = tuple[float, float, float, float]


def union_box(*boxes: Box | None) -> Box:
    real = [b for b in boxes if b is not None and all(math.isfinite(v) for v in b)]
    return (
        min(b[0] for b in real),
        min(b[1] for b in real),
        max(b[2] for b in real),
        max(b[3] for b in real),
    )


def _expand_box(box: Box, crs: CRS | None, metres: float) -> Box:
    """``box`` (in ``crs``) grown by at least ``metres`` of ground distance on every side.

    The growth is done in degrees of WGS84 with the shortest degree lengths of the box's
    latitudes (so it is never less than ``metres``), and the result is brought back to ``crs``
    with densified edges. A box without a CRS is taken as longitude/latitude when it looks like
    one, as metres otherwise.
    """
    from pyproj import CRS, Transformer

    if metres <= 0:
        return box
    geographic = crs is None and -180 <= box[0] <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90
    if crs is None and not geographic:
        return (box[0] - metres, box[1] - metres, box[2] + metres, box[3] + metres)
    c = CRS.from_user_input(crs) if crs is not None else CRS.from_epsg(4326)
    lonlat = box
    if not c.is_geographic:
        to_ll = Transformer.from_crs(c, 4326, always_xy=True)
        x0, y0, x1, y1 = to_ll.transform_bounds(*box, densify_pts=21)
        lonlat = (float(x0), float(y0), float(x1), float(y1))
    # 110 574 m: a degree of latitude at the equator (the shortest); a degree of longitude is
    # never shorter than 111 319 m × cos(latitude)
    dlat = metres / 110_574.0
    far = min(max(abs(lonlat[1]), abs(lonlat[3])) + dlat, 89.0)
    dlon = metres / (111_319.0 * math.cos(math.radians(far)))
    grown = (lonlat[0] - dlon, lonlat[1] - dlat, lonlat[2] + dlon, lonlat[3] + dlat)
    if c.is_geographic:
        return grown
    back = Transformer.from_crs(4326, c, always_xy=True)
    x0, y0, x1, y1 = back.transform_bounds(*grown, densify_pts=21)
    return (float(x0), float(y0), float(x1), float(y1))


def _load_margin(radius_m: float, core: Box, crs: CRS | None, offset: str | None) -> float:
    """Ground metres to grow a batch's box by so that it holds ``radius_m`` around the batch
    in the working (UTM) CRS too: plus 6 % of the box's size for the turn of the UTM grid
    (at most 3° inside a zone), and, for offset coordinates, 10 % and 100 m for the
    unevenness of the offset."""
    extent = max(core[2] - core[0], core[3] - core[1])
    geographic = (crs is None and abs(core[0]) <= 180 and abs(core[3]) <= 90) or (
        crs is not None and _is_geographic(crs)
    )
    extent_m = extent * 111_320.0 if geographic else extent
    margin = radius_m * 1.02 + 0.06 * extent_m + 20.0
    if offset:
        margin += 0.1 * radius_m + 100.0
    return margin


def _is_geographic(crs: CRS | None) -> bool:
    from pyproj import CRS

    return bool(CRS.from_user_input(crs).is_geographic)


def read_batch(
    files: dict[str, tuple[Path, str | None]],
    comms: gpd.GeoDataFrame,
    ids: list[str],
    has_cid: bool,
    *,
    coverage: Mapping[str, Any] | None = None,
    offset: str | None = None,
) -> dict[str, Any]:
    """The raw layers of the communities ``ids``: their buildings, what lies near them.

    Without ``coverage`` the roads, barriers and facilities are read in the batch's bounding
    box + 5 %; with it (keys ``radius_m``, ``box``: the bounds of the facilities the batch
    owns), in the box of the batch's communities, buildings and owned facilities grown by
    ``radius_m`` of ground distance (see :func:`_load_margin`).
    """
    sel = comms[comms["community_id"].astype(str).isin(ids)]
    minx, miny, maxx, maxy = sel.total_bounds
    pad = max(maxx - minx, maxy - miny) * 0.05 + 1e-4
    bbox = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    out: dict[str, Any] = {"communities": sel}
    if has_cid:
        b = _read(files["buildings"], where=f"community_id IN ({_sql_list(ids)})")
        loose = _read(files["buildings"], where="community_id IS NULL", bbox=bbox)
        if len(loose):
            pts = loose.geometry.representative_point()
            inside = gpd.sjoin(
                gpd.GeoDataFrame(geometry=pts, crs=loose.crs),
                sel[["geometry"]],
                predicate="within",
                how="inner",
            )
            loose = loose.loc[sorted(set(inside.index))]
            b = pd.concat([b, loose], ignore_index=True)
    else:
        b = _read(files["buildings"], bbox=bbox)
        pts = b.geometry.representative_point()
        inside = gpd.sjoin(
            gpd.GeoDataFrame(geometry=pts, crs=b.crs),
            sel[["geometry"]],
            predicate="within",
            how="inner",
        )
        b = b.loc[sorted(set(inside.index))]
    out["buildings"] = gpd.GeoDataFrame(b, geometry="geometry", crs=b.crs)
    near = bbox
    if coverage is not None:
        core = union_box(
            tuple(sel.total_bounds),
            tuple(out["buildings"].total_bounds) if len(out["buildings"]) else None,
            coverage.get("box"),
        )
        margin = _load_margin(float(coverage["radius_m"]), core, sel.crs, offset)
        near = union_box(bbox, _expand_box(core, sel.crs, margin))
    for name in ("roads", "barriers", "facilities"):
        if name in files:
            out[name] = _read(files[name], bbox=near)
    # use evidence: the landuse polygons and POIs touching the batch's buildings (which may
    # reach beyond their communities' box)
    evidence = union_box(
        bbox, tuple(out["buildings"].total_bounds) if len(out["buildings"]) else None
    )
    for name in ("landuse", "pois"):
        if name in files:
            out[name] = _read(files[name], bbox=evidence)
    bids = set(out["buildings"]["building_id"].astype(str))
    for name in _TABLES:
        if name in files:
            out[name] = read_table(files[name], name, bids)
    return out
