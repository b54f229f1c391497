"""What a grid's notice board (网格公示牌) says: staff, units, facilities within reach.

Pure data, no drawing: :func:`board_contents` turns a plan into one :class:`Board` per grid,
which :mod:`gridplan.output.boards.draw` lays out on paper. Phones are masked here, once: a
board is pinned up in public, so it shows a masked phone per person, or only the public duty
phone a planner gives instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from gridplan._errors import ConfigError, DataError
from gridplan._text import format_ids
from gridplan.i18n import LANGS, category_label, label
from gridplan.output.planfile import Plan
from gridplan.output.rosters import cell_text, grid_workers
from gridplan.privacy import mask_phone

__all__ = [
    "Board",
    "BoardPerson",
    "BoardUnit",
    "board_contents",
    "board_people",
    "duty_phones",
    "grid_number",
    "homes",
    "staff_from_rosters",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoardPerson:
    """One person as a board shows them: name and masked phone (``""`` when none)."""

    person_id: str
    name: str
    phone: str


@dataclass(frozen=True)
class BoardUnit:
    """One ten-household unit: its id, households and head (``None`` when the post is vacant)."""

    unit_id: str
    households: int
    head: BoardPerson | None


#: Per tier: (category in words, names of its facilities within reach), by category.
Reach = dict[str, list[tuple[str, list[str]]]]


@dataclass(frozen=True)
class Board:
    """Everything one grid's notice board shows (see :func:`board_contents`)."""

    grid_id: str
    community_id: str
    community_name: str
    name: str
    households: int
    population: int | None
    n_buildings: int | None
    head: BoardPerson | None
    workers: list[BoardPerson]
    duty_phone: str | None
    units: list[BoardUnit]
    #: tier -> (category, facility names) within that many walking minutes of the grid's homes
    facilities: Reach = field(default_factory=dict)
    #: tier -> categories no household of the grid reaches within that tier
    missing: dict[str, list[str]] = field(default_factory=dict)
    #: building id of the grid head's home, only when the planner allows showing it
    head_home: str | None = None


def _nonempty(plan: Plan, name: str) -> pd.DataFrame | None:
    df = plan.layers.get(name)
    return None if df is None or len(df) == 0 else df


def _int(value: object) -> int | None:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return None if pd.isna(number) else round(float(number))


def grid_number(grid_id: str) -> str:
    """The grid's number within its community: ``C01-007`` -> ``7`` (the id when it has none)."""
    match = re.search(r"(\d+)$", grid_id)
    return str(int(match.group(1))) if match else grid_id


def _public_phone(phone: str) -> str:
    """A phone as a board may show it: masked, unless it is masked already (a roster's)."""
    return phone if "*" in phone else mask_phone(phone)


def board_people(plan: Plan, people: pd.DataFrame | None = None) -> dict[str, BoardPerson]:
    """Person id -> :class:`BoardPerson` (phones masked), and the people's homes.

    Parameters
    ----------
    plan
        The plan; its ``people`` layer is used when it has one.
    people
        A ``people`` layer (``person_id``, ``name``, ``phone``; from the dataset) used when
        the plan has none.

    Returns
    -------
    dict
        Empty when neither gives names: the boards then show person ids.
    """
    table = _nonempty(plan, "people")
    if table is None:
        table = people if people is not None and len(people) else None
    if table is None or "person_id" not in table.columns:
        return {}
    out: dict[str, BoardPerson] = {}
    names = table["name"] if "name" in table.columns else table["person_id"]
    phones = table["phone"] if "phone" in table.columns else pd.Series("", index=table.index)
    for pid, name, phone in zip(table["person_id"], names, phones, strict=True):
        key = cell_text(pid)
        out[key] = BoardPerson(key, cell_text(name) or key, _public_phone(cell_text(phone)))
    return out


def homes(plan: Plan, people: pd.DataFrame | None = None) -> dict[str, str]:
    """Person id -> building id of their home (from the plan's or the given ``people``)."""
    table = _nonempty(plan, "people")
    if table is None:
        table = people if people is not None and len(people) else None
    if table is None or not {"person_id", "building_id"} <= set(table.columns):
        return {}
    return {
        cell_text(p): cell_text(b)
        for p, b in zip(table["person_id"], table["building_id"], strict=True)
        if cell_text(b)
    }


def duty_phones(values: list[str] | tuple[str, ...], plan: Plan) -> dict[str, str]:
    """Grid id -> public duty phone, from ``PHONE`` (every grid) or ``ID=PHONE`` items.

    ``ID`` is a grid id or a community id (its grids); a grid's own item wins over its
    community's, which wins over a bare ``PHONE``.

    Raises
    ------
    ConfigError
        An ``ID`` that is neither a grid nor a community of the plan, or an empty phone.
    """
    grids = _nonempty(plan, "grids")
    if not values or grids is None:
        return {}
    gids = [cell_text(g) for g in grids["grid_id"]]
    cids = [cell_text(c) for c in grids.get("community_id", pd.Series("", index=grids.index))]
    every, by_comm, by_grid = "", {}, {}
    unknown = []
    for raw in values:
        key, sep, phone = str(raw).partition("=")
        if not sep:
            key, phone = "", key
        key, phone = key.strip(), phone.strip()
        if not phone:
            msg = f"print: duty phone {raw!r} is empty; give PHONE or GRID_ID=PHONE"
            raise ConfigError(msg)
        if not key:
            every = phone
        elif key in gids:
            by_grid[key] = phone
        elif key in cids:
            by_comm[key] = phone
        else:
            unknown.append(key)
    if unknown:
        msg = (
            f"print: duty phone for unknown grid or community id(s) {format_ids(unknown)}; "
            f"the plan has grids such as {format_ids(sorted(gids), 3)}"
        )
        raise ConfigError(msg)
    out = {}
    for gid, cid in zip(gids, cids, strict=True):
        phone = by_grid.get(gid) or by_comm.get(cid) or every
        if phone:
            out[gid] = phone
    return out


def _tier_minutes(tier: str) -> int:
    digits = "".join(ch for ch in str(tier) if ch.isdigit())
    return int(digits) if digits else 0


def _homes_in_grids(plan: Plan) -> gpd.GeoDataFrame | None:
    """Residential buildings (households > 0) with grid_id, as points."""
    b = plan.layers.get("buildings")
    if not isinstance(b, gpd.GeoDataFrame) or "grid_id" not in b.columns or not len(b):
        return None
    hh = pd.to_numeric(b.get("households", pd.Series(1, index=b.index)), errors="coerce")
    b = b[(hh.fillna(0) > 0).to_numpy() & b.geometry.notna().to_numpy()]
    points = b.geometry.representative_point()
    return gpd.GeoDataFrame(
        {
            "building_id": b["building_id"].astype(str).to_numpy(),
            "grid_id": b["grid_id"].astype(str).to_numpy(),
        },
        geometry=points.to_numpy(),
        crs=b.crs,
    )


def _reach(plan: Plan, lang: str) -> tuple[dict[str, Reach], dict[str, dict[str, list[str]]]]:
    """Grid -> tier -> (category, facility names) whose catchment holds a home of the grid;
    and grid -> tier -> categories no home of the grid reaches (from ``coverage``)."""
    reached: dict[str, Reach] = {}
    missing: dict[str, dict[str, list[str]]] = {}
    homes_gdf = _homes_in_grids(plan)
    catch = plan.layers.get("catchments")
    facilities = plan.layers.get("facilities")
    if (
        homes_gdf is not None
        and isinstance(catch, gpd.GeoDataFrame)
        and len(catch)
        and {"facility_id", "tier"} <= set(catch.columns)
    ):
        names: dict[str, str] = {}
        if facilities is not None and "facility_id" in facilities.columns:
            fnames = facilities["name"] if "name" in facilities.columns else facilities.iloc[:, 0]
            names = {
                cell_text(f): cell_text(n)
                for f, n in zip(facilities["facility_id"], fnames, strict=True)
            }
        c = catch[["facility_id", "tier", "category", catch.geometry.name]].copy()
        c = c.to_crs(homes_gdf.crs) if c.crs is not None and homes_gdf.crs is not None else c
        left, right = shapely.STRtree(c.geometry.to_numpy()).query(
            homes_gdf.geometry.to_numpy(), predicate="within"
        )
        pairs = pd.DataFrame(
            {
                "grid_id": homes_gdf["grid_id"].to_numpy()[left],
                "facility_id": c["facility_id"].astype(str).to_numpy()[right],
                "tier": c["tier"].astype(str).to_numpy()[right],
                "category": c["category"].astype(str).to_numpy()[right],
            }
        ).drop_duplicates()
        pairs = pairs.sort_values(["grid_id", "tier", "category", "facility_id"])
        for key, fids in pairs.groupby(["grid_id", "tier", "category"], sort=True)["facility_id"]:
            gid, tier, cat = (str(x) for x in key)
            listed = [names.get(f) or f for f in fids]
            reached.setdefault(gid, {}).setdefault(tier, []).append(
                (category_label(cat, lang), listed)
            )
    cov = plan.layers.get("coverage")
    if homes_gdf is not None and cov is not None and len(cov) and "tier" in cov.columns:
        grid_of = dict(zip(homes_gdf["building_id"], homes_gdf["grid_id"], strict=True))
        c2 = pd.DataFrame(
            {
                "grid_id": cov["building_id"].astype(str).map(grid_of),
                "tier": cov["tier"].astype(str),
                "category": cov["category"].astype(str),
                "covered": cov["covered"].fillna(False).astype(bool),
            }
        ).dropna(subset=["grid_id"])
        anyc = c2.groupby(["grid_id", "tier", "category"])["covered"].any().reset_index()
        for gid, tier, cat, ok in anyc.itertuples(index=False):
            if not ok:
                missing.setdefault(gid, {}).setdefault(tier, []).append(category_label(cat, lang))
    return reached, missing


def board_contents(
    plan: Plan,
    *,
    lang: str = "zh",
    people: pd.DataFrame | None = None,
    duty_phone: Mapping[str, str] | None = None,
    show_head_home: bool = False,
) -> list[Board]:
    """One :class:`Board` per grid of ``plan``, in grid id order.

    Parameters
    ----------
    plan
        A plan with ``grids`` (``units``, ``assignments``, ``catchments``, ``facilities`` and
        ``coverage`` are used when present).
    lang
        ``"zh"`` or ``"en"`` (grid names and facility categories).
    people
        The dataset's ``people`` layer, for names and phones when the plan has none.
    duty_phone
        Grid id -> a public duty phone (:func:`duty_phones`): such a board shows names only
        and this number, no personal phone.
    show_head_home
        Mark the grid head's home (only with the planner's consent: it is personal data).

    Raises
    ------
    DataError
        The plan has no grids; or ``show_head_home`` without the people's homes.
    """
    if lang not in LANGS:
        msg = f"print: unknown language {lang!r}; choose one of {', '.join(LANGS)}"
        raise ConfigError(msg)
    grids = _nonempty(plan, "grids")
    if grids is None or "grid_id" not in grids.columns:
        msg = "print: the plan has no grids; run `gridplan run` (or `gridplan partition`) first"
        raise DataError(msg)
    directory = board_people(plan, people)
    home_of = homes(plan, people) if show_head_home else {}
    if show_head_home and not home_of:
        msg = (
            "print: --show-head-home needs where people live (the people layer's building_id), "
            "which the plan folder does not hold; give the DATASET the plan was made from"
        )
        raise DataError(msg)
    duty = dict(duty_phone or {})
    workers = grid_workers(plan)
    comm_names: dict[str, str] = {}
    communities = _nonempty(plan, "communities")
    if communities is not None and "name" in communities.columns:
        comm_names = {
            cell_text(c): cell_text(n)
            for c, n in zip(communities["community_id"], communities["name"], strict=True)
        }
    units_of: dict[str, list[BoardUnit]] = {}
    units = _nonempty(plan, "units")

    def person(pid: str) -> BoardPerson | None:
        if not pid:
            return None
        return directory.get(pid, BoardPerson(pid, pid, ""))

    if units is not None and {"unit_id", "grid_id"} <= set(units.columns):
        heads = units["head_id"] if "head_id" in units.columns else pd.Series("", index=units.index)
        hh = units["households"] if "households" in units.columns else pd.Series(0, units.index)
        order = units.assign(_h=heads, _n=hh).sort_values("unit_id")
        for uid, gid, head, n in zip(
            order["unit_id"], order["grid_id"], order["_h"], order["_n"], strict=True
        ):
            units_of.setdefault(cell_text(gid), []).append(
                BoardUnit(cell_text(uid), _int(n) or 0, person(cell_text(head)))
            )
    reached, missing = _reach(plan, lang)
    if not directory:
        logger.warning(
            "print: the plan holds no names of people; the boards show person ids. Give the "
            "DATASET the plan was made from (its people layer) for names"
        )
    boards = []
    for rec in grids.sort_values("grid_id").to_dict("records"):
        gid = cell_text(rec.get("grid_id"))
        cid = cell_text(rec.get("community_id"))
        cname = comm_names.get(cid, "") or cid
        name = cell_text(rec.get("name")) or label(
            "print.grid_name", lang, community=cname, n=grid_number(gid)
        )
        head = person(cell_text(rec.get("head_id")))
        wids = workers.get(gid, [])
        facilities = {
            t: v
            for t, v in sorted(reached.get(gid, {}).items(), key=lambda kv: _tier_minutes(kv[0]))
        }
        gaps = {
            t: v
            for t, v in sorted(missing.get(gid, {}).items(), key=lambda kv: _tier_minutes(kv[0]))
        }
        boards.append(
            Board(
                grid_id=gid,
                community_id=cid,
                community_name=cname,
                name=name,
                households=_int(rec.get("households")) or 0,
                population=_int(rec.get("population")),
                n_buildings=_int(rec.get("n_buildings")),
                head=head,
                workers=[p for w in wids if (p := person(w)) is not None],
                duty_phone=duty.get(gid),
                units=units_of.get(gid, []),
                facilities=facilities,
                missing=gaps,
                head_home=home_of.get(head.person_id) if head is not None else None,
            )
        )
    return boards


def staff_from_rosters(folder: str | Path) -> pd.DataFrame | None:
    """The ``person_id``, ``name``, ``phone`` of a plan folder's ``rosters/staff.csv`` (its
    headers in either language), or ``None`` when there is no such file."""
    path = Path(folder) / "rosters" / "staff.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    for lang in LANGS:
        cols = {label(k, lang): k for k in ("person_id", "person_name", "phone")}
        if {label("person_id", lang), label("person_name", lang)} <= set(df.columns):
            out = df[[c for c in cols if c in df.columns]].rename(columns=cols)
            out = out.rename(columns={"person_name": "name"}).drop_duplicates("person_id")
            return out.reset_index(drop=True)
    return None
