"""The plan: what a run produces, and how it is written to and read from a plan folder.

A plan folder (the README's plan contract) holds ``plan.gpkg`` (layers ``grids``, ``units``,
``unit_members``, ``buildings``, ``assignments``, ``coverage``, ``sites``, ``metadata`` and a few
documented extras), ``map.html``, ``report.md``/``report.json`` and the rosters. Every write goes
through :func:`atomic_output_dir`: the folder is built next to its target and swapped in only when
complete, so a run that fails or is killed leaves the previous plan untouched.

Dataset reading lives in :mod:`gridplan.io`; this module is only about plans.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast, get_args, overload

import geopandas as gpd
import pandas as pd
import pyogrio
from pyproj import CRS

from gridplan._errors import DataError
from gridplan._text import ordered_tiers, tiers_in_order
from gridplan.db import is_database_url, parse_database_url

__all__ = [
    "CONTRACT_LAYERS",
    "EXTRA_LAYERS",
    "MANIFEST",
    "SKIP_REASONS",
    "DatasetBlock",
    "Plan",
    "PlanExtras",
    "PlanMetadata",
    "file_checksum",
    "read_plan",
    "tier_order",
    "update_manifest",
    "writable_table",
    "write_manifest",
    "write_metadata_table",
    "write_plan_gpkg",
]

logger = logging.getLogger(__name__)

#: Why a stage was skipped (``metadata["skipped"][stage]``): code -> the sentence a runner
#: records. The report says each in its own language (labels ``report.skip_<code>``).
SKIP_REASONS: dict[str, str] = {
    "no_people": "the dataset has no `people` layer",
    "no_units": "units were not formed",
    "no_roads_facilities": "the dataset needs `roads` and `facilities` layers",
    "no_coverage": "coverage did not run",
    "not_asked": "not asked for (stages)",
    "batched_site": (
        "batched mode: siting is one optimisation over the whole area (a new site serves "
        "households of several batches and the number of sites is shared), so it does not split "
        "into batches; run `gridplan site` on a city in memory"
    ),
    "batched": "batched mode",
}

#: The layers every ``plan.gpkg`` holds (the plan contract), ``metadata`` aside.
CONTRACT_LAYERS: tuple[str, ...] = (
    "grids",
    "units",
    "unit_members",
    "buildings",
    "assignments",
    "coverage",
    "sites",
)

#: Extra layers written when a stage produces them (an extension of the contract).
EXTRA_LAYERS: tuple[str, ...] = (
    "communities",
    "facilities",
    "catchments",
    "coverage_summary",
    "vacancies",
    "building_parts",
    "moved",
    "water",
    "edits",
    "communities_old",
)

#: Columns of each contract layer, so that a layer a stage did not produce is still written
#: with its schema (an empty table), and readers can rely on it.
LAYER_COLUMNS: dict[str, tuple[str, ...]] = {
    "grids": (
        "grid_id",
        "community_id",
        "households",
        "population",
        "n_buildings",
        "n_units",
        "head_id",
    ),
    "units": ("unit_id", "grid_id", "households", "head_id"),
    "unit_members": (
        "unit_id",
        "building_id",
        "entrance",
        "floor_from",
        "floor_to",
        "households",
    ),
    "buildings": ("building_id", "community_id", "grid_id", "households", "households_estimated"),
    "assignments": ("person_id", "role", "target_id", "distance_m"),
    "coverage": ("building_id", "tier", "category", "minutes", "covered"),
    "sites": ("site_id", "category", "households_newly_covered"),
}

#: Names of the contract layers that carry geometry.
SpatialPlanLayer = Literal["grids", "units", "buildings", "sites"]
SPATIAL_CONTRACT = set(get_args(SpatialPlanLayer))

#: The GeoPackage table of QGIS layer styles (:mod:`gridplan.output.qgis`): not a plan layer.
STYLES_TABLE = "layer_styles"

#: The file of a plan folder listing the SHA-256 of every other file in it.
MANIFEST = "manifest.json"


class DatasetBlock(TypedDict):
    """The ``dataset`` block of a plan's metadata (:func:`gridplan.run.metadata.dataset_block`)."""

    source: str | None
    #: the date of the data (newest file modification, UTC ``YYYY-MM-DD``), when known
    data_date: NotRequired[str | None]
    input_crs: str | None
    working_crs: str | None
    offset: str | None
    #: layer name -> rows
    layers: dict[str, int]
    warnings: list[str]


class PlanExtras(TypedDict, total=False):
    """The metadata blocks a plan holds only when made a certain way (each a JSON object)."""

    #: household sensitivity, when households were estimated
    sensitivity: dict[str, Any]
    #: stage -> why it was skipped (every runner sets it at the end)
    skipped: dict[str, str]
    #: a runner's own block: Dask / per-community, batched, re-plan, grids taken from a plan
    parallel: dict[str, Any]
    batched: dict[str, Any]
    replan: dict[str, Any]
    grids_from: dict[str, Any]


class PlanMetadata(PlanExtras):
    """A plan's metadata (:func:`gridplan.run.metadata.plan_metadata`): the keys every plan has
    (:data:`gridplan.run.metadata.METADATA_KEYS`), then the optional :class:`PlanExtras`.

    JSON-serialisable; the ``metadata`` layer of ``plan.gpkg`` holds one row per key.
    """

    gridplan_version: str
    seed: int
    created_at: str
    parameters: dict[str, Any]
    stages: list[str]
    dataset: DatasetBlock
    #: input layer name -> SHA-256
    checksums: dict[str, str]
    #: stage -> its metrics
    metrics: dict[str, Any]
    #: stage -> its flags
    flags: dict[str, list[str]]
    #: stage -> seconds
    timings_s: dict[str, float]


def _no_metadata() -> PlanMetadata:
    """The metadata of a plan not made by a runner nor read yet: empty, its keys to be filled."""
    return cast(PlanMetadata, {})


@dataclass
class Plan:
    """A plan in memory: its layers and metadata.

    Attributes
    ----------
    layers
        Layer name -> GeoDataFrame (spatial layers) or DataFrame (tables). Spatial layers are in
        :attr:`crs`.
    metadata
        JSON-serialisable (:class:`PlanMetadata`): parameters, gridplan version, seed, input
        checksums, summary metrics. Empty for a ``Plan()`` made by hand.
    crs
        CRS of the spatial layers in memory.
    output_crs
        CRS the spatial layers are written in (the input's CRS).
    """

    layers: dict[str, pd.DataFrame] = field(default_factory=dict)
    metadata: PlanMetadata = field(default_factory=_no_metadata)
    crs: CRS | None = None
    output_crs: CRS | None = None

    def __repr__(self) -> str:
        """One line: the layers and their rows, the CRS, the seed (not the tables)."""
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.layers.items())
        crs = self.crs.to_string() if self.crs is not None else None
        return f"Plan(layers: {sizes or 'none'}; crs={crs}; seed={self.metadata.get('seed')})"

    @overload
    def layer(self, name: SpatialPlanLayer) -> gpd.GeoDataFrame: ...
    @overload
    def layer(self, name: str) -> pd.DataFrame: ...
    def layer(self, name: str) -> pd.DataFrame:
        """The layer ``name`` (an empty table with the contract columns when absent).

        Typed by name: a spatial contract layer (:data:`SpatialPlanLayer`) is a GeoDataFrame;
        any other a DataFrame (extras such as ``facilities`` may be GeoDataFrames too).
        """
        if name in self.layers:
            return self.layers[name]
        if name in LAYER_COLUMNS:
            cols = list(LAYER_COLUMNS[name])
            if name in SPATIAL_CONTRACT:
                return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=self.crs)
            return pd.DataFrame({c: [] for c in cols})
        msg = f"the plan has no layer {name!r}; it has {', '.join(sorted(self.layers))}"
        raise KeyError(msg)

    @property
    def grids(self) -> gpd.GeoDataFrame:
        """Grids (网格): one polygon each."""
        return self.layer("grids")

    @property
    def units(self) -> gpd.GeoDataFrame:
        """Ten-household units (十联户)."""
        return self.layer("units")

    @property
    def unit_members(self) -> pd.DataFrame:
        """Which building (entrance, floors) belongs to which unit."""
        return self.layer("unit_members")

    @property
    def buildings(self) -> gpd.GeoDataFrame:
        """Every input building with its grid."""
        return self.layer("buildings")

    @property
    def assignments(self) -> pd.DataFrame:
        """Who holds which role where."""
        return self.layer("assignments")

    @property
    def coverage(self) -> pd.DataFrame:
        """Minutes to the nearest facility per building, tier and category."""
        return self.layer("coverage")

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """Recommended new facility sites."""
        return self.layer("sites")


#: Layers whose ``tier`` column is read as an ordered categorical (:func:`tier_order`), as
#: :func:`gridplan.access.compute_coverage` makes it.
TIER_LAYERS: tuple[str, ...] = ("coverage", "coverage_summary")


def tier_order(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``tier`` column (coverage, coverage_summary) made an ordered
    categorical in minutes order (:func:`gridplan._text.ordered_tiers`), so that an analyst's
    ``groupby("tier")`` or ``sort_values("tier")`` gives 5, 10, 15 minutes."""
    if "tier" not in df.columns or isinstance(df["tier"].dtype, pd.CategoricalDtype):
        return df
    out = df.copy()
    out["tier"] = ordered_tiers(out["tier"])
    return out


def writable_table(df: pd.DataFrame) -> pd.DataFrame:
    """Make a table writable by GDAL: lists/dicts to JSON text, nullable dtypes kept; the
    geometry column last and a ``population`` of whole numbers as integers (what a person
    opening the layer expects)."""
    geom = getattr(df, "_geometry_column_name", None)
    out = df.copy()
    if geom in out.columns and list(out.columns)[-1] != geom:
        out = out[[c for c in out.columns if c != geom] + [geom]]
    if "population" in out.columns and out["population"].dtype.kind == "f":
        pop = out["population"]
        if pop.notna().all() and bool((pop.round() == pop).all()):
            out["population"] = pop.astype("int64")
    for col in out.columns:
        if col == getattr(out, "_geometry_column_name", None):
            continue
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):  # tiers: written as their text
            out[col] = s.astype(object).where(s.notna(), None)
            continue
        if s.dtype == object:
            sample = s.dropna()
            if len(sample) and isinstance(sample.iloc[0], list | tuple | dict | set):
                out[col] = s.map(
                    lambda v: (
                        json.dumps(list(v) if isinstance(v, set | tuple) else v, ensure_ascii=False)
                        if v is not None and not (isinstance(v, float) and pd.isna(v))
                        else None
                    )
                )
    return out


def write_plan_gpkg(plan: Plan, path: str | Path) -> Path:
    """Write ``plan`` to a GeoPackage at ``path`` (which must not exist yet).

    Spatial layers are written in ``plan.output_crs`` (or ``plan.crs``); tables as GeoPackage
    attribute tables; ``metadata`` as a key/value table whose values are JSON text.
    """
    path = Path(path)
    with _synced_once(path):
        _write_layers(plan, path)
    return path


@contextlib.contextmanager
def _synced_once(path: Path) -> Iterator[None]:
    """SQLite without an fsync per layer written (a new file, useless until complete; the
    atomic writer discards it on failure), then one fsync of the finished file. GDAL's option
    is restored afterwards."""
    key = "OGR_SQLITE_SYNCHRONOUS"
    before = pyogrio.get_gdal_config_option(key)
    pyogrio.set_gdal_config_options({key: "OFF"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({key: before})
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def _write_layers(plan: Plan, path: Path) -> None:
    out_crs = plan.output_crs or plan.crs
    names = list(CONTRACT_LAYERS) + [n for n in plan.layers if n not in CONTRACT_LAYERS]
    for name in names:
        df = plan.layer(name)
        if isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns:
            gdf = df
            if gdf.crs is None and plan.crs is not None:
                gdf = gdf.set_crs(plan.crs)
            if out_crs is not None and gdf.crs is not None and not gdf.crs.equals(out_crs):
                gdf = gdf.to_crs(out_crs)
            pyogrio.write_dataframe(writable_table(gdf), path, layer=name, driver="GPKG")
        else:
            table = pd.DataFrame(df)
            pyogrio.write_dataframe(writable_table(table), path, layer=name, driver="GPKG")
    write_metadata_table(plan.metadata, path)
    from gridplan.output.qgis import write_layer_styles

    write_layer_styles(path, when=str(plan.metadata.get("created_at") or "") or None)


def write_metadata_table(metadata: Mapping[str, Any], path: str | Path) -> None:
    """Write the ``metadata`` layer of ``plan.gpkg``: one row per key, its value as JSON text."""
    meta = pd.DataFrame(
        {
            "key": list(metadata),
            "value": [
                json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
                for v in metadata.values()
            ],
        }
    )
    pyogrio.write_dataframe(meta, path, layer="metadata", driver="GPKG")


def file_checksum(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(folder: str | Path) -> Path:
    """Write ``manifest.json`` into a finished plan folder: every file in it (sub-folders
    included, by ``/``-separated relative path) -> its SHA-256. Written last, by every runner."""
    folder = Path(folder)
    manifest = {
        p.relative_to(folder).as_posix(): file_checksum(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST
    }
    return _replace_manifest(folder, manifest)


def _replace_manifest(folder: Path, manifest: dict[str, str]) -> Path:
    """Write ``manifest.json`` atomically (a temporary file renamed over it)."""
    path = folder / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


def update_manifest(folder: str | Path, sub: str | Path) -> Path | None:
    """Bring the entries of ``sub`` (a folder inside the plan folder ``folder``, such as the
    notice boards) up to date in its ``manifest.json``: the old entries under ``sub`` are
    dropped, every file now in it is listed with its SHA-256, the other entries are kept.
    The manifest is replaced atomically.

    Returns
    -------
    pathlib.Path or None
        The manifest; ``None`` when ``sub`` is not inside ``folder`` (nothing to do).

    Raises
    ------
    DataError
        ``folder`` has no ``manifest.json`` (not a finished plan folder) or it is unreadable.
    """
    folder = Path(folder).resolve()
    sub = Path(sub).resolve()
    if sub == folder or not sub.is_relative_to(folder):
        return None
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = (
            f"plan: {path} is missing or unreadable ({exc}), so the files written into the "
            "plan folder cannot be listed; re-run `gridplan run` to write the plan folder"
        )
        raise DataError(msg) from None
    prefix = sub.relative_to(folder).as_posix() + "/"
    kept = {k: v for k, v in manifest.items() if not str(k).startswith(prefix)}
    for p in sorted(sub.rglob("*")):
        if p.is_file():
            kept[p.relative_to(folder).as_posix()] = file_checksum(p)
    return _replace_manifest(folder, kept)


def read_plan(folder: str | Path, *, layers: Iterable[str] | None = None) -> Plan:
    """Read a plan folder written by ``gridplan run`` (its ``plan.gpkg``), or a plan schema
    (a ``postgresql://…?schema=NAME`` URL; :func:`gridplan.output.postgis.read_plan_postgis`).

    Spatial layers come back in the CRS they were written in (the input's CRS). ``layers``:
    read only these (those the plan has) and the metadata; ``None`` for every layer.

    Raises
    ------
    DataError
        The folder or its ``plan.gpkg`` is missing or unreadable.
    """
    if is_database_url(folder):
        from gridplan.output.postgis import read_plan_postgis

        return read_plan_postgis(parse_database_url(str(folder)), layers=layers)
    folder = Path(folder)
    gpkg = folder / "plan.gpkg" if folder.is_dir() else folder
    if not gpkg.exists():
        msg = f"plan: {gpkg} does not exist; give the folder written by `gridplan run`"
        raise DataError(msg)
    try:
        listed = pyogrio.list_layers(gpkg)
    except Exception as exc:  # GDAL raises several types for unreadable files
        msg = f"plan: {gpkg} is not a readable GeoPackage ({exc}); re-run `gridplan run`"
        raise DataError(msg) from None
    plan = Plan()
    wanted = None if layers is None else {*layers, "metadata"}
    for name, geom_type in listed:
        if name == STYLES_TABLE or (wanted is not None and name not in wanted):
            continue
        df = pyogrio.read_dataframe(gpkg, layer=name)
        if name == "metadata":
            # trusted as written by a runner (older plans may lack some keys: read with .get)
            plan.metadata = cast(
                PlanMetadata,
                {
                    k: tiers_in_order(json.loads(v))
                    for k, v in zip(df["key"], df["value"], strict=True)
                },
            )
            continue
        if geom_type is None and isinstance(df, gpd.GeoDataFrame):
            df = pd.DataFrame(df.drop(columns=df.geometry.name))
        plan.layers[str(name)] = tier_order(df) if name in TIER_LAYERS else df
        if isinstance(df, gpd.GeoDataFrame) and plan.crs is None:
            plan.crs = df.crs
    plan.output_crs = plan.crs
    return plan
