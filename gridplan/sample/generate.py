"""Deterministic synthetic sample datasets: a county town, a city, a province.

The samples look like the data a Chinese community planner holds (the README's dataset contract, raw
input form, WGS84): building footprints of gated compounds (小区) of six- and seven-storey slab
apartments, high-rise towers in the newer districts, an old quarter of small houses along a river,
shops, schools and offices; community boundaries that follow arterial roads and the river; a road
hierarchy from trunk road to footway; the river (crossed by a few bridges) and, in the city, a
railway; facilities of every category with deliberate gaps; a roster of cadres, party members, grid
workers, unit-head candidates and volunteers; the "yellow list" of vulnerable households; and
candidate sites for new facilities.

Scales (calibrated on the figures towns report, cited in settings):

- ``town``: three communities, about 8 800 households and 24 000 residents (the Anshun pilot),
  near Anshun, Guizhou;
- ``city``: 19 communities of about 10 000 residents, about 70 000 households (Cenxi, Guangxi);
- ``province``: hundreds of communities in towns spread over Guizhou, millions of households,
  generated and written community by community.

Everything is generated in a local metric frame, placed on the ground through the local UTM
zone and written in WGS84 with coordinates rounded to 7 decimals. The same scale and seed give
identical layers and byte-identical files (with the same GEOS, PROJ and GDAL versions: the
bundled ``data/town`` is checked against a fresh one by the tests).

Example
-------
>>> from gridplan.sample import generate_sample
>>> layers = generate_sample("town", seed=0)
>>> sorted(layers)[:3]
['barriers', 'buildings', 'communities']
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer

from gridplan._atomic import atomic_output, is_gpkg_path
from gridplan._errors import ConfigError
from gridplan.io.read import LAYERS
from gridplan.sample.community import _community
from gridplan.sample.geometry import WGS84
from gridplan.sample.layout import CLASS_RANK, Layout, Road, _layout, junctions
from gridplan.sample.names import COMMUNITY_NAMES
from gridplan.sample.requests import generate_partner_units, generate_requests
from gridplan.sample.spec import SCALES, Counters, TownSpec, province_specs, town_spec

# The internals live in private modules beside this one: _sample_names (name tables),
# _sample_spec (scales, town specifications, id counters), _sample_geometry (helpers),
# _sample_layout (roads, river, rail, communities, streets, blocks), _sample_buildings,
# _sample_people (the roster) and _sample_community (every layer of one community).

__all__ = ["SCALES", "generate_sample", "write_sample"]

logger = logging.getLogger(__name__)

#: Layers written as CSV (tabular, linked by ``building_id``); the others are GeoJSON.
_TABULAR = ("people", "vulnerable", "requests", "partner_units")


# --------------------------------------------------------------------------------------------
# Frames (WGS84) and the drivers
# --------------------------------------------------------------------------------------------


def _to_wgs84(geoms: list[Any], lay: Layout) -> np.ndarray:
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return arr
    tr = Transformer.from_crs(lay.crs, WGS84, always_xy=True)
    a = math.radians(lay.rotation)
    c, s = math.cos(a), math.sin(a)
    e0, n0 = lay.origin

    def f(xy: np.ndarray) -> np.ndarray:
        x = e0 + c * xy[:, 0] - s * xy[:, 1]
        y = n0 + s * xy[:, 0] + c * xy[:, 1]
        lon, lat = tr.transform(x, y)
        return np.round(np.column_stack([lon, lat]), 7)

    return shapely.transform(arr, f)


_COLUMNS: dict[str, dict[str, str]] = {
    "buildings": {
        "building_id": "object",
        "households": "Int64",
        "population": "Int64",
        "floors": "Int64",
        "height": "Float64",
        "use": "object",
        "compound": "object",
        "entrances": "Int64",
        "community_id": "object",
    },
    "communities": {
        "community_id": "object",
        "name": "object",
        "households_total": "Int64",
        "population_total": "Int64",
    },
    "roads": {"road_class": "object", "name": "object", "walkable": "boolean"},
    "barriers": {"kind": "object", "name": "object"},
    "facilities": {"facility_id": "object", "category": "object", "name": "object"},
    "sites": {"site_id": "object", "categories": "object"},
    "people": {
        "person_id": "object",
        "building_id": "object",
        "name": "object",
        "party_member": "bool",
        "roles": "object",
        "full_time": "bool",
        "skills": "object",
        "capacity_households": "Int64",
        "phone": "object",
    },
    "vulnerable": {"building_id": "object", "kind": "object", "households": "int64"},
}
_SORT = {
    "buildings": ["building_id"],
    "communities": ["community_id"],
    "facilities": ["facility_id"],
    "sites": ["site_id"],
    "people": ["person_id"],
    "vulnerable": ["building_id", "kind"],
}


def _frame(layer: str, records: list[dict[str, Any]], lay: Layout | None) -> Any:
    cols = _COLUMNS[layer]
    data = {
        c: pd.Series([r.get(c) for r in records], dtype=t if t != "object" else object)
        for c, t in cols.items()
    }
    df = pd.DataFrame(data)
    if layer in ("people", "vulnerable"):
        out: pd.DataFrame = df
    else:
        geoms = _to_wgs84([r["geometry"] for r in records], lay) if lay else np.empty(0, object)
        out = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
    if layer in _SORT and len(out):
        out = out.sort_values(_SORT[layer], kind="stable").reset_index(drop=True)
    return out


def _iter_batches(scale: str, seed: int, n_communities: int | None) -> Iterator[dict[str, Any]]:
    """Yield one batch of layers per community, then the town's roads and barriers."""
    if scale == "province":
        specs: Iterator[TownSpec] = province_specs(seed, n_communities or 400)
    else:
        spec = town_spec(scale, seed)
        if n_communities is not None and n_communities != spec.n_communities:
            frac = n_communities / spec.n_communities
            spec = TownSpec(
                **{
                    **spec.__dict__,
                    "n_communities": n_communities,
                    "households": int(spec.households * frac),
                    "width": spec.width * math.sqrt(frac),
                    "height": spec.height * math.sqrt(frac),
                    "community_names": tuple(
                        COMMUNITY_NAMES[i % len(COMMUNITY_NAMES)] for i in range(n_communities)
                    ),
                    "id_width": max(2, len(str(n_communities))),
                }
            )
        specs = iter([spec])
    for spec in specs:
        lay = _layout(spec, seed)
        counters = Counters()
        roads: list[Road] = list(lay.roads)
        carry = 0
        for comm in lay.communities:
            comm["target"] += carry  # a community short of land hands its rest to the next
            batch = _community(lay, comm, seed, counters)
            carry = comm["target"] - int(batch.pop("_households"))
            roads.extend(batch.pop("roads"))
            yield {name: _frame(name, recs, lay) for name, recs in batch.items()}
        roads = junctions(roads)
        roads.sort(key=lambda r: CLASS_RANK[r.road_class])
        road_recs = [
            {
                "road_class": r.road_class,
                "name": r.name,
                "walkable": r.walkable,
                "geometry": r.geometry,
            }
            for r in roads
        ]
        yield {
            "roads": _frame("roads", road_recs, lay),
            "barriers": _frame("barriers", lay.barriers, lay),
        }


def generate_sample(
    scale: str = "town", *, seed: int = 0, n_communities: int | None = None
) -> dict[str, Any]:
    """Generate a synthetic dataset in memory (the dataset contract's raw input form, WGS84).

    Parameters
    ----------
    scale
        ``"town"`` (3 communities, ~8 800 households), ``"city"`` (19 communities,
        ~70 000 households) or ``"province"`` (``n_communities`` communities, default 400:
        use :func:`write_sample` for that, it streams to disk).
    seed
        Random seed; the same scale and seed give identical layers.
    n_communities
        Override the number of communities (mainly for small province samples in tests).

    Returns
    -------
    dict
        Layer name -> table: GeoDataFrames ``buildings``, ``communities``, ``roads``,
        ``barriers``, ``facilities``, ``sites`` in EPSG:4326; DataFrames ``people`` and
        ``vulnerable`` (linked by ``building_id``).

    Raises
    ------
    ConfigError
        An unknown scale or a bad number of communities.
    """
    if scale not in SCALES:
        msg = f"unknown sample scale {scale!r}; use one of {', '.join(SCALES)}"
        raise ConfigError(msg)
    if n_communities is not None and n_communities < 1:
        msg = f"n_communities must be at least 1, got {n_communities}"
        raise ConfigError(msg)
    parts: dict[str, list[Any]] = {}
    for batch in _iter_batches(scale, seed, n_communities):
        for name, frame in batch.items():
            parts.setdefault(name, []).append(frame)
    out: dict[str, Any] = {}
    for name in LAYERS:
        frames = [f for f in parts.get(name, []) if len(f)] or parts.get(name, [])[:1]
        if not frames:
            continue
        merged = pd.concat(frames, ignore_index=True)
        if isinstance(frames[0], gpd.GeoDataFrame):
            merged = gpd.GeoDataFrame(merged, geometry="geometry", crs=WGS84)
        if name in _SORT:
            merged = merged.sort_values(_SORT[name], kind="stable").reset_index(drop=True)
        out[name] = merged
    return out


_GEOJSON_OPTIONS = {"COORDINATE_PRECISION": 7, "RFC7946": "YES", "WRITE_BBOX": "NO"}
_FEATURES = b'"features": [\n'
_FOOTER = b"\n]\n}\n"


def _write_layer(folder: Path, name: str, frame: pd.DataFrame, append: bool) -> None:
    """Write (or append) one layer: GeoJSON for spatial layers, CSV for the rosters; into one
    GeoPackage (every layer a table of it) when ``folder`` is a ``.gpkg`` file's path.

    GDAL's own GeoJSON append rewrites the whole file each time (quadratic over a province),
    so an append here writes the batch alone and splices its feature lines in front of the
    closing brackets of the existing file: the result is byte-identical to one write of all
    the rows, and the file is valid GeoJSON after every batch.
    """
    if is_gpkg_path(folder):
        pyogrio.write_dataframe(frame, folder, layer=name, driver="GPKG", append=append)
        return
    if name in _TABULAR:
        frame.to_csv(
            folder / f"{name}.csv",
            mode="a" if append else "w",
            header=not append,
            index=False,
            lineterminator="\n",
            encoding="utf-8",
        )
        return
    path = folder / f"{name}.geojson"
    if not append:
        pyogrio.write_dataframe(frame, path, driver="GeoJSON", layer_options=_GEOJSON_OPTIONS)
        return
    scratch = folder / ".batch"
    scratch.mkdir(exist_ok=True)
    part = scratch / path.name  # same file name, so the same "name" member
    pyogrio.write_dataframe(frame, part, driver="GeoJSON", layer_options=_GEOJSON_OPTIONS)
    body = part.read_bytes().partition(_FEATURES)[2]
    part.unlink()
    scratch.rmdir()
    body = body[: -len(_FOOTER)]
    if not body.strip():
        return
    with path.open("r+b") as fh:
        fh.seek(-len(_FOOTER) - 2, os.SEEK_END)
        before = fh.read(2)
        if fh.read() != _FOOTER:
            msg = f"{path} does not end like a GeoJSON file gridplan wrote; cannot append"
            raise OSError(msg)
        fh.seek(-len(_FOOTER), os.SEEK_END)
        fh.truncate()
        fh.write((b"" if before == b"[\n" else b",\n") + body + _FOOTER)


def _add_request_tables(batch: dict[str, Any], seed: int, index: int) -> None:
    """A province community's month of requests and partner units, ids prefixed with the
    community (written with its batch, like its people)."""
    comm = batch.get("communities")
    if "buildings" not in batch or not len(batch["buildings"]) or comm is None or not len(comm):
        return
    cid = str(comm["community_id"].iloc[0])
    batch["requests"] = generate_requests(batch, seed=seed + index, prefix=f"{cid}-")
    batch["partner_units"] = generate_partner_units(
        batch, seed=seed + index, prefix=f"{cid}-", first=index
    )


def write_sample(
    out: str | Path,
    scale: str = "town",
    *,
    seed: int = 0,
    overwrite: bool = False,
    n_communities: int | None = None,
) -> Path:
    """Write a synthetic dataset folder: one GeoJSON per spatial layer, CSV for the rosters.

    A path ending in ``.gpkg`` gives one GeoPackage holding every layer instead.
    Files: ``communities.geojson``, ``buildings.geojson``, ``roads.geojson``,
    ``barriers.geojson``, ``facilities.geojson``, ``sites.geojson``, ``people.csv``,
    ``vulnerable.csv``, and ``requests.csv``: a month of residents' requests
    (:func:`gridplan.sample.requests.generate_requests`), and ``partner_units.csv``: the
    partner units (双报到单位) placed by building
    (:func:`gridplan.sample.requests.generate_partner_units`). The output is byte-deterministic
    for a scale and seed. The folder is written atomically
    (:func:`gridplan._atomic.atomic_output_dir`), so a failed run leaves nothing
    half-written. The ``province`` scale is generated and appended
    community by community, never holding the whole province in memory.

    Parameters
    ----------
    out
        Dataset folder to create, or a ``.gpkg`` file.
    scale
        ``"town"``, ``"city"`` or ``"province"``.
    seed
        Random seed.
    overwrite
        Replace an existing folder.
    n_communities
        Override the number of communities (province default 400).

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    ConfigError
        An unknown scale.
    """
    if scale not in SCALES:
        msg = f"unknown sample scale {scale!r}; use one of {', '.join(SCALES)}"
        raise ConfigError(msg)
    target = Path(out)
    with atomic_output(target, overwrite=overwrite) as tmp:
        if scale == "province":
            written: set[str] = set()
            empty: dict[str, Any] = {}
            for i, batch in enumerate(_iter_batches(scale, seed, n_communities)):
                _add_request_tables(batch, seed, i)
                for name, frame in batch.items():
                    if len(frame) == 0:
                        empty.setdefault(name, frame)
                        continue
                    _write_layer(tmp, name, frame, name in written)
                    written.add(name)
                logger.debug("province: wrote a batch of %s", sorted(batch))
            for name, frame in empty.items():
                if name not in written:
                    _write_layer(tmp, name, frame, False)
        else:
            layers = generate_sample(scale, seed=seed, n_communities=n_communities)
            for name, frame in layers.items():
                _write_layer(tmp, name, frame, False)
            # a month of residents' requests, for `gridplan requests import` (not a layer)
            _write_layer(tmp, "requests", generate_requests(layers, seed=seed), False)
            # the partner units (双报到单位) the dispatcher may send requests to (a layer)
            _write_layer(tmp, "partner_units", generate_partner_units(layers, seed=seed), False)
    logger.info("wrote the %s sample (seed %d) to %s", scale, seed, target)
    return target
