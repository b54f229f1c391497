"""Hand edits: buildings moved between grids, grids locked, the rest re-optimised.

Checked on the town's plan with independent computations: which buildings each grid polygon
covers (shapely), grid areas against the community's, households conserved.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridplan._errors import DataError
from gridplan.partition.edits import apply_edits, check_edits


@pytest.fixture(scope="module")
def base(town_dataset, town_plan):
    """The town plan's grids and buildings, and the dataset they were planned from."""
    return town_plan.grids, town_plan.buildings, town_dataset


def _kw(ds):
    L = ds.layers
    return {
        "current": L["buildings"],
        "communities": L["communities"],
        "roads": L.get("roads"),
        "barriers": L.get("barriers"),
    }


def _neighbour_pairs(grids, buildings) -> list[tuple[str, str, str]]:
    """(building, its grid, another grid) for buildings with households whose nearest building
    of another grid of the community is within 25 m, nearest first: plausible hand moves."""
    b = buildings[buildings["households"] > 0].reset_index(drop=True)
    tree = shapely.STRtree(np.asarray(b.geometry.values))
    i, j = tree.query(np.asarray(b.geometry.values), predicate="dwithin", distance=25.0)
    rows = []
    for a, c in zip(i.tolist(), j.tolist(), strict=True):
        if b["grid_id"][a] != b["grid_id"][c] and b["community_id"][a] == b["community_id"][c]:
            d = float(b.geometry[a].distance(b.geometry[c]))
            rows.append((d, str(b["building_id"][a]), str(b["grid_id"][a]), str(b["grid_id"][c])))
    rows.sort()
    seen, out = set(), []
    for _, bid, g_from, g_to in rows:
        if bid not in seen:
            seen.add(bid)
            out.append((bid, g_from, g_to))
    return out


def _covers_its_buildings(grids, buildings) -> float:
    """Share of buildings whose representative point lies in their grid's polygon."""
    geo = grids.set_index("grid_id").geometry
    pts = shapely.point_on_surface(np.asarray(buildings.geometry.values))
    own = np.asarray([geo[g] for g in buildings["grid_id"]], dtype=object)
    return float(shapely.covers(shapely.buffer(own, 0.01), pts).mean())


def test_a_move_redraws_only_the_two_grids(base):
    grids, buildings, ds = base
    bid, g_from, g_to = _neighbour_pairs(grids, buildings)[0]
    edits = pd.DataFrame({"building_id": [bid], "grid_id": [g_to], "reason": ["gate"]})
    done = apply_edits(grids, buildings, edits, **_kw(ds))
    new = done.result
    assert new.buildings.set_index("building_id").loc[bid, "grid_id"] == g_to
    assert set(done.touched) == {g_from, g_to}
    old_geo, new_geo = grids.set_index("grid_id"), new.grids.set_index("grid_id")
    for gid in old_geo.index.difference([g_from, g_to]):
        assert new_geo.geometry[gid].equals(old_geo.geometry[gid]), gid
    hh = int(buildings.set_index("building_id").loc[bid, "households"])
    assert new_geo.loc[g_to, "households"] == old_geo.loc[g_to, "households"] + hh
    assert new_geo.loc[g_from, "households"] == old_geo.loc[g_from, "households"] - hh
    assert _covers_its_buildings(new.grids, new.buildings) == 1.0
    assert done.moved["building_id"].tolist() == [bid]
    assert done.edits[["building_id", "from_grid_id", "grid_id"]].values.tolist() == [
        [bid, g_from, g_to]
    ]


def _overfill(grids, buildings):
    """Every building of one grid moved into a touching grid of the same face: over the
    maximum of 500 households."""
    _bid, g_from, g_to = _neighbour_pairs(grids, buildings)[0]
    mine = buildings.loc[buildings["grid_id"] == g_from, "building_id"].astype(str)
    edits = pd.DataFrame({"building_id": list(mine), "grid_id": g_to})
    return edits, g_from, g_to


def test_an_overfilled_grid_is_flagged_not_fixed(base):
    grids, buildings, ds = base
    edits, g_from, g_to = _overfill(grids, buildings)
    done = apply_edits(grids, buildings, edits, **_kw(ds))
    g = done.result.grids.set_index("grid_id")
    total = int(grids.set_index("grid_id").loc[[g_from, g_to], "households"].sum())
    assert g_from not in g.index  # emptied: its territory went to the grid that took it over
    assert int(g.loc[g_to, "households"]) == total > 500
    assert any(g_to in f and "500" in f for f in done.result.flags), done.result.flags


def test_locked_grids_keep_every_building_when_the_rest_is_reoptimised(base):
    grids, buildings, ds = base
    edits, _g_from, g_to = _overfill(grids, buildings)
    manual = apply_edits(grids, buildings, edits, **_kw(ds))
    # lock a grid beside the overfilled one, then re-optimise the rest
    touching = [
        str(x)
        for x, geom in zip(
            manual.result.grids["grid_id"], manual.result.grids.geometry, strict=True
        )
        if x != g_to
        and geom.intersection(manual.result.grids.set_index("grid_id").geometry[g_to]).length > 1
    ]
    lock = touching[0]
    before = set(
        manual.result.buildings.loc[manual.result.buildings["grid_id"] == lock, "building_id"]
    )
    from gridplan.partition import replan_grids

    again = replan_grids(
        manual.result.buildings,
        manual.result.grids,
        ds.layers["buildings"],
        ds.layers["communities"],
        roads=ds.layers.get("roads"),
        barriers=ds.layers.get("barriers"),
        locks=[lock],
    )
    after = set(again.buildings.loc[again.buildings["grid_id"] == lock, "building_id"])
    assert after == before
    g = again.grids.set_index("grid_id")
    assert g.geometry[lock].equals(manual.result.grids.set_index("grid_id").geometry[lock])
    assert int(g["households"].max()) <= 500 or any("locked" in f for f in again.flags)
    assert g_to in again.changed_grids  # the overfilled grid was re-planned


def test_reoptimise_in_one_call_keeps_locks(base):
    grids, buildings, ds = base
    edits, g_from, g_to = _overfill(grids, buildings)
    far = sorted(set(grids["grid_id"]) - {g_from, g_to})[-1]
    done = apply_edits(grids, buildings, edits, locks=[far], reoptimise=True, **_kw(ds))
    b0 = set(buildings.loc[buildings["grid_id"] == far, "building_id"])
    b1 = set(done.result.buildings.loc[done.result.buildings["grid_id"] == far, "building_id"])
    assert b0 == b1
    assert int(done.result.grids["households"].max()) <= 500


def test_bad_edits_are_refused_all_at_once(base):
    grids, buildings, _ = base
    other_comm = grids.loc[grids["community_id"] != buildings["community_id"].iloc[0], "grid_id"]
    edits = pd.DataFrame(
        {
            "building_id": ["NOPE", str(buildings["building_id"].iloc[0]), "B00388"],
            "grid_id": ["C01-001", str(other_comm.iloc[0]), "ZZ-999"],
        }
    )
    with pytest.raises(DataError) as err:
        check_edits(edits, buildings, grids)
    text = str(err.value)
    assert "row 2" in text and "row 4" in text and "another community" in text
    locked = str(buildings["grid_id"].iloc[0])
    b2 = buildings[buildings["grid_id"] != locked].iloc[0]
    with pytest.raises(DataError, match="locked grid"):
        check_edits(
            pd.DataFrame({"building_id": [b2["building_id"]], "grid_id": [locked]}),
            buildings,
            grids,
            locks=[locked],
        )


@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=3))
def test_any_neighbour_move_keeps_the_plan_whole(base, start, count):
    """Moves of buildings to a touching grid: every building still lies in its grid, grids
    still tile the communities' land (areas), households are conserved."""
    grids, buildings, ds = base
    pairs = _neighbour_pairs(grids, buildings)
    pick = pairs[start % len(pairs) : start % len(pairs) + count]
    edits = pd.DataFrame({"building_id": [p[0] for p in pick], "grid_id": [p[2] for p in pick]})
    new = apply_edits(grids, buildings, edits, **_kw(ds)).result
    assert _covers_its_buildings(new.grids, new.buildings) == 1.0
    assert int(new.grids["households"].sum()) == int(grids["households"].sum())
    assert abs(float(new.grids.area.sum()) - float(grids.area.sum())) < 1.0
    union = shapely.union_all(np.asarray(new.grids.geometry.values))
    assert abs(union.area - float(new.grids.area.sum())) < 1.0  # no overlaps


def test_replan_applies_an_edits_file_from_the_cli(town_plan_dir, town_path, tmp_path):
    from gridplan.output.planfile import read_plan

    old = read_plan(town_plan_dir)
    pairs = _neighbour_pairs(old.grids.to_crs(32649), old.buildings.to_crs(32649))
    bid, g_from, g_to = pairs[0]
    path = tmp_path / "edits.csv"
    path.write_text(f"building_id,grid_id,reason\n{bid},{g_to},gate on its street\n", "utf-8")
    out = tmp_path / "edited"
    lock = sorted(set(old.grids["grid_id"]) - {g_from, g_to})[0]
    r = _replan(town_plan_dir, town_path, out, path, "--locks", lock, "--lang", "en")
    assert r.exit_code == 0, r.output
    new = read_plan(out)
    assert new.buildings.set_index("building_id").loc[bid, "grid_id"] == g_to
    log = new.layers["edits"]
    assert log[["building_id", "from_grid_id", "grid_id"]].values.tolist() == [[bid, g_from, g_to]]
    assert log["reason"].tolist() == ["gate on its street"]
    assert new.metadata["replan"]["locked_grids"] == [lock]
    # kept exactly (up to the round trip of the coordinates through the plan's CRS)
    a = new.grids.set_index("grid_id").geometry[lock]
    b = old.grids.set_index("grid_id").geometry[lock]
    assert shapely.equals_exact(a, b, tolerance=1e-9)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"building_id,grid_id\n{bid},NOPE-1\n", "utf-8")
    r2 = _replan(town_plan_dir, town_path, tmp_path / "x", bad)
    assert r2.exit_code == 1 and "row 2" in r2.output and not (tmp_path / "x").exists()


def _replan(plan_dir, dataset, out, edits, *extra: str):
    """``gridplan replan PLAN DATASET --out OUT --edits EDITS [extra…]``, run in process."""
    from gridplan.cli import main

    args = ["replan", str(plan_dir), str(dataset), "--out", str(out), "--edits", str(edits)]
    return CliRunner().invoke(main, [*args, *extra])


def _seqs(ids, community):
    """Code numbers of a community's grids, read independently of the code under test."""
    out = []
    for g in ids:
        head, _, tail = str(g).rpartition("-")
        if head == community and tail.isdigit():
            out.append(int(tail))
    return out


def test_a_split_makes_a_new_grid_coded_next_in_the_scheme(base):
    from gridplan.partition.edits import split_edits

    grids, buildings, ds = base
    og = grids.set_index("grid_id").geometry
    clean = 0
    for gid in grids.sort_values(["households", "grid_id"])["grid_id"].iloc[::-1][:3]:
        comm = grids.set_index("grid_id")["community_id"][gid]
        mine = buildings[buildings["grid_id"] == gid]
        xy = shapely.get_coordinates(shapely.centroid(mine.geometry.to_numpy()))
        for axis in (0, 1):
            half = sorted(mine["building_id"][xy[:, axis] < np.median(xy[:, axis])])
            e = split_edits(buildings, grids, half)
            code = e["grid_id"].iloc[0]
            assert code == f"{comm}-{max(_seqs(grids['grid_id'], comm)) + 1:03d}"
            res = apply_edits(grids, buildings, e, **_kw(ds)).result
            rb = res.buildings.set_index("building_id")["grid_id"]
            assert (rb[half] == code).all()
            rg = res.grids.set_index("grid_id")
            assert int(rg["households"].sum()) == int(grids["households"].sum())
            # other grids kept exactly
            others = sorted(set(grids["grid_id"]) - {gid})
            assert all(rg.geometry[g].equals(og[g]) for g in others)
            rest = sorted(set(mine["building_id"]) - set(half))
            if not (rb[rest] == gid).all():
                # the rest fell apart: pieces cut off become grids of their own (shown)
                assert len(rg) > len(grids) + 1
                continue
            clean += 1
            a, b = rg.geometry[gid], rg.geometry[code]
            assert a.intersection(b).area < 1.0  # the two halves do not overlap
            assert a.union(b).area == pytest.approx(og[gid].area, rel=1e-3)  # and tile it
            assert len(rg) == len(grids) + 1
    assert clean, "no grid split in two halves cleanly"


def test_a_merge_retires_a_grid_and_its_neighbour_holds_both(base):
    from gridplan.partition.edits import merge_edits

    grids, buildings, ds = base
    g = grids.set_index("grid_id")
    pairs = sorted(
        (a, c)
        for a in g.index
        for c in g.index
        if a < c
        and g["community_id"][a] == g["community_id"][c]
        and g.geometry[a].intersection(g.geometry[c]).length > 50
    )
    assert pairs
    merged = 0
    for a, c in pairs[:6]:
        keep, gone = (a, c) if g["households"][a] >= g["households"][c] else (c, a)
        res = apply_edits(grids, buildings, merge_edits(buildings, keep, gone), **_kw(ds)).result
        rb = res.buildings.set_index("building_id")["grid_id"]
        both = buildings[buildings["grid_id"].isin([keep, gone])]["building_id"]
        if gone in set(res.grids["grid_id"]):
            pytest.fail(f"merging {gone} into {keep} kept {gone}")
        if not (rb[both] == keep).all():
            # a barrier between them: the engine draws one grid per side (a new code)
            assert len(set(rb[both])) == 2
            continue
        merged += 1
        assert len(res.grids) == len(grids) - 1
        hh = res.grids.set_index("grid_id")["households"][keep]
        assert hh == g["households"][keep] + g["households"][gone]
    assert merged, "no neighbouring pair could be merged without crossing a barrier"


def test_a_new_grid_must_follow_the_code_scheme(base):
    grids, buildings, _ds = base
    b = buildings.iloc[0]
    other = sorted(set(grids["community_id"]) - {b["community_id"]})[0]
    bad = pd.DataFrame(
        {"building_id": [b["building_id"]] * 2, "grid_id": ["NEW-1", f"{other}-099"]}
    )
    with pytest.raises(DataError, match=r"row 2, row 3.*scheme"):
        check_edits(bad, buildings, grids)
    good = pd.DataFrame(
        {"building_id": [b["building_id"]], "grid_id": [f"{b['community_id']}-099"]}
    )
    assert check_edits(good, buildings, grids)["grid_id"].tolist() == [f"{b['community_id']}-099"]


def test_replan_makes_a_new_grid_from_an_edits_file(town_plan_dir, town_path, tmp_path):
    from gridplan.output.planfile import read_plan

    old = read_plan(town_plan_dir)
    gid = old.grids.sort_values(["households", "grid_id"]).iloc[-1]["grid_id"]
    comm = old.grids.set_index("grid_id")["community_id"][gid]
    mine = old.buildings[old.buildings["grid_id"] == gid].to_crs(32649)
    y = mine.geometry.centroid.y
    north = sorted(mine["building_id"][y > y.median()])
    code = f"{comm}-{max(_seqs(old.grids['grid_id'], comm)) + 1:03d}"
    path = tmp_path / "split.csv"
    path.write_text(
        "building_id,grid_id\n" + "".join(f"{b},{code}\n" for b in north), encoding="utf-8"
    )
    out = tmp_path / "split"
    # (re-optimised, the rest may re-balance the new grid)
    r = _replan(town_plan_dir, town_path, out, path, "--no-reoptimise")
    assert r.exit_code == 0, r.output
    new = read_plan(out)
    nb = new.buildings.set_index("building_id")["grid_id"]
    assert (nb[north] == code).all()
    assert code in set(new.grids["grid_id"]) and len(new.grids) == len(old.grids) + 1
