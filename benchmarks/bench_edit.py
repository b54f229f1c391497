"""``gridplan edit`` on a city: page load (bytes, seconds until the map is drawn) and the
latency of a move, a re-optimise and an undo through the HTTP API.

Plans the ``city`` sample (``gridplan sample --scale city`` then ``gridplan run``, ~70 000
households, 176 grids) unless ``--plan`` and ``--dataset`` are given, starts the edit server on
a free port in this process and measures:

- the session's start (reading the plan and the dataset, the checks of every grid);
- each request of the page (bytes, seconds): the page, the buildings, the state;
- in headless Chromium (when there), the seconds from opening the page until the map is drawn
  (the page sets ``body[data-ready]``);
- a move of one building to a neighbouring grid, a re-optimise of the rest and an undo, each
  through the JSON API (seconds until the answer is read, and its bytes).

Run: ``.venv/bin/python benchmarks/bench_edit.py`` (``--plan DIR --dataset FILE`` for another
plan; ``--no-write`` only prints).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CHROMIUM, CHROMIUM_ARGS, WORK_DIR, table, write_section

warnings.filterwarnings("ignore")


def city_plan() -> tuple[Path, Path]:
    """The city sample and its plan in the scratch folder (made once)."""
    from click.testing import CliRunner

    from gridplan.cli import main

    data, plan = WORK_DIR / "city.gpkg", WORK_DIR / "city-plan"
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if not data.exists():
        res = CliRunner().invoke(main, ["sample", "--scale", "city", "--out", str(data)])
        assert res.exit_code == 0, res.output
    if not (plan / "plan.gpkg").exists():
        res = CliRunner().invoke(main, ["run", str(data), "--out", str(plan), "--lang", "en"])
        assert res.exit_code == 0, res.output
    return plan, data


def _read(req: urllib.request.Request) -> tuple[float, int, Any]:
    """Seconds until the answer is read and decoded, bytes on the wire (gzip accepted, as a
    browser does), the decoded body."""
    req.add_header("Accept-Encoding", "gzip")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        body = r.read()
        wire = len(body)
        if r.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
    return time.perf_counter() - t0, wire, body


def _get(url: str) -> tuple[float, int, Any]:
    try:
        return _read(urllib.request.Request(url))
    except urllib.error.HTTPError:  # (an older server without this path)
        return 0.0, 0, None


def _post(url: str, data: dict[str, Any]) -> tuple[float, int, Any]:
    req = urllib.request.Request(
        url,
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    secs, wire, body = _read(req)
    return secs, wire, json.loads(body)


def a_neighbour_move(session: Any) -> tuple[str, str, str]:
    """A building of the grid with the most households, nearest to a neighbouring grid."""
    g = session.grids.set_index("grid_id")
    hh = g["households"].sort_values(ascending=False, kind="stable")
    b = session.buildings
    for frm in hh.index.astype(str):
        nb = session.draft.neighbours.get(frm, [])
        if not nb:
            continue
        to = sorted(nb)[0]
        mine = b[(b["grid_id"].astype(str) == frm) & (b["households"] > 0)]
        d = mine.geometry.distance(g.geometry[to])
        return str(mine.loc[d.idxmin(), "building_id"]), frm, to
    raise SystemExit("no two neighbouring grids")


def browser_load(url: str) -> float | None:
    """Seconds from opening the page until the map is drawn (``None`` without Chromium)."""
    if not CHROMIUM.exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as pw:
        br = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = br.new_page(viewport={"width": 1400, "height": 900})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else r.abort())
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", state="attached", timeout=600_000)
        seconds = time.perf_counter() - t0
        br.close()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", type=Path)
    ap.add_argument("--dataset", type=Path)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from gridplan.edit.server import EditServer
    from gridplan.edit.session import EditSession

    if args.plan:
        plan, data, desc = args.plan, args.dataset, f"plan {args.plan.name}"
    else:
        plan, data = city_plan()
        desc = "`city` sample (seed 0), planned by `gridplan run`"
    work = WORK_DIR / "edit-bench-plan"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(plan, work)  # the session writes its lock and autosave into the plan
    t0 = time.perf_counter()
    session = EditSession(work, data, lang="en", by="bench")
    t_start = time.perf_counter() - t0
    n_b, n_g = len(session.buildings), len(session.grids)
    hh = int(session.buildings["households"].sum())
    srv = EditServer(("127.0.0.1", 0), session)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    rows: list[list[Any]] = [["start the session (read plan + dataset, checks)", "", t_start]]
    total = 0
    for name, path in (
        ("page (HTML + Leaflet + script)", ""),
        ("buildings", "api/buildings"),
        ("buildings again (cached)", "api/buildings"),
        ("original grids", "api/base"),
        ("state: grids, checks, violations", "api/state"),
    ):
        secs, size, body = _get(srv.url + path)
        if body is None:
            continue
        if "again" not in name:
            total += size
        rows.append([f"GET /{path}: {name}", size, secs])
    load = browser_load(srv.url)
    if load is not None:
        rows.append(["Chromium: open the page until the map is drawn", total, load])
    bid, frm, to = a_neighbour_move(session)
    secs, size, res = _post(srv.url + "api/move", {"buildings": [bid], "grid_id": to})
    if "state" not in res:
        secs, size, res = _post(
            srv.url + "api/move",
            {"buildings": [bid], "grid_id": to, "accept": True, "reason": "benchmark"},
        )
    rows.append([f"POST /api/move: one building {frm} → {to}", size, secs])
    secs, size, _ = _post(srv.url + "api/reoptimise", {})
    rows.append(["POST /api/reoptimise: re-optimise the rest", size, secs])
    secs, size, _ = _post(srv.url + "api/undo", {})
    rows.append(["POST /api/undo", size, secs])
    srv.shutdown()
    srv.server_close()
    session.close()
    shutil.rmtree(work, ignore_errors=True)
    body = "\n".join(
        [
            f"{desc}: {n_b} buildings, {hh} households, {n_g} grids. The edit server runs in "
            "the benchmark's process on a free port; each request is timed once, from sending "
            "it until its answer is read and decoded (one run: these are latencies a planner "
            "waits through, not medians). Bytes are on the wire, gzip accepted as by a "
            "browser.",
            "",
            table(["step", "bytes", "seconds"], rows),
            "",
            "Before the edit server sent geometry once and redrew only the communities a change "
            "touches (this script at commit e299f5a, same plan, bytes without gzip there): "
            "2 813 598 bytes and 1.82 s until the map was drawn, a move 2.03 s (498 223 bytes "
            "back), a re-optimise 3.95 s, an undo 3.00 s.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section(
            "edit",
            "Hand edits on a city (`gridplan edit`)",
            body,
            command=".venv/bin/python benchmarks/bench_edit.py",
        )


if __name__ == "__main__":
    main()
