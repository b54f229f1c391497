"""``gridplan edit``: the session, its live checks and the page in a real browser.

The session is checked on the town's plan: a move counted into and out of grids, a move to a
grid that does not border the building's refused until accepted with a reason, undo and redo,
locks refused on hand-edited grids, a second writer refused, the autosave restored. The page
is served by the real server on a free port and driven in headless Chromium (Playwright): a
building moved, the counts changing, a grid overfilled and the violation shown, a grid locked,
the rest re-optimised, the plan saved and read back.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely
from test_edits import _neighbour_pairs

from gridplan._errors import DataError
from gridplan.edit.checks import HARD, polsby_popper
from gridplan.edit.server import EditServer
from gridplan.edit.session import AUTOSAVE, LOCK_FILE, EditSession, HardRuleError, PlanLockError

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def plan_dir(town_plan_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the town plan folder (the session writes its lock and autosave)."""
    return Path(shutil.copytree(town_plan_dir, tmp_path / "plan"))


@pytest.fixture
def session(plan_dir: Path, town_path: Path) -> Any:
    s = EditSession(plan_dir, town_path, lang="en", by="tester")
    yield s
    s.close()


def _far_building(s: EditSession, grid: str) -> str | None:
    """A building with households of the same community whose grid does not border ``grid``
    (``None`` when every grid of the community borders it)."""
    b = s.buildings
    comm = s.grids.set_index("grid_id")["community_id"][grid]
    near = set(s.draft.neighbours[grid]) | {grid}
    cand = b[(b["community_id"] == comm) & (b["households"] > 0) & ~b["grid_id"].isin(near)]
    return str(cand.sort_values("building_id")["building_id"].iloc[0]) if len(cand) else None


def test_polsby_popper_of_a_square_and_a_strip():
    assert polsby_popper(shapely.box(0, 0, 10, 10)) == pytest.approx(3.14159 / 4, rel=1e-3)
    assert polsby_popper(shapely.box(0, 0, 100, 1)) < 0.04


def test_a_move_counts_households_into_and_out_of_grids(session):
    bid, g_from, g_to = _neighbour_pairs(session.grids, session.buildings)[0]
    hh = int(session.buildings.set_index("building_id").loc[bid, "households"])
    before = {g: session.draft.checks[g]["households"] for g in (g_from, g_to)}
    checks = session.move([bid], g_to, reason="gate on that street")
    assert checks[g_to]["households"] == before[g_to] + hh
    assert checks[g_from]["households"] == before[g_from] - hh
    assert checks[g_to]["moved_in"] == [bid] and checks[g_from]["moved_out"] == [bid]
    assert session.grid_of(bid) == g_to
    units = set(checks[g_to]["units_affected"])
    assert units and units <= set(session.old.unit_members["unit_id"])
    move = session.state.moves[-1]
    assert (move.buildings, move.reason, move.by) == ((bid,), "gate on that street", "tester")
    assert move.at


def test_a_move_to_a_grid_not_bordering_needs_a_reason(session):
    found = (
        (g_to, _far_building(session, g_to))
        for _bid, _g_from, g_to in _neighbour_pairs(session.grids, session.buildings)
    )
    g_to, far = next((g, b) for g, b in found if b is not None)
    with pytest.raises(HardRuleError) as err:
        session.move([far], g_to)
    assert far in str(err.value) and g_to in str(err.value)
    assert {v["kind"] for v in err.value.violations} <= HARD
    assert session.state.moves == ()  # nothing changed
    with pytest.raises(DataError, match="reason"):
        session.move([far], g_to, accept=True)
    session.move([far], g_to, accept=True, reason="the old village line")
    assert session.state.moves[-1].violations
    assert far in session.state.moves[-1].violations


def _shares_by_pandas(s: EditSession, grid_of: dict[str, str], grid: str) -> dict[str, float]:
    """Share of a grid's households covered per tier/category, from the plan's coverage
    layer with pandas (independent of the checks)."""
    b = s.old.buildings[["building_id", "households"]].copy()
    b["grid_id"] = b["building_id"].map(grid_of)
    b = b[b["grid_id"] == grid]
    c = pd.DataFrame(s.old.layers["coverage"]).merge(b, on="building_id")
    c["key"] = c["tier"].astype(str) + "/" + c["category"].astype(str)
    c["hh_cov"] = c["households"] * c["covered"].astype(float)
    agg = c.groupby("key")[["hh_cov"]].sum()
    return (agg["hh_cov"] / float(b["households"].sum())).to_dict()


def test_a_move_shows_coverage_before_and_after_per_grid(session):
    cov = pd.DataFrame(session.old.layers["coverage"])

    def shifts(b: str, t: str) -> bool:  # does moving b to t move a share of t by 0.5 pt?
        was = _shares_by_pandas(session, session.before, t)
        now = _shares_by_pandas(session, {**session.before, b: t}, t)
        return any(abs(was.get(k, 0) - now.get(k, 0)) >= 0.005 for k in set(was) | set(now))

    bid, g_from, g_to = next(
        p for p in _neighbour_pairs(session.grids, session.buildings)[:40] if shifts(p[0], p[2])
    )
    checks = session.move([bid], g_to, accept=True, reason="test")
    after = session.snapshot()["grid_of"]
    keys = session.ctx.coverage_keys
    assert keys and len(keys) == cov[["tier", "category"]].drop_duplicates().shape[0]
    for g in (g_from, g_to):
        c = checks[g]["coverage"]
        want_b = _shares_by_pandas(session, session.before, g)
        want_a = _shares_by_pandas(session, after, g)
        assert c["before"] == pytest.approx([want_b.get(k, 0.0) for k in keys], abs=1e-3)
        assert c["after"] == pytest.approx([want_a.get(k, 0.0) for k in keys], abs=1e-3)
        moved = any(abs(want_b.get(k, 0) - want_a.get(k, 0)) >= 0.005 for k in keys)
        assert c["changed"] == moved
    assert any(checks[g]["coverage"]["changed"] for g in (g_from, g_to))
    untouched = sorted(set(session.grids["grid_id"]) - {g_from, g_to})[0]
    assert session.draft.checks[untouched]["coverage"]["changed"] is False


def test_a_delta_state_carries_only_what_changed(session):
    bid, g_from, g_to = _neighbour_pairs(session.grids, session.buildings)[0]
    session.move([bid], g_to, accept=True, reason="test")
    delta = session.snapshot(delta=True)
    drawn = {f["properties"]["grid_id"] for f in delta["grids"]["features"] if f["geometry"]}
    assert drawn == {g_from, g_to}
    assert delta["grid_of_delta"] and delta["grid_of"] == {bid: g_to}
    full = session.snapshot()
    base = session.base_web()
    for f in full["grids"]["features"]:  # the page's fill-in gives the full state
        gid = f["properties"]["grid_id"]
        assert f["geometry"] == (f["geometry"] if gid in drawn else base["grids"][gid])
    assert full["grid_of"] == {**base["grid_of"], **delta["grid_of"]}
    assert len(json.dumps(delta)) < len(json.dumps(full)) / 2


def test_undo_and_redo(session):
    pairs = _neighbour_pairs(session.grids, session.buildings)
    (b1, f1, t1) = pairs[0]
    (b2, _f2, t2) = next(p for p in pairs if p[1] not in (f1, t1) and p[2] not in (f1, t1))
    session.move([b1], t1)
    session.move([b2], t2)
    session.undo()
    assert [m.buildings for m in session.state.moves] == [(b1,)]
    assert session.grid_of(b2) == session.before[b2]
    session.undo()
    assert session.state.moves == () and session.grid_of(b1) == f1
    session.undo()  # nothing left: no change
    session.redo()
    session.redo()
    assert session.grid_of(b1) == t1 and session.grid_of(b2) == t2
    session.move([b1], f1)  # a new change forgets what could be redone
    assert not session.redo_stack


def test_locks_refuse_moves_and_hand_edited_grids(session):
    bid, g_from, g_to = _neighbour_pairs(session.grids, session.buildings)[0]
    session.set_lock(g_to)
    with pytest.raises(DataError, match="locked"):
        session.move([bid], g_to)
    session.set_lock(g_to, False)
    session.move([bid], g_to)
    with pytest.raises(DataError, match="moved by hand"):
        session.set_lock(g_from)
    with pytest.raises(DataError, match="no grid"):
        session.set_lock("X-999")


def test_a_second_writer_is_refused_and_the_autosave_restored(plan_dir, town_path):
    first = EditSession(plan_dir, town_path, lang="en")
    try:
        assert (plan_dir / LOCK_FILE).is_file()
        with pytest.raises(PlanLockError, match="another session"):
            EditSession(plan_dir, town_path)
        bid, _g_from, g_to = _neighbour_pairs(first.grids, first.buildings)[0]
        first.move([bid], g_to, reason="kept")
        saved = json.loads((plan_dir / AUTOSAVE).read_text(encoding="utf-8"))
        assert saved["state"]["moves"][0]["buildings"] == [bid]
    finally:
        first.close()  # as after a crash: the autosave stays
    assert not (plan_dir / LOCK_FILE).exists()
    again = EditSession(plan_dir, town_path, lang="en")
    try:
        assert again.restored == 1 and again.grid_of(bid) == g_to
    finally:
        again.close()


def test_the_dataset_defaults_to_the_recorded_one_or_is_required(plan_dir, tmp_path):
    from gridplan.output.planfile import read_plan

    source = read_plan(plan_dir).metadata["dataset"]["source"]
    if not Path(str(source)).exists():
        with pytest.raises(DataError, match="gridplan edit PLAN_DIR DATASET"):
            EditSession(plan_dir)
    else:
        EditSession(plan_dir).close()


def test_save_refuses_the_plan_itself_and_nothing_to_save(session, plan_dir):
    with pytest.raises(DataError, match="nothing to save"):
        session.save(plan_dir.parent / "out")
    with pytest.raises(DataError, match="new folder"):
        session.save(plan_dir)


def _overfill(s: EditSession, skip: set[str] = frozenset()) -> tuple[list[str], str]:
    """Buildings of a grid nearest to a neighbour, enough to overfill it: (buildings, target)."""
    b = s.draft.buildings.set_index("building_id")
    for _bid, g_from, g_to in _neighbour_pairs(s.draft.grids, s.draft.buildings):
        if {g_from, g_to} & set(skip):
            continue
        to_geom = s.draft.grids.set_index("grid_id").geometry[g_to]
        need = s.ctx.max_households - s.draft.checks[g_to]["households"] + 1
        left = b[b["grid_id"] == g_from]
        left = left.assign(d=left.geometry.distance(to_geom)).sort_values(["d", "households"])
        picked = []
        for other, row in left.iterrows():
            picked.append(str(other))
            need -= int(row["households"])
            if need <= 0:
                return picked, g_to
    raise AssertionError("no grid can be overfilled")


def _force(s: EditSession, call: Any) -> Any:
    try:
        return call(accept=False, reason=None)
    except HardRuleError:
        return call(accept=True, reason="test: accepted")


def test_reoptimise_is_one_step_and_later_moves_stay_as_made(session):
    picked, g_to = _overfill(session)
    _force(session, lambda **kw: session.move(picked, g_to, **kw))
    assert session.draft.checks[g_to]["bounds"] == "over"
    moved = session.reoptimise()
    assert moved > 0 and session.state.reoptimised
    assert session.draft.checks.get(g_to, {}).get("bounds") != "over"
    step = session.state.moves[-1]
    assert step.kind == "reoptimise" and len(step.buildings) == moved
    after_reopt = dict(session.snapshot()["grid_of"])
    # a later move is kept as made: the rest is not re-optimised again
    picked2, g_to2 = _overfill(session, skip={g_to})
    _force(session, lambda **kw: session.move(picked2, g_to2, **kw))
    assert not session.state.reoptimised
    assert session.draft.checks[g_to2]["bounds"] == "over"
    now = session.snapshot()
    assert now["reoptimised"] is False
    assert all(now["grid_of"][b] == g_to2 for b in picked2)
    assert all(now["grid_of"][b] == g for b, g in after_reopt.items() if b not in picked2)
    session.undo()  # back to just after the re-optimise
    assert session.state.reoptimised and session.snapshot()["grid_of"] == after_reopt
    session.undo()  # and before it
    assert session.draft.checks[g_to]["bounds"] == "over"


def test_merge_and_split_are_one_change_each_and_save(session, tmp_path):
    d = session.draft
    pairs = sorted((a, c) for a, ns in d.neighbours.items() for c in ns if a < c)
    a, c = pairs[0]
    ha, hc = d.checks[a]["households"], d.checks[c]["households"]
    keep, gone = (a, c) if (ha, c) > (hc, a) else (c, a)
    both = set(d.buildings.loc[d.buildings["grid_id"].isin([a, c]), "building_id"])
    checks = _force(session, lambda **kw: session.merge(a, c, **kw))
    assert checks[gone]["merged_into"] == keep and not checks[gone]["violations"]
    assert len(session.state.moves) == 1 and session.state.moves[0].kind == "merge"
    units = {u for b in both if session.before[b] == gone for u in session.ctx.unit_of.get(b, [])}
    assert set(checks[gone]["units_affected"]) == units
    grid_of = session.snapshot()["grid_of"]
    in_keep = {b for b in both if grid_of[b] == keep}
    assert in_keep == both or checks[keep]["violations"]  # or a barrier between them, shown
    assert gone not in set(session.draft.grids["grid_id"])
    session.undo()
    assert session.state.moves == () and gone in set(session.draft.grids["grid_id"])
    session.redo()

    # split the largest other grid: its western half becomes a new grid, coded next
    g = session.draft.grids
    big = g[~g["grid_id"].isin([keep, gone])].sort_values(["households", "grid_id"]).iloc[-1]
    mine = session.draft.buildings[session.draft.buildings["grid_id"] == big["grid_id"]]
    x = shapely.get_coordinates(shapely.centroid(mine.geometry.to_numpy()))[:, 0]
    half = sorted(mine["building_id"][x < sorted(x)[len(x) // 2]])
    comm = big["community_id"]
    used = set(session.grids["grid_id"]) | set(session.draft.grids["grid_id"])
    seqs = [int(str(x).rsplit("-", 1)[1]) for x in used if str(x).startswith(comm + "-")]
    code = f"{comm}-{max(seqs) + 1:03d}"
    _force(session, lambda **kw: session.split(half, **kw))
    step = session.state.moves[-1]
    assert (step.kind, step.grid_id, set(step.buildings)) == ("split", code, set(half))
    assert all(session.grid_of(b) == code for b in half)
    with pytest.raises(DataError, match="every building"):
        now = session.draft.buildings
        session.split(sorted(now.loc[now["grid_id"] == big["grid_id"], "building_id"]))
    out = session.save(tmp_path / "saved")
    from gridplan.output.planfile import read_plan

    saved = read_plan(out)
    sb = saved.buildings.set_index("building_id")["grid_id"]
    assert (sb[half] == code).all() and gone not in set(saved.grids["grid_id"])
    log = pd.DataFrame(saved.layers["edits"])
    assert set(log.loc[log["grid_id"] == code, "building_id"]) == set(half)


# --------------------------------------------------------------------------- the browser


@pytest.fixture
def server(session: EditSession) -> Any:
    srv = EditServer(("127.0.0.1", 0), session)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _hh_cell(page: Any, grid: str) -> str:
    return page.inner_text(f'#checks tr.check[data-grid="{grid}"] td.hh')


def _moves(page: Any) -> int:
    return int(page.get_attribute("body", "data-moves") or 0)


def _move(
    page: Any,
    n_before: int,
    button: str = "#move",
    reason: str = "the compound's gate faces this street",
) -> bool:
    """Click ``button`` (Move, Split, Merge); accept anyway with a reason when the page asks.
    True when it asked."""
    page.click(button)
    page.wait_for_function(
        f"document.body.dataset.moves === '{n_before + 1}' || "
        "document.getElementById('dialog').style.display === 'flex'",
        timeout=60_000,
    )
    if page.is_visible("#dialog"):
        assert page.is_disabled("#accept")  # no reason, no acceptance
        page.fill("#reason", reason)
        page.click("#accept")
        page.wait_for_function(f"document.body.dataset.moves === '{n_before + 1}'", timeout=60_000)
        return True
    return False


@pytest.mark.browser
def test_the_page_moves_locks_reoptimises_and_saves(browser, server, session, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    refused: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(server.url):
            r.continue_()
            return
        if "tile.openstreetmap.org" not in r.request.url:
            refused.append(r.request.url)
        r.abort()

    page.route("**/*", route)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)

    # 1. select a building, move it to a neighbouring grid, see the counts change
    bid, g_from, g_to = _neighbour_pairs(session.grids, session.buildings)[0]
    b = session.buildings.set_index("building_id")
    hh = int(b.loc[bid, "households"])
    base = {g: session.draft.checks[g]["households"] for g in (g_from, g_to)}
    page.click(f"path.b-{bid}")
    assert page.evaluate("editApp.selected()") == [bid]
    options = page.eval_on_selector_all("#target option", "os => os.map(o => o.value)")
    assert g_to in options
    page.select_option("#target", g_to)
    _move(page, 0)
    assert _hh_cell(page, g_to).startswith(f"{base[g_to]} → {base[g_to] + hh}")
    assert _hh_cell(page, g_from).startswith(f"{base[g_from]} → {base[g_from] - hh}")

    # 2. overfill the grid: the buildings left in g_from nearest to g_to, shift-clicked
    limit = session.ctx.max_households
    to_geom = session.grids.set_index("grid_id").geometry[g_to]
    left = b[(b["grid_id"] == g_from) & (b.index != bid)]
    left = left.assign(d=left.geometry.distance(to_geom)).sort_values(["d", "households"])
    need, picked = limit - (base[g_to] + hh) + 1, []
    for other, row in left.iterrows():
        picked.append(str(other))
        need -= int(row["households"])
        if need <= 0:
            break
    assert need <= 0, "the grid holds too few households to overfill its neighbour"
    page.click(f"path.b-{picked[0]}")
    for other in picked[1:]:
        page.click(f"path.b-{other}", modifiers=["Shift"])
    assert sorted(page.evaluate("editApp.selected()")) == sorted(picked)
    page.select_option("#target", g_to)
    _move(page, 1)
    over = page.locator(f'#violations li[data-kind="over"][data-grid="{g_to}"]')
    assert over.count() == 1 and str(limit) in over.inner_text()
    assert "bad" in (page.get_attribute(f'#checks tr.check[data-grid="{g_to}"] td.hh', "class"))
    assert page.locator(f"path.g-{g_to}").count() == 1

    # 3. lock a grid no move touched, bordering the overfilled one where possible
    nb = [g for g in session.draft.neighbours[g_to] if g not in (g_from, g_to)]
    others = sorted(set(session.grids["grid_id"]) - {g_from, g_to})
    lock = (nb or others)[0]
    page.select_option("#grid-pick", lock)
    page.click("#lock")
    page.wait_for_function(f"editApp.state().locks.includes('{lock}')")
    assert page.is_disabled("#lock") and page.is_enabled("#unlock")

    # 4. re-optimise the rest
    page.click("#reoptimise")
    page.wait_for_function("editApp.state().reoptimised", timeout=60_000)
    shown = page.evaluate("editApp.state().grid_of")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "edit.png"))

    # 5. save
    out = tmp_path / "edited"
    page.fill("#out", str(out))
    page.click("#save")
    page.wait_for_function("!!editApp.state() && !!editApp.state().saved_to", timeout=240_000)
    assert not errors, errors
    assert not refused, refused
    page.close()

    from gridplan.output.planfile import read_plan

    saved = read_plan(out)
    sb = saved.buildings.set_index("building_id")["grid_id"].astype(str)
    # what the page showed is what was saved
    assert sb.loc[bid] == shown[bid]
    assert all(sb.loc[x] == shown[x] for x in picked)
    # the locked grid kept every building
    old_b = session.old.buildings
    assert set(sb[sb == lock].index) == set(old_b.loc[old_b["grid_id"] == lock, "building_id"])
    old_geom = session.old.grids.set_index("grid_id").geometry[lock]
    new_geom = saved.grids.to_crs(session.old.grids.crs).set_index("grid_id").geometry[lock]
    assert new_geom.equals_exact(old_geom, 1e-6)
    # the edit log: who, when, from which grid to which, why
    log = pd.DataFrame(saved.layers["edits"])
    row = log[log["building_id"] == bid].iloc[0]  # its first move (re-optimise may add one)
    assert (row["from_grid_id"], row["grid_id"], row["by"]) == (g_from, g_to, "tester")
    assert row["at"]
    assert set(picked) <= set(log["building_id"])
    overfill = log[log["building_id"] == picked[-1]].iloc[0]
    assert f"{g_to}" in overfill["violations"] and str(limit) in overfill["violations"]
    # the violation in the saved report, in its re-plan section
    report = (out / "report.md").read_text(encoding="utf-8")
    assert overfill["violations"] in report
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert len(data["replan"]["edits"]) == len(log)
    assert lock in data["replan"]["locked_grids"]
    assert not (session.plan_dir / AUTOSAVE).exists()  # deleted after save


def test_the_command_refuses_a_second_writer(session, plan_dir, town_path):
    from click.testing import CliRunner

    from gridplan.cli import main

    res = CliRunner().invoke(main, ["edit", str(plan_dir), str(town_path), "--port", "0"])
    assert res.exit_code == 1, res.output
    assert "another session" in res.output
    bad = CliRunner().invoke(main, ["edit", str(plan_dir), "--port", "70000"])
    assert bad.exit_code == 2


def _open(browser: Any, server: Any) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith(server.url) else r.abort()
    )
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
    return page


def _inside(session: EditSession, ring: list[list[float]]) -> set[str]:
    """Buildings whose footprint centroid (shapely, WGS 84) lies inside ``ring`` of
    [lat, lng]: the selection computed independently of the page."""
    poly = shapely.Polygon([(lng, lat) for lat, lng in ring])
    b = session.buildings.to_crs(4326)
    cent = shapely.centroid(b.geometry.to_numpy())
    return set(b["building_id"].astype(str)[shapely.contains(poly, cent)])


@pytest.mark.browser
def test_box_and_lasso_select_and_the_selection_moves_as_one_edit(browser, server, session):
    pairs = _neighbour_pairs(session.grids, session.buildings)
    _bid, g_from, g_to = pairs[0]
    b = session.buildings.set_index("building_id")
    to_geom = session.grids.set_index("grid_id").geometry[g_to]
    mine = b[b["grid_id"] == g_from]
    near = mine.assign(d=mine.geometry.distance(to_geom)).sort_values(["d"]).index[:3]
    chosen = [str(x) for x in near]
    page = _open(browser, server)
    page.evaluate(f"editApp.zoomTo({json.dumps(chosen)})")
    pts = [page.evaluate(f"editApp.buildingPoint('{x}')") for x in chosen]
    box = page.locator("#map").bounding_box()
    assert box is not None
    ox, oy = box["x"], box["y"]
    xs, ys = [p["x"] for p in pts], [p["y"] for p in pts]

    # a box: shift-drag around the three buildings
    x0, y0, x1, y1 = min(xs) - 4, min(ys) - 4, max(xs) + 4, max(ys) + 4
    page.keyboard.down("Shift")
    page.mouse.move(ox + x0, oy + y0)
    page.mouse.down()
    page.mouse.move(ox + x1, oy + y1, steps=4)
    page.mouse.up()
    page.keyboard.up("Shift")
    a, c = (
        page.evaluate(f"editApp.toLatLng({x0}, {y0})"),
        page.evaluate(f"editApp.toLatLng({x1}, {y1})"),
    )
    ring = [[a[0], a[1]], [a[0], c[1]], [c[0], c[1]], [c[0], a[1]]]
    got = set(page.evaluate("editApp.selected()"))
    exp = _inside(session, ring)
    assert set(chosen) <= got
    assert got == exp
    page.click("#clear")
    assert page.evaluate("editApp.selected()") == []

    # a lasso: a hexagon around the three buildings
    cx, cy = sum(xs) / 3, sum(ys) / 3
    # the hexagon's inner circle holds every chosen point
    r = (max(math.hypot(x - cx, y - cy) for x, y in zip(xs, ys, strict=True)) + 6) / 0.866
    hexagon = [
        (cx + r * math.cos(k * math.pi / 3), cy + r * math.sin(k * math.pi / 3)) for k in range(6)
    ]
    page.click("#lasso")
    assert page.get_attribute("#lasso", "aria-pressed") == "true"
    page.mouse.move(ox + hexagon[0][0], oy + hexagon[0][1])
    page.mouse.down()
    for hx, hy in hexagon[1:]:
        page.mouse.move(ox + hx, oy + hy)
    page.mouse.up()
    assert page.get_attribute("#lasso", "aria-pressed") == "false"  # one lasso at a time
    ring = [page.evaluate(f"editApp.toLatLng({hx}, {hy})") for hx, hy in hexagon]
    got = set(page.evaluate("editApp.selected()"))
    assert set(chosen) <= got
    assert got == _inside(session, ring)

    # move the selection: one edit, one undo step
    page.select_option("#target", g_to)
    _move(page, 0)
    state = page.evaluate("editApp.state()")
    moved = {x for x in got if session.before[x] != g_to}
    assert len(state["moves"]) == 1 and set(state["moves"][0]["buildings"]) == moved
    assert all(state["grid_of"][x] == g_to for x in got)
    line = page.locator(f'#checks .coverage[data-grid="{g_to}"]')
    assert line.count() == 1
    changed = state["checks"][g_to]["coverage"]["changed"]
    assert line.get_attribute("data-changed") == ("1" if changed else "0")
    page.click("#undo")
    page.wait_for_function("editApp.state().moves.length === 0", timeout=60_000)
    back = page.evaluate("editApp.state().grid_of")
    assert all(back[x] == session.before[x] for x in got)
    page.close()


def to_ok(state: dict[str, Any], frm: str, to: str) -> bool:
    """Whether the page offers a move from grid ``frm`` to ``to`` as a neighbour now."""
    return to in state["neighbours"].get(frm, [])


@pytest.mark.browser
def test_the_page_splits_merges_and_reoptimises_once(browser, server, session):
    page = _open(browser, server)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # split: the western half of the largest grid, shift-clicked, becomes a new grid
    g = session.grids.sort_values(["households", "grid_id"]).iloc[-1]
    mine = session.buildings[session.buildings["grid_id"] == g["grid_id"]]
    x = shapely.get_coordinates(shapely.centroid(mine.geometry.to_numpy()))[:, 0]
    half = sorted(mine["building_id"][x < sorted(x)[len(x) // 2]])
    page.evaluate(f"editApp.zoomTo({json.dumps(half)})")
    page.click(f"path.b-{half[0]}")
    for b in half[1:]:
        page.click(f"path.b-{b}", modifiers=["Shift"])
    assert page.is_enabled("#split")
    _move(page, 0, "#split", "the old village line")
    state = page.evaluate("editApp.state()")
    step = state["moves"][0]
    assert step["kind"] == "split" and set(step["buildings"]) == set(half)
    assert {state["grid_of"][b] for b in half} == {step["grid_id"]}
    assert page.locator('#edits li[data-kind="split"]').count() == 1

    # merge: a grid with a neighbour, from the grid panel
    other = sorted(set(session.grids["grid_id"]) - {g["grid_id"]})
    a = next(x for x in other if any(n != g["grid_id"] for n in state["neighbours"].get(x, [])))
    page.select_option("#grid-pick", a)
    options = page.eval_on_selector_all("#merge-with option", "os => os.map(o => o.value)")
    nb = next(n for n in options if n != g["grid_id"] and n != step["grid_id"])
    page.select_option("#merge-with", nb)
    _move(page, 1, "#merge", "one grid head for both")
    state = page.evaluate("editApp.state()")
    assert state["moves"][1]["kind"] == "merge"
    gone = state["moves"][1]["merged"]
    assert gone in (a, nb) and gone not in [
        f["properties"]["grid_id"] for f in state["grids"]["features"]
    ]
    assert page.locator(f'#checks tr.merged[data-grid="{gone}"]').count() == 1

    # re-optimise once, then a move: the page no longer says re-optimised
    page.wait_for_function("document.body.dataset.busy === '0'")
    page.click("#reoptimise")
    page.wait_for_function("document.body.dataset.busy === '1'", timeout=5_000)
    page.wait_for_function(
        "document.body.dataset.busy === '0'",
        timeout=120_000,
    )
    state = page.evaluate("editApp.state()")
    assert state["reoptimised"], "the split left grids under the bounds: re-optimise moves some"
    if state["reoptimised"]:
        assert page.inner_text("#reopt-state")
        n = len(state["moves"])
        bid, _f, to = next(
            p
            for p in _neighbour_pairs(session.grids, session.buildings)
            if state["grid_of"][p[0]] == p[1] and to_ok(state, p[1], p[2])
        )
        page.evaluate(f"editApp.zoomTo(['{bid}'])")
        page.click(f"path.b-{bid}")
        page.select_option("#target", to)
        _move(page, n)
        state = page.evaluate("editApp.state()")
        assert not state["reoptimised"] and state["grid_of"][bid] == to
        assert page.inner_text("#reopt-state") == ""
    assert not errors, errors
    page.close()


def test_a_head_is_flagged_only_when_the_edit_moves_his_home_out():
    """Grid heads are community cadres and may live outside their grid in the plan as drawn;
    the check names a head only where the edits took his home out of the grid."""
    import geopandas as gpd
    from shapely.geometry import Point, box

    from gridplan.edit.checks import CheckContext, check_grids

    grids = gpd.GeoDataFrame(
        {"grid_id": ["G1", "G2"], "community_id": ["C"] * 2, "households": [300, 300]},
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)],
        crs="EPSG:32650",
    )
    before = {"B1": "G1", "B2": "G1", "B3": "G2"}
    ctx = CheckContext(
        min_households=1,
        max_households=1000,
        heads={"G1": "P1", "G2": "P2"},
        home={"P1": "B1", "P2": "B1"},  # P2 heads G2 but lives in G1 already
    )

    def run(where: dict[str, str]) -> dict:
        b = gpd.GeoDataFrame(
            {"building_id": list(where), "grid_id": list(where.values()), "households": 100},
            geometry=[Point(50, 50), Point(60, 50), Point(150, 50)],
            crs="EPSG:32650",
        )
        return check_grids(grids, b, ["G1", "G2"], ctx, before=before)

    same = run(before)
    assert not same["G1"]["head_outside"] and not same["G2"]["head_outside"]
    moved = run({"B1": "G2", "B2": "G1", "B3": "G2"})  # P1's home goes to G2
    assert moved["G1"]["head_outside"]
    assert {"kind": "head", "ids": ["P1"]} in moved["G1"]["violations"]
    assert not moved["G2"]["head_outside"]  # P2 now lives in G2: nothing to say
