"""The resident request loop: ledger, deadlines, status rules, dispatcher, safety, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gridplan._errors import ConfigError, DataError
from gridplan.cli import main
from gridplan.i18n import label
from gridplan.requests import (
    TRANSITIONS,
    dispatch_ledger,
    dispatch_requests,
    greedy_dispatch,
    import_requests,
    load_context,
    open_requests_layer,
    read_events,
    read_points,
    read_requests,
    redeem_points,
    update_request,
)
from gridplan.requests.sla import deadline
from gridplan.settings import DEFAULT, RequestSettings, load_config

ROOT = Path(__file__).resolve().parents[1]
TOWN = ROOT / "data" / "town"
NOW = "2024-05-03T09:00+08:00"


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rq") / "plan"
    res = CliRunner().invoke(main, ["-q", "run", str(TOWN), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def ctx(plan_dir: Path):  # type: ignore[no-untyped-def]
    return load_context(plan_dir, TOWN)


@pytest.fixture
def ledger(tmp_path: Path, ctx):  # type: ignore[no-untyped-def]
    path = tmp_path / "l.gpkg"
    import_requests(path, TOWN / "requests.csv", ctx)
    return path


# -- settings and deadlines --------------------------------------------------------------------


def test_sla_defaults_and_overrides() -> None:
    s = RequestSettings()
    assert s.sla["emergency"] == (2.0, "calendar") and s.sla["major"] == (168.0, "calendar")
    cfg = load_config({"requests": {"sla": {"wish": {"major": 336}}}})
    t = pd.Timestamp("2024-05-01T00:00Z")
    assert deadline(t, "wish", "major", cfg.requests) == t + pd.Timedelta(hours=336)
    assert deadline(t, "help", "major", cfg.requests) == t + pd.Timedelta(hours=168)
    with pytest.raises(ConfigError, match="not an urgency"):
        load_config({"requests": {"sla": {"urgentish": 3}}})


def test_working_clock_skips_nights_and_weekends() -> None:
    cfg = load_config({"requests": {"sla": {"general": {"hours": 8, "clock": "working"}}}})
    friday_4pm = pd.Timestamp("2024-05-03T16:00+08:00").tz_convert("UTC")
    due = deadline(friday_4pm, "help", "general", cfg.requests).tz_convert("Asia/Shanghai")
    assert due == pd.Timestamp("2024-05-06T15:00+08:00")  # 1.5 h Friday + 6.5 h Monday


# -- ledger and import --------------------------------------------------------------------------


def test_ledger_is_a_geopackage_gis_tools_open(ledger: Path) -> None:
    layers = dict(pyogrio.list_layers(ledger))
    assert layers["requests"] == "Point"
    gdf = pyogrio.read_dataframe(ledger, layer="requests")
    assert len(gdf) == len(pd.read_csv(TOWN / "requests.csv"))
    assert gdf.crs.to_epsg() == 4326 and gdf.geometry.notna().all()


def test_import_names_every_bad_row_and_imports_nothing(tmp_path: Path, ctx) -> None:  # type: ignore[no-untyped-def]
    raw = pd.read_csv(TOWN / "requests.csv", dtype=str).head(5)
    raw.loc[1, "building_id"] = "NOPE"
    raw.loc[3, "requested_at"] = "2024-05-01 09:00"  # no time zone
    path = tmp_path / "bad.csv"
    raw.to_csv(path, index=False)
    led = tmp_path / "l.gpkg"
    with pytest.raises(DataError) as err:
        import_requests(led, path, ctx)
    text = str(err.value)
    assert "bad.csv row 3" in text and "NOPE" in text
    assert "bad.csv row 5" in text and "no time zone" in text
    # a named time zone makes the zone-less time valid; the unknown building still fails
    with pytest.raises(DataError, match="row 3"):
        import_requests(led, path, ctx, timezone="Asia/Shanghai")
    assert read_requests(led).empty  # created by the first try, still empty


def test_repeated_import_is_refused(ledger: Path, ctx) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match="already in the ledger"):
        import_requests(ledger, TOWN / "requests.csv", ctx)


# -- imports as offices export them ----------------------------------------------------------

_ZH_HEADERS = {
    "request_id": "工单编号",
    "requested_at": "受理时间",
    "service_code": "诉求类别",
    "description": "诉求内容",
    "channel": "来源渠道",
    "kind": "诉求性质",
    "urgency": "紧急程度",
    "building_id": "楼栋编号",
    "requester_name": "联系人",
    "requester_phone": "联系电话",
}


def _office_export(n: int = 30) -> pd.DataFrame:
    """The first ``n`` town requests as an office writes them: Chinese headers and values."""
    from gridplan.settings import REQUEST_VALUE_ALIASES

    raw = pd.read_csv(TOWN / "requests.csv", dtype=str, keep_default_na=False).head(n)
    for col in ("service_code", "channel", "kind", "urgency"):
        back: dict[str, str] = {}
        for word, code in REQUEST_VALUE_ALIASES[col].items():
            back.setdefault(code, word)  # the first word listed for each code
        raw[col] = [back.get(v, v) for v in raw[col]]
    return raw.rename(columns=_ZH_HEADERS)


def _imported(led: Path) -> pd.DataFrame:
    cols = ["request_id", "service_code", "channel", "kind", "urgency", "building_id"]
    return read_requests(led)[cols].sort_values("request_id").reset_index(drop=True)


def test_chinese_headers_and_values_import_like_the_codes(tmp_path: Path, ctx) -> None:  # type: ignore[no-untyped-def]
    raw = pd.read_csv(TOWN / "requests.csv", dtype=str, keep_default_na=False).head(30)
    ref = tmp_path / "ref.gpkg"
    import_requests(ref, raw, ctx)
    zh = _office_export(30)
    assert "养老助老" in set(zh["诉求类别"]) and "工单编号" in zh.columns
    path = tmp_path / "工单导出.csv"
    zh.to_csv(path, index=False, encoding="utf-8-sig")
    led = tmp_path / "zh.gpkg"
    assert len(import_requests(led, path, ctx)) == 30
    pd.testing.assert_frame_equal(_imported(led), _imported(ref))


def test_xlsx_export_imports(tmp_path: Path, ctx) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("openpyxl", reason="the excel extra (openpyxl) is not installed")
    zh = _office_export(20)
    # Excel keeps local times without an offset: the office's zone is given
    zh["受理时间"] = pd.to_datetime(zh["受理时间"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    path = tmp_path / "export.xlsx"
    zh.to_excel(path, index=False)
    led = tmp_path / "x.gpkg"
    with pytest.raises(DataError, match=r"export\.xlsx row 2"):  # no zone: each row named
        import_requests(led, path, ctx)
    assert len(import_requests(led, path, ctx, timezone="Asia/Shanghai")) == 20
    ref = tmp_path / "ref.gpkg"
    import_requests(ref, pd.read_csv(TOWN / "requests.csv", dtype=str).head(20), ctx)
    pd.testing.assert_frame_equal(_imported(led), _imported(ref))
    times = read_requests(led).sort_values("request_id")["requested_at"].tolist()
    assert times == read_requests(ref).sort_values("request_id")["requested_at"].tolist()


def _with_places(n: int, ctx) -> tuple[pd.DataFrame, gpd.GeoSeries]:  # type: ignore[no-untyped-def]
    zh = _office_export(n)
    b = ctx.buildings.set_index("building_id").geometry
    pts = gpd.GeoSeries([b[x] for x in zh["楼栋编号"]], crs=ctx.crs)
    return zh.drop(columns="楼栋编号"), pts


@pytest.mark.parametrize("how", ["geojson", "gpkg_4545", "xy_4545", "lonlat_4490"])
def test_places_in_files_and_other_crs_find_their_buildings(tmp_path: Path, ctx, how: str) -> None:  # type: ignore[no-untyped-def]
    zh, pts = _with_places(15, ctx)
    expect = _office_export(15)["楼栋编号"].tolist()
    crs = None
    if how == "geojson":
        path = tmp_path / "r.geojson"
        gpd.GeoDataFrame(zh, geometry=pts.to_crs(4326).to_numpy(), crs=4326).to_file(path)
    elif how == "gpkg_4545":  # CGCS2000 / 3-degree Gauss-Kruger CM 105E
        path = tmp_path / "r.gpkg"
        gpd.GeoDataFrame(zh, geometry=pts.to_crs(4545).to_numpy(), crs=4545).to_file(path)
    elif how == "xy_4545":
        g = pts.to_crs(4545)
        path = tmp_path / "r.csv"
        zh.assign(横坐标=g.x.round(2), 纵坐标=g.y.round(2)).to_csv(path, index=False)
        crs = "EPSG:4545"
    else:  # CGCS2000 geographic lon/lat under Chinese headers
        g = pts.to_crs(4490)
        path = tmp_path / "r.csv"
        zh.assign(经度=g.x.round(7), 纬度=g.y.round(7)).to_csv(path, index=False)
        crs = "EPSG:4490"
    led = tmp_path / "p.gpkg"
    assert len(import_requests(led, path, ctx, crs=crs)) == 15
    got = read_requests(led).set_index("request_id").loc[_office_export(15)["工单编号"]]
    assert got["building_id"].tolist() == expect


def test_bad_rows_of_an_office_export_are_named_and_nothing_is_imported(
    tmp_path: Path, ctx
) -> None:  # type: ignore[no-untyped-def]
    zh = _office_export(6)
    zh.loc[1, "诉求类别"] = "下水道"  # not a category
    zh.loc[4, "楼栋编号"] = "B99999"
    path = tmp_path / "bad.csv"
    zh.to_csv(path, index=False)
    led = tmp_path / "l.gpkg"
    import_requests(led, _office_export(40).iloc[20:], ctx)  # the ledger holds some already
    before = read_requests(led)
    with pytest.raises(DataError) as err:
        import_requests(led, path, ctx)
    text = str(err.value)
    assert "bad.csv row 3" in text and "'下水道'" in text
    assert "bad.csv row 6" in text and "B99999" in text and "nothing was imported" in text
    pd.testing.assert_frame_equal(read_requests(led), before)
    # two headers meaning one column are refused by name
    two = zh.assign(诉求描述=zh["诉求内容"])
    two.to_csv(path, index=False)
    with pytest.raises(DataError, match="诉求内容 and 诉求描述"):
        import_requests(led, path, ctx)


# -- status rules -----------------------------------------------------------------------------


def test_status_rules_refuse_and_change_nothing(ledger: Path) -> None:
    before = read_requests(ledger)
    with pytest.raises(DataError, match="cannot go from classified to closed"):
        update_request(ledger, "R00001", "closed", at=NOW)
    with pytest.raises(DataError, match="no request R99999"):
        update_request(ledger, "R99999", "accepted", at=NOW)
    with pytest.raises(DataError, match="not in the roster"):
        update_request(ledger, "R00001", "dispatched", person_id="X1", people={"P00001"}, at=NOW)
    update_request(ledger, "R00001", "dispatched", person_id="P00001", at=NOW)
    update_request(ledger, "R00001", "accepted", at=NOW)
    with pytest.raises(DataError, match="resolution is needed"):
        update_request(ledger, "R00001", "resolved", at=NOW)
    update_request(ledger, "R00001", "resolved", resolution="explained", hours=2, at=NOW)
    row = read_requests(ledger).set_index("request_id").loc["R00001"]
    assert pd.Timestamp(row["revisit_due"]) == pd.Timestamp(NOW) + pd.Timedelta(hours=72)
    with pytest.raises(DataError, match="resolved to closed"):
        update_request(ledger, "R00001", "closed", at=NOW)
    with pytest.raises(DataError, match="satisfaction"):
        update_request(ledger, "R00001", "revisited", at=NOW)
    update_request(ledger, "R00001", "revisited", satisfaction="satisfied", at=NOW)
    update_request(ledger, "R00001", "closed", at=NOW)
    pts = read_points(ledger)
    assert pts["person_id"].tolist() == ["P00001"] and pts["points"].iloc[0] == pytest.approx(2.0)
    with pytest.raises(DataError, match="fewer than"):
        redeem_points(ledger, "P00001", 5)
    with pytest.raises(DataError, match="no points"):
        redeem_points(ledger, "P99999", 1)
    assert redeem_points(ledger, "P00001", 1.5) == pytest.approx(0.5)
    after = read_requests(ledger)
    others = after["request_id"] != "R00001"
    pd.testing.assert_frame_equal(
        before[others.to_numpy()].drop(columns="geometry").reset_index(drop=True),
        after[others].drop(columns="geometry").reset_index(drop=True),
        check_dtype=False,
    )
    ev = read_events(ledger, request_ids=["R00001"])
    assert ev["to_status"].tolist()[2:] == [
        "dispatched",
        "accepted",
        "resolved",
        "revisited",
        "closed",
    ]


def test_events_are_append_only(ledger: Path) -> None:
    import sqlite3

    con = sqlite3.connect(ledger)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM request_events")
    con.close()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(TRANSITIONS)), st.sampled_from(sorted(TRANSITIONS)))
def test_transition_table_is_closed_and_terminals_stay(old: str, new: str) -> None:
    assert TRANSITIONS[old] <= set(TRANSITIONS)
    if old in ("closed", "duplicate", "not_responsible", "no_further_action"):
        assert new not in TRANSITIONS[old]
    # closing is reached only through a revisit
    if new == "closed":
        assert (new in TRANSITIONS[old]) == (old == "revisited")


# -- the dispatcher ----------------------------------------------------------------------------


def _instance(seed: int, n_r: int, n_p: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    skills = np.array([None, None, "medical", "legal"], dtype=object)
    now = pd.Timestamp("2024-05-01T00:00Z")
    req = pd.DataFrame(
        {
            "request_id": [f"R{i}" for i in range(n_r)],
            "skill": rng.choice(skills, n_r),
            "grid_id": rng.choice(["G1", "G2"], n_r),
            "effort_h": rng.choice([1.0, 2.0, 4.0], n_r),
            "expected_at": now + pd.to_timedelta(rng.choice([2, 24, 168], n_r), unit="h"),
        }
    )
    ppl = pd.DataFrame(
        {
            "person_id": [f"P{i}" for i in range(n_p)],
            "skills": rng.choice(["", "medical", "legal", "medical;legal"], n_p),
            "grid_ids": rng.choice(["", "g1", "g2"], n_p),
            "hours_per_day": rng.choice([2.0, 8.0], n_p),
            "cases_free": rng.integers(0, 3, n_p),
            "queue_h": 0.0,
            "open_cases": 0,
        }
    )
    k = n_r * n_p
    pairs = pd.DataFrame(
        {
            "request_id": np.repeat(req["request_id"], n_p).to_numpy(),
            "person_id": np.tile(ppl["person_id"], n_r),
            "distance_m": rng.uniform(0, 2000, k),
        }
    )
    return req, ppl, pairs


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 25),
    st.integers(1, 12),
    st.sampled_from(["flow", "cpsat"]),
)
def test_dispatch_never_assigns_twice_and_capacity_holds(
    seed: int, n_r: int, n_p: int, method: str
) -> None:
    req, ppl, pairs = _instance(seed, n_r, n_p)
    res = dispatch_requests(req, ppl, pairs, now=pd.Timestamp("2024-05-01T00:00Z"), method=method)
    a = res.assignments
    assert not a["request_id"].duplicated().any()
    assert set(a["request_id"]).isdisjoint(res.unplaced["request_id"])
    assert len(a) + len(res.unplaced) == n_r
    load = a["person_id"].value_counts()
    free = ppl.set_index("person_id")["cases_free"]
    assert (load <= free.reindex(load.index)).all()
    skill = req.set_index("request_id")["skill"]
    has = ppl.set_index("person_id")["skills"]
    for rid, pid in zip(a["request_id"], a["person_id"], strict=True):
        need = skill[rid]
        assert not isinstance(need, str) or need in has[pid].split(";")
    assert (a["distance_m"] <= 1500).all()
    if method == "flow":  # guarded by default: never worse than the office rule
        greedy = greedy_dispatch(req, ppl, pairs, now=pd.Timestamp("2024-05-01T00:00Z")).info
        assert res.info["guard"] != "off"
        assert res.info["placed"] >= greedy["placed"]
        assert res.info["walked_m"] <= greedy["walked_m"]
        assert res.info["lateness_h"] <= greedy["lateness_h"]
        assert res.info["bound"] <= res.info["objective"] + 1e-6
    else:  # CP-SAT starts from the flow answer and never returns a worse one
        assert res.info["objective"] <= res.info["start_objective"] + 1e-6
        assert res.info["bound"] <= res.info["objective"] + 1e-6


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.integers(1, 12), st.booleans())
def test_guarded_flow_is_never_worse_than_the_office_rule(
    seed: int, n_r: int, n_p: int, plain: bool
) -> None:
    req, ppl, pairs = _instance(seed, n_r, n_p)
    now = pd.Timestamp("2024-05-01T00:00Z")
    s = RequestSettings(balance_m_per_case=0.0, own_grid_bonus_m=0.0) if plain else None
    res = dispatch_requests(req, ppl, pairs, now=now, settings=s, guard=True)
    office = greedy_dispatch(req, ppl, pairs, now=now, settings=s).info
    i = res.info
    assert i["placed"] >= office["placed"]
    assert i["walked_m"] <= office["walked_m"]  # both summed in decimetres
    assert i["lateness_h"] <= office["lateness_h"]
    assert i["office_placed"] == office["placed"]
    assert i["office_walked_m"] == pytest.approx(office["walked_m"])
    assert i["bound"] <= i["objective"] + 1e-6 and 0.0 <= i["gap"] < 1.0
    assert i["guard"] in ("not binding", "binding", "office rule kept")
    if i["guard"] == "not binding":  # the unguarded optimum, unchanged
        free = dispatch_requests(req, ppl, pairs, now=now, settings=s, guard=False)
        pd.testing.assert_frame_equal(free.assignments, res.assignments)
        assert i["status"] == "OPTIMAL" and i["gap"] == 0.0
    load = res.assignments["person_id"].value_counts()
    cap = ppl.set_index("person_id")["cases_free"]
    assert (load <= cap.reindex(load.index)).all()
    assert not res.assignments["request_id"].duplicated().any()


def test_guard_beats_the_office_rule_where_the_weights_alone_walk_more() -> None:
    # many people, few slots each, tight deadlines: the weighted optimum walks farther than
    # the office rule to be on time; the guard brings the metres back under the office rule's
    req, ppl, pairs = _instance(2, 40, 30)
    now = pd.Timestamp("2024-05-01T00:00Z")
    office = greedy_dispatch(req, ppl, pairs, now=now).info
    free = dispatch_requests(req, ppl, pairs, now=now, guard=False).info
    assert free["walked_m"] > office["walked_m"]  # the instance is one where it matters
    res = dispatch_requests(req, ppl, pairs, now=now, guard=True).info
    assert res["guard"] == "binding" and res["status"] == "FEASIBLE"
    assert res["placed"] >= office["placed"] and res["walked_m"] < office["walked_m"]
    assert res["lateness_h"] < office["lateness_h"]
    assert res["bound"] < res["objective"] and res["gap"] > 0
    assert res["objective"] >= free["objective"]  # the guard costs weighted objective


def test_guard_compares_metres_to_the_decimetre() -> None:
    # the office rule walks 10.3 m and is late; swapping walks 10.7 m and is on time. In
    # whole metres both walk 10, so a guard blind to decimetres takes the swap, breaks its
    # own bound and falls back; it must see the 0.4 m and prove the office rule optimal
    now = pd.Timestamp("2024-05-01T00:00Z")
    req = pd.DataFrame(
        {
            "request_id": ["R1", "R2"],
            "skill": None,
            "grid_id": "G1",
            "effort_h": 2.0,
            "expected_at": [now + pd.Timedelta(hours=20), now + pd.Timedelta(hours=100)],
        }
    )
    ppl = pd.DataFrame(
        {
            "person_id": ["P1", "P2"],
            "skills": "",
            "grid_ids": "",
            "hours_per_day": [2.0, 8.0],
            "cases_free": 1,
            "queue_h": 0.0,
            "open_cases": 0,
        }
    )
    pairs = pd.DataFrame(
        {
            "request_id": ["R1", "R1", "R2", "R2"],
            "person_id": ["P1", "P2", "P1", "P2"],
            "distance_m": [5.1, 5.3, 5.4, 5.2],
        }
    )
    office = greedy_dispatch(req, ppl, pairs, now=now).info
    free = dispatch_requests(req, ppl, pairs, now=now, guard=False).info
    res = dispatch_requests(req, ppl, pairs, now=now).info
    assert office["walked_m"] == pytest.approx(10.3) and office["lateness_h"] > 0
    assert free["walked_m"] == pytest.approx(10.7) and free["lateness_h"] == 0
    assert res["walked_m"] == pytest.approx(10.3) and res["lateness_h"] == office["lateness_h"]
    assert res["guard"] == "binding" and res["status"] == "OPTIMAL" and res["gap"] == 0.0


def test_cpsat_cut_by_its_limit_gives_the_same_answer_twice() -> None:
    """A CP-SAT search stopped by its time limit stops at the same point on every run (one
    worker, a limit in deterministic time), so a dispatch is reproducible."""
    from dataclasses import replace

    req, ppl, pairs = _instance(7, 120, 40)
    s = replace(DEFAULT.requests, time_limit_s=0.2)
    now = pd.Timestamp("2024-05-01T00:00Z")
    runs = [
        dispatch_requests(req, ppl, pairs, now=now, method="cpsat", settings=s, guard=False)
        for _ in range(2)
    ]
    a, b = (r.assignments.sort_values("request_id").reset_index(drop=True) for r in runs)
    pd.testing.assert_frame_equal(a, b)
    assert runs[0].info["objective"] == runs[1].info["objective"]


def test_guard_with_cpsat_is_refused() -> None:
    req, ppl, pairs = _instance(1, 3, 2)
    with pytest.raises(ConfigError, match="guard_office_rule"):
        dispatch_requests(
            req, ppl, pairs, now=pd.Timestamp("2024-05-01T00:00Z"), method="cpsat", guard=True
        )


def test_unplaced_request_gets_a_reason_in_words() -> None:
    req, ppl, pairs = _instance(1, 3, 2)
    req["skill"] = "legal"
    req["service_code"] = "legal_aid"
    ppl["skills"] = "medical"
    res = dispatch_requests(req, ppl, pairs, now=pd.Timestamp("2024-05-01T00:00Z"))
    assert len(res.unplaced) == 3
    assert "no one with skill legal lives within 1 500 m" in res.unplaced["reason"].iloc[0]


# -- partner units (双报到单位) -------------------------------------------------------------------


def test_partner_unit_takes_its_categories_whatever_the_skill() -> None:
    req, ppl, pairs = _instance(3, 4, 2)
    req["skill"] = ["legal", "legal", "medical", None]
    req["service_code"] = ["legal_aid", "legal_aid", "medical", "repair"]
    ppl["skills"] = ""  # no person has a skill: only the unit can take legal aid
    ppl["cases_free"] = 0
    unit = pd.DataFrame(
        {
            "person_id": ["PU001"],
            "kind": "partner",
            "name": "明德律师事务所",
            "skills": "",
            "categories": "legal_aid;dispute",
            "grid_ids": "",
            "hours_per_day": 8.0,
            "cases_free": 5,
            "queue_h": 0.0,
            "open_cases": 0,
        }
    )
    ppl = pd.concat([ppl.assign(kind="person", name=None, categories=""), unit])
    pairs = pd.concat(
        [
            pairs,
            pd.DataFrame(
                {"request_id": req["request_id"], "person_id": "PU001", "distance_m": 800.0}
            ),
        ]
    )
    res = dispatch_requests(req, ppl, pairs, now=pd.Timestamp("2024-05-01T00:00Z"))
    a = res.assignments.set_index("request_id")
    # the two legal-aid requests go to the unit, named; the medical and repair ones do not
    assert a.loc[["R0", "R1"], "person_id"].eq("PU001").all()
    assert a.loc["R0", "partner_unit"] == "明德律师事务所 (PU001)"
    assert "R2" not in a.index and "R3" not in a.index
    reason = res.unplaced.set_index("request_id")["reason"]
    assert "no one with skill medical" in reason["R2"] and "PU001" not in reason["R2"]
    # a legal-aid request the unit has no room for names the unit in its reason
    res2 = dispatch_requests(
        req, ppl.assign(cases_free=0), pairs, now=pd.Timestamp("2024-05-01T00:00Z")
    )
    assert "明德律师事务所 (PU001)" in res2.unplaced.set_index("request_id")["reason"]["R0"]


def test_town_partner_units_load_into_the_roster(ctx) -> None:  # type: ignore[no-untyped-def]
    from gridplan.requests import roster

    assert ctx.partners is not None and len(ctx.partners) >= 4
    people = roster(ctx)
    units = people[people["kind"] == "partner"]
    assert set(units["person_id"]) == set(ctx.partners["partner_id"])
    law = units[units["categories"].map(lambda c: "legal_aid" in c)]
    assert len(law) >= 1 and law["name"].str.contains("律师").all()
    # each unit sits at its building's point, as an independent look-up says
    b = ctx.buildings.set_index("building_id").geometry
    row = ctx.partners.iloc[0]
    bid = (
        pd.read_csv(TOWN / "partner_units.csv", dtype=str)
        .set_index("partner_id")
        .loc[row["partner_id"], "building_id"]
    )
    assert (row["x"], row["y"]) == pytest.approx((b[bid].x, b[bid].y))


def test_bad_partner_units_are_named(ctx) -> None:  # type: ignore[no-untyped-def]
    from gridplan.requests.context import partner_units

    bad = pd.DataFrame(
        {
            "partner_id": ["PU1", "PU2", "PU2"],
            "name": ["a", "b", "c"],
            "categories": ["repair", "plumbing", "repair"],
            "building_id": ["B00001", "B00002", "NOPE"],
        }
    )
    with pytest.raises(DataError) as err:
        partner_units(bad, ctx.buildings, ctx.crs)
    text = str(err.value)
    assert "PU2" in text and "plumbing" in text and "ids repeated" in text
    assert "no place for PU2" in text


def test_a_partner_dispatch_names_the_unit_in_ledger_and_report(tmp_path: Path, ctx) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from gridplan.requests import request_report

    # the property company takes repairs; put it at the building of the first repair
    led = tmp_path / "p.gpkg"
    import_requests(led, TOWN / "requests.csv", ctx)
    df = read_requests(led)
    first = df[df["service_code"] == "repair"].sort_values("requested_at").iloc[0]
    b = ctx.buildings.set_index("building_id").geometry[first["building_id"]]
    unit = pd.DataFrame(
        {
            "partner_id": ["PU900"],
            "name": ["试点物业"],
            "categories": ["repair"],
            "hours_per_day": [8.0],
            "max_open_cases": [50],
            "contact_phone": ["085112345678"],
            "x": [b.x],
            "y": [b.y],
        }
    )
    c2 = replace(ctx, partners=unit)
    res = dispatch_ledger(led, c2, now=first["requested_at"])
    mine = res.assignments[res.assignments["person_id"] == "PU900"]
    assert first["request_id"] in set(mine["request_id"])
    after = read_requests(led).set_index("request_id").loc[first["request_id"]]
    assert after["assignee"] == "PU900" and after["agency_responsible"] == "试点物业 (PU900)"
    rep = request_report(led, now=first["requested_at"])
    assert [r["agency_responsible"] for r in rep["by_partner"]] == ["试点物业 (PU900)"]
    ev = read_events(led)
    note = ev[(ev["request_id"] == first["request_id"]) & (ev["to_status"] == "dispatched")]
    assert note["note"].iloc[0].startswith("partner unit 试点物业 (PU900)")


# -- dispatch on the ledger: safety ------------------------------------------------------------


def test_dispatch_never_moves_an_accepted_case(ledger: Path, ctx) -> None:  # type: ignore[no-untyped-def]
    first = dispatch_ledger(ledger, ctx, now=NOW)
    assert first.info["placed"] > 0 and first.info["distances"] == "network"
    rid = first.assignments["request_id"].iloc[0]
    pid = first.assignments["person_id"].iloc[0]
    update_request(ledger, rid, "accepted", at=NOW)
    again = dispatch_ledger(ledger, ctx, now="2024-05-03T09:05+08:00", reoptimise=True)
    assert rid not in set(again.assignments["request_id"])
    assert read_requests(ledger).set_index("request_id").loc[rid, "assignee"] == pid


_DISPATCH = textwrap.dedent(
    """
    import sys
    from gridplan.requests import dispatch_ledger, load_context
    ctx = load_context(sys.argv[2], sys.argv[3])
    res = dispatch_ledger(sys.argv[1], ctx, now="{now}")
    print(res.info["placed"])
    """
)


def _py(code: str, *args: str) -> subprocess.Popen[str]:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_dispatch_processes_never_assign_one_request_twice(
    ledger: Path, plan_dir: Path
) -> None:
    code = _DISPATCH.format(now="2024-05-10T09:00+08:00")
    procs = [_py(code, str(ledger), str(plan_dir), str(TOWN)) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    placed = sorted(int(o[0].strip().splitlines()[-1]) for o in outs)
    ev = read_events(ledger)
    dispatched = ev[ev["to_status"] == "dispatched"]
    assert not dispatched["request_id"].duplicated().any()
    assert placed[0] == 0 and placed[1] == len(dispatched)  # the second found nothing left
    df = read_requests(ledger)
    assert (df["status"] == "dispatched").sum() == len(dispatched)


_CRASH = textwrap.dedent(
    """
    import os, sys
    import gridplan.requests.run as run
    from gridplan.requests import load_context
    real = run._write
    def half(conn, batch, result, *a, **k):
        result.assignments = result.assignments.head(3)
        real(conn, batch, result, *a, **k)
        os._exit(1)  # the process dies mid-transaction
    run._write = half
    ctx = load_context(sys.argv[2], sys.argv[3])
    run.dispatch_ledger(sys.argv[1], ctx, now="2024-05-10T09:00+08:00")
    """
)


def test_a_crash_mid_dispatch_leaves_the_ledger_as_it_was(ledger: Path, plan_dir: Path) -> None:
    before = read_requests(ledger).drop(columns="geometry")
    events = read_events(ledger)
    proc = _py(_CRASH, str(ledger), str(plan_dir), str(TOWN))
    proc.communicate(timeout=300)
    assert proc.returncode == 1
    pd.testing.assert_frame_equal(read_requests(ledger).drop(columns="geometry"), before)
    pd.testing.assert_frame_equal(read_events(ledger), events)


# -- the loop from the command line ------------------------------------------------------------


def test_the_whole_loop_from_the_cli(tmp_path: Path, plan_dir: Path) -> None:
    run = CliRunner().invoke
    led = str(tmp_path / "loop.gpkg")

    def ok(*args: str) -> str:
        res = run(main, ["requests", *args])
        assert res.exit_code == 0, res.output
        return res.output

    assert "imported 242" in ok(
        "import", str(TOWN / "requests.csv"), "--ledger", led, "--plan", str(plan_dir)
    )
    out = ok(
        "dispatch", "--ledger", led, "--plan", str(plan_dir), "--dataset", str(TOWN), "--now", NOW
    )
    # guarded by default: the office rule is the shortest walk here, and proven optimal
    assert "OPTIMAL" in out and "gap 0.00%" in out and "office-rule guard" in out
    assert "kept" not in out
    df = read_requests(led)
    rid = df.loc[df["status"] == "dispatched", "request_id"].iloc[0]
    ok("update", rid, "accepted", "--ledger", led, "--now", "2024-05-03T09:30+08:00")
    ok("update", rid, "in_progress", "--ledger", led, "--now", "2024-05-03T09:40+08:00")
    ok(
        "update",
        rid,
        "resolved",
        "--ledger",
        led,
        "--resolution",
        "修好了",
        "--hours",
        "3",
        "--now",
        "2024-05-03T12:00+08:00",
    )
    bad = run(main, ["requests", "update", rid, "closed", "--ledger", led])
    assert bad.exit_code == 1 and "resolved to closed" in bad.output
    ok(
        "update",
        rid,
        "revisited",
        "--ledger",
        led,
        "--satisfaction",
        "satisfied",
        "--now",
        "2024-05-05T10:00+08:00",
    )
    ok("update", rid, "closed", "--ledger", led, "--now", "2024-05-05T10:05+08:00")
    assert "balance" in ok("points", "--ledger", led)
    listed = ok("list", "--ledger", led, "--status", "dispatched")
    phones = pd.read_csv(TOWN / "requests.csv", dtype=str)["requester_phone"]
    assert not any(p in listed for p in phones)  # masked
    o311 = json.loads(ok("list", "--ledger", led, "--open311"))
    assert {r["status"] for r in o311} <= {"open", "closed"}
    assert [r["gridplan_status"] for r in o311 if r["service_request_id"] == rid] == ["closed"]
    rep = tmp_path / "rep"
    ok(
        "report",
        "--ledger",
        led,
        "--plan",
        str(plan_dir),
        "--out",
        str(rep),
        "--lang",
        "en",
        "--now",
        "2024-05-31T23:00+08:00",
    )
    data = json.loads((rep / "requests_report.json").read_text(encoding="utf-8"))
    assert data["summary"]["received"] == 242 and data["summary"]["resolved"] == 1
    assert data["summary"]["satisfaction_rate"] == 1.0
    assert {"day", "week", "month", "quarter"} <= set(data["rollups"])
    assert sum(r["received"] for r in data["rollups"]["month"]) == 242
    assert any(r["service_code"] == "elderly_care" for r in data["coverage_gaps"])
    text = "".join(p.read_text(encoding="utf-8") for p in rep.iterdir() if p.is_file())
    assert not any(p in text for p in phones)
    html = (rep / "requests_map.html").read_text(encoding="utf-8")
    assert "Open requests" in html


def test_open_requests_layer_masks_personal_data(ledger: Path) -> None:
    layer = open_requests_layer(read_requests(ledger), lang="zh")
    raw = pd.read_csv(TOWN / "requests.csv", dtype=str)
    assert len(layer) == len(raw)
    joined = " ".join(layer["popup"])
    assert not any(p in joined for p in raw["requester_phone"])
    assert not any(n in joined for n in raw["requester_name"] if len(n) > 1)


# -- the plan's own map and report (gridplan run --requests) ------------------------------------


def test_plan_map_and_report_show_requests(tmp_path: Path, town_plan) -> None:  # type: ignore[no-untyped-def]
    from gridplan.run.pipeline import run_to_folder

    out1 = Path(run_to_folder(town_plan, tmp_path / "a", request_file=TOWN / "requests.csv"))
    ledger = out1 / "requests.gpkg"
    assert len(read_requests(ledger)) == 242
    # the same ledger given to a second run: the report is byte-identical (as of the
    # ledger's last entry, not the clock)
    out2 = Path(run_to_folder(town_plan, tmp_path / "b", requests=ledger))
    for name in ("report.md", "report.html", "report.json"):
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name
    md = (out1 / "report.md").read_text(encoding="utf-8")
    assert "## 九、群众诉求办理" in md and "响应率" in md and "位于设施覆盖缺口" in md
    rep = json.loads((out1 / "report.json").read_text(encoding="utf-8"))["requests"]
    # the figures recounted from the ledger, with each request's grid read from the plan
    df = read_requests(ledger)
    b = town_plan.layers["buildings"].set_index("building_id")["grid_id"]
    per_grid = df["building_id"].map(b).value_counts()
    assert {r["grid_id"]: r["received"] for r in rep["by_grid"]} == per_grid.to_dict()
    assert rep["summary"]["received"] == 242 and rep["open"] == 242
    html_text = (out1 / "map.html").read_text(encoding="utf-8")
    assert "gp_requests_" in html_text and label("requests.layer", "zh") in html_text
    assert "$(" not in html_text.split("gp_requests_", 1)[1][:5000]  # no jQuery in our layer
    phones = pd.read_csv(TOWN / "requests.csv", dtype=str)["requester_phone"]
    assert not any(p in html_text for p in phones.head(50))  # masked
    # English: the whole section in English
    out3 = Path(run_to_folder(town_plan, tmp_path / "c", requests=ledger, lang="en"))
    en = (out3 / "report.md").read_text(encoding="utf-8")
    section = en.split("## 9. Residents' requests", 1)[1].split("\n## ", 1)[0]
    assert "Response rate" in section and "In a coverage gap" in section
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in section.replace("双报到单位", ""))


def test_run_cli_takes_a_ledger(tmp_path: Path, plan_dir: Path) -> None:
    led = tmp_path / "l.gpkg"
    res = CliRunner().invoke(
        main,
        [
            "requests",
            "import",
            str(TOWN / "requests.csv"),
            "--ledger",
            str(led),
            "--plan",
            str(plan_dir),
        ],
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "plan"
    res = CliRunner().invoke(
        main, ["-q", "run", str(TOWN), "--out", str(out), "--requests", str(led)]
    )
    assert res.exit_code == 0, res.output
    assert "群众诉求办理" in (out / "report.md").read_text(encoding="utf-8")
    bad = CliRunner().invoke(
        main,
        [
            "-q",
            "run",
            str(TOWN),
            "--out",
            str(tmp_path / "p2"),
            "--requests",
            str(tmp_path / "no.gpkg"),
        ],
    )
    assert bad.exit_code == 1 and "does not exist" in bad.output
    assert not (tmp_path / "p2").exists()  # nothing half-written


def test_requests_on_gaode_tiles_shift_like_the_plan(tmp_path: Path, town_plan) -> None:  # type: ignore[no-untyped-def]
    from gridplan.offsets import wgs84_to_gcj02
    from gridplan.output.maps.make import write_map
    from gridplan.requests.planview import import_for_plan, plan_requests

    led = tmp_path / "r.gpkg"
    import_for_plan(led, pd.read_csv(TOWN / "requests.csv", dtype=str).head(3), town_plan.layers)
    layer, _ = plan_requests(led, town_plan.layers)
    p = layer.geometry.iloc[0]
    glon, glat = (float(v) for v in wgs84_to_gcj02(p.x, p.y))
    page = write_map(town_plan, tmp_path / "m.html", basemap="gaode", requests=layer)
    text = page.read_text(encoding="utf-8")
    assert f"[{round(glat, 7)},{round(glon, 7)}," in text  # shifted, as the tiles are
    assert f"[{round(p.y, 7)},{round(p.x, 7)}," not in text
