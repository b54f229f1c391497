"""The request ledger on PostgreSQL, against a real server: the same loop and the same results as
the GeoPackage ledger, row locks that two dispatchers never get past, a crash that changes
nothing, and a password that never shows.

The server is the session's throw-away PostgreSQL + PostGIS (``postgis`` fixture in conftest:
skipped locally when none can start, failed under ``CI=true``); each test writes its own schema.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from _postgres import PASSWORD
from click.testing import CliRunner

from gridplan.cli import main
from gridplan.requests import (
    dispatch_ledger,
    escalate_overdue,
    import_requests,
    load_context,
    open_ledger,
    read_events,
    read_points,
    read_requests,
    request_report,
    update_request,
)

pytestmark = pytest.mark.postgis

ROOT = Path(__file__).resolve().parents[1]
TOWN = ROOT / "data" / "town"
NOW = "2024-05-03T09:00+08:00"


@pytest.fixture(scope="module")
def ctx(town_plan_dir: Path):  # type: ignore[no-untyped-def]
    return load_context(town_plan_dir, TOWN)


def _fresh(postgis, schema: str) -> str:  # type: ignore[no-untyped-def]
    """The URL of an empty schema ``schema`` (dropped first if a run left it)."""
    engine = sa.create_engine(
        postgis.url(password=None, user="postgres").replace("postgresql:", "postgresql+psycopg:")
    )
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    engine.dispose()
    return str(postgis.url(schema=schema))


def _loop(target: str, ctx) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Import the town's month, dispatch, take a few cases through to the close, escalate what
    is overdue, report: what the ledger holds after each step."""
    import_requests(target, TOWN / "requests.csv", ctx)
    first = dispatch_ledger(target, ctx, now=NOW)
    done = first.assignments["request_id"].head(3).tolist()
    for i, rid in enumerate(done):
        update_request(target, rid, "accepted", at="2024-05-03T09:30+08:00")
        update_request(
            target,
            rid,
            "resolved",
            at="2024-05-03T12:00+08:00",
            resolution="已答复",
            hours=1.5 + i,
        )
        update_request(
            target, rid, "revisited", at="2024-05-05T10:00+08:00", satisfaction="satisfied"
        )
        update_request(target, rid, "closed", at="2024-05-05T10:05+08:00")
    back = first.assignments["request_id"].iloc[5]
    update_request(target, back, "returned", at="2024-05-03T10:00+08:00", note="不在家")
    escalated = escalate_overdue(target, now="2024-05-06T09:00+08:00")
    second = dispatch_ledger(target, ctx, now="2024-05-06T09:00+08:00")
    report = request_report(target, now="2024-05-31T23:00+08:00")
    return {
        "first": first.assignments,
        "first_unplaced": first.unplaced,
        "second": second.assignments,
        "escalated": escalated,
        "requests": read_requests(target).drop(columns="geometry"),
        "events": read_events(target),
        "points": read_points(target),
        "report": json.dumps(report, sort_keys=True, ensure_ascii=False),
    }


def test_the_loop_on_postgres_gives_the_geopackage_results(postgis, ctx, tmp_path):  # type: ignore[no-untyped-def]
    url = _fresh(postgis, "ledger_loop")
    on_pg = _loop(url, ctx)
    on_file = _loop(str(tmp_path / "l.gpkg"), ctx)
    assert len(on_pg["requests"]) == 242  # type: ignore[arg-type]
    assert on_pg["escalated"] == on_file["escalated"]
    for name in ("first", "first_unplaced", "second", "requests", "events", "points"):
        pd.testing.assert_frame_equal(on_pg[name], on_file[name], obj=name)  # type: ignore[arg-type]
    assert on_pg["report"] == on_file["report"]
    # a PostGIS point layer QGIS opens, at the request's lon/lat
    led = open_ledger(url)
    with led.read() as conn:
        kind, same = conn.exec_driver_sql(
            "SELECT GeometryType(geom), bool_and(ST_X(geom) = lon AND ST_Y(geom) = lat) "
            "FROM requests GROUP BY 1"
        ).one()
    assert (kind, same) == ("POINT", True)
    # the events stay append-only on PostgreSQL too
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), led.write() as conn:
        conn.exec_driver_sql("DELETE FROM request_events")
    assert len(read_events(url)) == len(on_pg["events"])  # type: ignore[arg-type]


def test_dispatch_skips_a_request_another_transaction_holds(postgis, ctx):  # type: ignore[no-untyped-def]
    url = _fresh(postgis, "ledger_skip")
    import_requests(url, TOWN / "requests.csv", ctx)
    held = read_requests(url, statuses=["classified"])["request_id"].iloc[0]
    led = open_ledger(url)
    with led.write() as conn:  # another office's transaction holds one row
        conn.execute(
            led.dialect.lock_wait(
                sa.select(sa.text("request_id")).select_from(sa.text("requests"))
            ).where(sa.text("request_id = :r")),
            {"r": held},
        )
        res = dispatch_ledger(url, ctx, now=NOW)  # does not wait for it, leaves it alone
        taken = set(res.assignments["request_id"]) | set(res.unplaced["request_id"])
        assert held not in taken and len(taken) > 0
    after = read_requests(url).set_index("request_id")
    assert after.loc[held, "status"] == "classified"
    assert dispatch_ledger(url, ctx, now=NOW).info["requests"] >= 1  # the next run takes it


_DISPATCH = textwrap.dedent(
    """
    import sys
    from gridplan.requests import dispatch_ledger, load_context
    ctx = load_context(sys.argv[2], sys.argv[3])
    res = dispatch_ledger(sys.argv[1], ctx, now="2024-05-10T09:00+08:00")
    print(res.info["placed"])
    """
)

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


def _py(code: str, *args: str) -> subprocess.Popen[str]:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_dispatch_processes_on_postgres_never_assign_one_request_twice(  # type: ignore[no-untyped-def]
    postgis, ctx, town_plan_dir
):
    url = _fresh(postgis, "ledger_two")
    import_requests(url, TOWN / "requests.csv", ctx)
    procs = [_py(_DISPATCH, url, str(town_plan_dir), str(TOWN)) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    placed = sorted(int(o[0].strip().splitlines()[-1]) for o in outs)
    ev = read_events(url)
    dispatched = ev[ev["to_status"] == "dispatched"]
    assert len(dispatched) > 0
    assert not dispatched["request_id"].duplicated().any()
    assert placed == [0, len(dispatched)]  # the second waited, then found nothing left
    df = read_requests(url)
    assert (df["status"] == "dispatched").sum() == len(dispatched)
    for out, err in outs:
        assert PASSWORD not in out + err


def test_a_crash_mid_dispatch_on_postgres_leaves_the_ledger_as_it_was(  # type: ignore[no-untyped-def]
    postgis, ctx, town_plan_dir
):
    url = _fresh(postgis, "ledger_crash")
    import_requests(url, TOWN / "requests.csv", ctx)
    before = read_requests(url).drop(columns="geometry")
    events = read_events(url)
    proc = _py(_CRASH, url, str(town_plan_dir), str(TOWN))
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    pd.testing.assert_frame_equal(read_requests(url).drop(columns="geometry"), before)
    pd.testing.assert_frame_equal(read_events(url), events)
    assert dispatch_ledger(url, ctx, now=NOW).info["placed"] > 0  # no lock left behind


def test_the_password_never_shows_in_the_request_loop(  # type: ignore[no-untyped-def]
    postgis, town_plan_dir, tmp_path, caplog
):
    url = _fresh(postgis, "ledger_cli")
    runner = CliRunner()
    outputs = []
    with caplog.at_level(logging.DEBUG):
        for args in (
            ["import", str(TOWN / "requests.csv"), "--plan", str(town_plan_dir)],
            ["dispatch", "--plan", str(town_plan_dir), "--dataset", str(TOWN), "--now", NOW],
            ["list", "--status", "dispatched"],
            ["report", "--plan", str(town_plan_dir), "--out", str(tmp_path / "rep")],
        ):
            res = runner.invoke(main, ["-v", "requests", *args, "--ledger", url])
            assert res.exit_code == 0, res.output
            outputs.append(res.output)
        wrong = postgis.url(password=PASSWORD + "x", schema="ledger_cli")
        bad = runner.invoke(main, ["requests", "list", "--ledger", wrong])
        gone = postgis.url(schema="no_ledger_here")
        missing = runner.invoke(main, ["requests", "list", "--ledger", gone])
    assert "imported 242" in outputs[0] and "***" in outputs[0]
    assert bad.exit_code == 1 and "password authentication failed" in bad.output
    assert "PGPASSWORD" in bad.output and "***" in bad.output
    assert missing.exit_code == 1 and "no requests / request_events tables" in missing.output
    for text in (*outputs, bad.output, missing.output, caplog.text):
        assert PASSWORD not in text
    for path in (tmp_path / "rep").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path.name
    with pytest.raises(Exception) as info:  # the API's errors too
        read_requests(wrong)
    assert PASSWORD not in str(info.value) and "***" in str(info.value)
