"""``gridplan communities``: a dataset in, the same dataset with re-drawn communities out.

Reads the dataset as it is (to copy its layers unchanged) and prepared (to plan), re-draws the
communities (:func:`gridplan.partition.communities.redraw_communities`: afresh when the
dataset has no ``communities`` layer, else from the old ones; with an old plan's grids kept
whole), places a party-mass service centre in each
(:func:`gridplan.access.centres.place_service_centres`) and writes:

- the new dataset (a folder of one file per layer, or one ``.gpkg``): every layer copied, a
  new ``communities`` layer (community_id, name, households_total, population_total,
  service_centre_id, and n_buildings, old_community_id, kept), the old ones as
  ``communities_old`` (:func:`old_layer`: residents before and after) and ``community_id`` of
  the buildings updated; ready for ``gridplan run``;
- the report beside it: ``communities.md``, ``communities.json``, ``communities_map.html``
  (old outlines dashed, new filled, moved buildings and service centres marked),
  ``moves.csv`` and ``service_centres.csv``, in the folder ``redraw/`` of a dataset folder,
  or ``<name>_redraw/`` beside a ``.gpkg``.

Both are written atomically; the same inputs and seed give byte-identical files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridplan._atomic import atomic_output, atomic_output_dir, check_output_dir, is_gpkg_path
from gridplan._errors import ConfigError, DataError, OutputExistsError
from gridplan.access.centres import place_service_centres
from gridplan.adjacency import barrier_lines
from gridplan.db import is_database_url, parse_database_url, shown
from gridplan.io import load_dataset, read_dataset
from gridplan.network import build_walk_network
from gridplan.output.communities import (
    community_report,
    write_community_map,
    write_community_report,
)
from gridplan.output.postgis import check_plan_schema, write_dataset_postgis
from gridplan.partition.communities import CommunityPlan, redraw_communities
from gridplan.settings import DEFAULT, Config

__all__ = ["CommunityRun", "centre_points", "communities_to_dataset", "old_layer", "report_folder"]

log = logging.getLogger(__name__)

_GEOJSON_OPTIONS = {"RFC7946": "NO", "WRITE_BBOX": "NO", "COORDINATE_PRECISION": 7}


@dataclass(frozen=True)
class CommunityRun:
    """What :func:`communities_to_dataset` did: the plan, the centres and where it wrote."""

    plan: CommunityPlan
    centres: pd.DataFrame
    dataset: Path | str
    report: Path


def report_folder(out: str | Path) -> Path:
    """Where the report of a re-draw into ``out`` goes: ``out/redraw`` for a dataset folder,
    ``<name>_redraw`` beside a ``.gpkg``."""
    out = Path(out)
    if is_gpkg_path(out):
        return out.with_name(f"{out.stem}_redraw")
    return out / "redraw"


def _old_grids(path: str | Path) -> gpd.GeoDataFrame:
    p = Path(path)
    gpkg = p / "plan.gpkg" if p.is_dir() else p
    if not gpkg.is_file():
        msg = f"--grids: {gpkg} does not exist; give the folder of a plan (gridplan run --out)"
        raise DataError(msg)
    try:
        grids = gpd.read_file(gpkg, layer="grids")
    except Exception as exc:  # pyogrio raises its own error types
        msg = f"--grids: {gpkg} has no readable grids layer ({exc}); give a plan's folder"
        raise DataError(msg) from exc
    return grids


def _write_layer(target: Path, name: str, frame: pd.DataFrame) -> None:
    if is_gpkg_path(target):
        if isinstance(frame, gpd.GeoDataFrame):
            pyogrio.write_dataframe(frame, target, layer=name, driver="GPKG")
        else:
            pyogrio.write_dataframe(frame, target, layer=name, driver="GPKG")
        return
    if isinstance(frame, gpd.GeoDataFrame):
        pyogrio.write_dataframe(
            frame, target / f"{name}.geojson", driver="GeoJSON", layer_options=_GEOJSON_OPTIONS
        )
    else:
        frame.to_csv(target / f"{name}.csv", index=False, lineterminator="\n", encoding="utf-8")


def old_layer(old: gpd.GeoDataFrame, plan: CommunityPlan) -> gpd.GeoDataFrame:
    """The old communities as the new dataset's ``communities_old`` layer: community_id,
    name, residents_before (of its buildings before), residents_after (of the new community
    of the same id; 0 when it is gone), residents_stayed (still in it), geometry."""
    b = plan.buildings
    res = b["residents"].astype("int64")
    before = res.groupby(b["old_community_id"].astype(str).to_numpy()).sum()
    after = res.groupby(b["community_id"].astype(str).to_numpy()).sum()
    same = b["old_community_id"].astype(str) == b["community_id"].astype(str)
    stayed = res[same].groupby(b.loc[same, "community_id"].astype(str).to_numpy()).sum()
    ids = old["community_id"].astype(str)
    names = old["name"].astype(str) if "name" in old else ids
    return gpd.GeoDataFrame(
        {
            "community_id": ids.to_numpy(),
            "name": names.to_numpy(),
            "residents_before": ids.map(before).fillna(0).astype("int64").to_numpy(),
            "residents_after": ids.map(after).fillna(0).astype("int64").to_numpy(),
            "residents_stayed": ids.map(stayed).fillna(0).astype("int64").to_numpy(),
        },
        geometry=old.geometry.to_numpy(),
        crs=old.crs,
    )


def centre_points(
    centres: pd.DataFrame,
    facilities: gpd.GeoDataFrame | None,
    sites: gpd.GeoDataFrame | None,
) -> gpd.GeoDataFrame | None:
    """Where each community's service centre (or, without one, its best candidate or the
    proposed point of the walk network) stands: community_id, centre_id, status, geometry (a
    point); ``None`` without any. The centres' lon/lat are used where given, else the
    facility's or site's own place."""
    where: dict[str, Any] = {}
    crs = None
    for frame, col in ((sites, "site_id"), (facilities, "facility_id")):
        if frame is not None and len(frame):
            crs = crs or frame.crs
            pts = frame.to_crs(crs).geometry.representative_point()
            where |= dict(zip(frame[col].astype(str), pts, strict=True))
    if "lon" in centres and "lat" in centres:
        crs = crs or "EPSG:4326"
        have = centres["lon"].notna() & centres["lat"].notna()
        ids = [
            str(a or b or "")
            for a, b in zip(centres["centre_id"], centres["best_candidate_id"], strict=True)
        ]
        pts = gpd.GeoSeries(
            gpd.points_from_xy(centres["lon"][have], centres["lat"][have]), crs="EPSG:4326"
        ).to_crs(crs)
        where |= dict(zip([i for i, h in zip(ids, have, strict=True) if h], pts, strict=True))
    rows = []
    for r in centres.itertuples(index=False):
        cid = str(r.centre_id or r.best_candidate_id or "")
        if cid in where:
            rows.append(
                {
                    "community_id": r.community_id,
                    "centre_id": cid,
                    "status": r.status,
                    "residents_served": int(
                        str(r.residents_served or r.best_candidate_served or 0)
                    ),
                    "geometry": where[cid],
                }
            )
    if not rows:
        return None
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def communities_to_dataset(
    dataset: str | Path,
    out: str | Path,
    *,
    grids: str | Path | None = None,
    files: str | Path | None = None,
    config: Config | None = None,
    offset: str | None = None,
    overwrite: bool = False,
    lang: str = "zh",
    progress: Callable[[str], None] | None = None,
) -> CommunityRun:
    """Re-draw the communities of ``dataset`` and write the new dataset and its report.

    Parameters
    ----------
    dataset
        The sub-district's dataset (a folder, a GeoPackage or a PostgreSQL URL).
    out
        The new dataset: a folder, a path ending ``.gpkg`` for one GeoPackage, or a
        PostgreSQL URL ``postgresql://…?schema=NAME`` (the layers become the tables of that
        schema, written in one transaction; the report then goes to ``files``).
    grids
        An old plan's folder (or its ``plan.gpkg``): its grids are kept whole.
    files
        With a database ``out``: the folder for the report and map.
    config
        ``[communities]`` target, bounds, sub-district id, service radius; seed.
    offset
        ``"gcj02"`` / ``"bd09"`` input (the output is then plain WGS84).
    overwrite
        Replace an existing output (else :class:`OutputExistsError`, nothing touched).
    lang
        Language of the report and map.
    progress
        Called with one line per step.

    Returns
    -------
    CommunityRun
        The plan, the service centres and the paths written.

    Raises
    ------
    OutputExistsError
        ``out`` (or its report folder) exists and ``overwrite`` is false.
    DataError
        Unreadable or invalid input, or an unreadable ``grids`` plan.
    """
    cfg = config or DEFAULT
    say = progress or (lambda _m: None)
    where = parse_database_url(str(out)) if is_database_url(out) else None
    if where is not None:
        if files is None:
            msg = (
                "--out postgresql://…: give --files DIR, the folder for the report and map "
                "(a schema holds only the dataset's tables)"
            )
            raise ConfigError(msg)
        check_plan_schema(where, overwrite=overwrite, what="dataset")  # before any work
        rep = Path(files)
        check_output_dir(rep, overwrite=overwrite)
    else:
        if files is not None:
            msg = "--files goes with a database --out (postgresql://…); a folder holds the report"
            raise ConfigError(msg)
        out = Path(out)
        rep = report_folder(out)
        for target in (out, rep):
            if target.exists() and not overwrite:
                msg = (
                    f"{target} already exists; pass --overwrite to replace it (nothing was changed)"
                )
                raise OutputExistsError(msg)
        if not is_gpkg_path(out):
            check_output_dir(out, overwrite=overwrite)
    raw = read_dataset(dataset, offset=offset)
    ds = load_dataset(dataset, offset=offset, config=cfg)
    had_old = "communities" in raw.layers
    comms = ds.layer("communities")
    buildings = ds.layer("buildings")
    if buildings is None or comms is None:  # load_dataset guarantees both
        msg = f"{shown(str(dataset))}: no buildings; give a dataset with a buildings layer"
        raise DataError(msg)
    rawb = raw.layers["buildings"]
    if "population" in rawb:  # a population preparation derived from households is not given
        given = pd.to_numeric(rawb["population"], errors="coerce")
        given_of = dict(zip(rawb["building_id"].astype(str), given.notna(), strict=True))
        keep = buildings["building_id"].astype(str).map(given_of).fillna(False).astype(bool)
        buildings = buildings.assign(population=buildings["population"].where(keep))
    else:
        buildings = buildings.assign(population=np.nan)
    old_grids = _old_grids(grids) if grids is not None else None
    say(
        f"re-drawing {len(buildings)} buildings into communities of about "
        f"{cfg.communities.target_residents} residents …"
    )
    area = None if had_old else comms.geometry.iloc[0]
    plan = redraw_communities(
        buildings,
        area=area,
        old_communities=comms if had_old else None,
        old_grids=old_grids,
        roads=ds.layer("roads"),
        barriers=ds.layer("barriers"),
        config=cfg,
    )
    for flag in plan.flags:
        log.warning(flag)
    roads = ds.layer("roads")
    network = (
        build_walk_network(roads, barriers=ds.layer("barriers"), config=cfg)
        if roads is not None and len(roads)
        else None
    )
    say("placing the party-mass service centres …")
    centres = place_service_centres(
        plan.communities,
        plan.buildings,
        facilities=ds.layer("facilities"),
        sites=ds.layer("sites"),
        network=network,
        config=cfg,
    )
    new_comm = plan.communities.merge(
        centres[["community_id", "centre_id"]], on="community_id", how="left"
    ).rename(columns={"centre_id": "service_centre_id"})
    cols = [
        "community_id",
        "name",
        "households_total",
        "population_total",
        "service_centre_id",
        "n_buildings",
        "old_community_id",
        "kept",
        "geometry",
    ]
    new_comm = gpd.GeoDataFrame(new_comm[cols], geometry="geometry", crs=plan.communities.crs)
    new_comm = new_comm.to_crs(raw.crs)
    new_of = dict(zip(plan.buildings["building_id"], plan.buildings["community_id"], strict=True))
    layers: dict[str, Any] = dict(raw.layers)
    rb = layers["buildings"].copy()
    rb["community_id"] = rb["building_id"].astype(str).map(new_of)
    layers["buildings"] = rb
    layers["communities"] = new_comm
    if had_old:
        layers["communities_old"] = old_layer(raw.layers["communities"], plan).to_crs(raw.crs)
    if where is not None:  # one transaction: a failure leaves the schema as it was
        write_dataset_postgis(layers, where, overwrite=overwrite)
    else:
        with atomic_output(Path(out), overwrite=overwrite) as tmp:
            for name, frame in layers.items():
                _write_layer(tmp, name, frame)
    params = {"seed": cfg.seed, "communities": cfg.to_dict()["communities"]}
    report = community_report(plan, centres, parameters=params)
    report["metrics"].pop("seconds", None)  # reports are byte-identical run to run
    with atomic_output_dir(rep, overwrite=overwrite) as tmp_rep:
        write_community_report(report, tmp_rep, lang=lang)
        write_community_map(
            plan,
            old_layer(comms, plan) if had_old else None,
            centres,
            tmp_rep / "communities_map.html",
            lang=lang,
            centre_points=centre_points(centres, ds.layer("facilities"), ds.layer("sites")),
            barriers=barrier_lines(
                shapely.union_all(np.asarray(plan.communities.geometry.array)),
                roads=ds.layer("roads"),
                barriers=ds.layer("barriers"),
                barrier_road_classes=cfg.grids.barrier_road_classes,
            ),
        )
        plan.moves.to_csv(tmp_rep / "moves.csv", index=False, lineterminator="\n")
        centres.to_csv(tmp_rep / "service_centres.csv", index=False, lineterminator="\n")
    written = where.masked if where else out
    say(f"wrote {written} ({len(new_comm)} communities) and its report in {rep}")
    return CommunityRun(
        plan=plan, centres=centres, dataset=where.masked if where else Path(out), report=rep
    )
