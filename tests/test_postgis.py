"""PostGIS: datasets read from a schema, plans written into one, against a real server.

The server is the session's throw-away PostgreSQL (``postgis`` fixture in conftest); the town is
loaded into schema ``town`` as a county office would hold it (roads in Web Mercator, the rest
in WGS84); the planner role must give its password, so the tests also check that it never
reaches any output.
"""

from __future__ import annotations

import json
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _postgres import PASSWORD
from click.testing import CliRunner

from gridplan.cli import main
from gridplan.db import is_database_url, parse_database_url, shown

pytestmark = pytest.mark.postgis


def _equal_layers(a: pd.DataFrame, b: pd.DataFrame, name: str) -> None:
    """Same columns in the same order, same rows, same values (a missing value equals a
    missing value whatever its dtype), same geometries exactly."""
    assert list(a.columns) == list(b.columns), name
    assert len(a) == len(b), name
    for col in a.columns:
        va, vb = a[col], b[col]
        if isinstance(va.dtype, gpd.array.GeometryDtype):
            ok = shapely.equals_exact(np.asarray(va.values), np.asarray(vb.values), 0.0)
            assert ok.all(), f"{name}.{col}: geometries differ"
            continue
        na, nb = va.isna().to_numpy(), vb.isna().to_numpy()
        assert (na == nb).all(), f"{name}.{col}: missing values differ"
        xa, xb = va[~na].tolist(), vb[~nb].tolist()
        if pd.api.types.is_numeric_dtype(va) and pd.api.types.is_numeric_dtype(vb):
            assert np.allclose(np.asarray(xa, float), np.asarray(xb, float), rtol=0, atol=0)
        else:
            assert [str(x) for x in xa] == [str(x) for x in xb], f"{name}.{col}"


def _untimed(value, top: bool = True):
    """Metadata without wall times and without what names the source (folder or schema)."""
    skip = {"created_at", "dataset", "checksums"} if top else set()
    if isinstance(value, dict):
        return {
            k: _untimed(v, False)
            for k, v in value.items()
            if k not in skip and not (k in ("seconds", "time") or str(k).endswith("_s"))
        }
    if isinstance(value, list):
        return [_untimed(v, False) for v in value]
    return value


def _load_schema(url: str, raw, schema: str, *, roads_crs=None) -> None:
    """Write a dataset's layers as the tables of ``schema``, as a GIS office holds them: a
    primary key each (rows read back in its order), ``sites`` spelt in capitals (matched
    without case), roads in ``roads_crs`` when given (any SRID is read)."""
    import sqlalchemy as sa

    engine = parse_database_url(url).engine()
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        for name, df in raw.layers.items():
            table = "SITES" if name == "sites" else name
            df = df.set_axis(pd.RangeIndex(1, len(df) + 1, name="fid"))
            if isinstance(df, gpd.GeoDataFrame):
                if name == "roads" and roads_crs is not None:
                    df = df.to_crs(roads_crs)
                df.to_postgis(table, conn, schema=schema, index=True)
            else:
                df.to_sql(table, conn, schema=schema, index=True)
            conn.execute(sa.text(f'ALTER TABLE {schema}."{table}" ADD PRIMARY KEY (fid)'))
    engine.dispose()


@pytest.fixture(scope="module")
def town_db(postgis, town_path):
    """The town's layers in schema ``town``."""
    from gridplan.io.load import read_dataset

    _load_schema(postgis.url(), read_dataset(town_path), "town")
    return postgis.url(schema="town")


@pytest.fixture(scope="module")
def runs(postgis, town_db, town_path, tmp_path_factory):
    """`gridplan run` of the town from files into a folder and from PostGIS into a schema."""
    base = tmp_path_factory.mktemp("pg")
    runner = CliRunner()
    file_out = base / "file-plan"
    r1 = runner.invoke(main, ["run", str(town_path), "--out", str(file_out), "--lang", "en"])
    assert r1.exit_code == 0, r1.output
    plan_url = postgis.url(schema="plan_a")
    files = base / "db-files"
    r2 = runner.invoke(
        main,
        ["-v", "run", town_db, "--out", plan_url, "--files", str(files), "--lang", "en"],
    )
    assert r2.exit_code == 0, r2.output
    return {"file": file_out, "url": plan_url, "files": files, "output": r2.output}


def test_urls_are_recognised_and_masked():
    url = "postgresql://planner:pa%40ss@db.example.cn:5432/gis?schema=plan_2026&sslmode=require"
    where = parse_database_url(url)
    assert is_database_url(url) and not is_database_url("data/town")
    assert where.schema == "plan_2026"
    assert "pa%40ss" not in where.masked and "***" in where.masked
    assert where.masked.startswith("postgresql://planner:***@db.example.cn:5432/gis?")
    assert "schema" not in where.url and "sslmode=require" in where.url
    assert shown(url) == where.masked and repr(where) == f"DatabaseLocation({where.masked!r})"
    from gridplan._errors import ConfigError

    with pytest.raises(ConfigError, match="not a plain name"):
        parse_database_url("postgresql://u@h/db?schema=plan;drop")


def test_dataset_from_postgis_equals_the_files(postgis, town_path, town_dataset):
    from gridplan.io.load import load_dataset, read_dataset

    _load_schema(postgis.url(), read_dataset(town_path), "town_webmerc", roads_crs=3857)
    ds = load_dataset(postgis.url(schema="town_webmerc"))
    assert PASSWORD not in str(ds.source) and "***" in str(ds.source)
    assert sorted(ds.layers) == sorted(town_dataset.layers)
    for name, layer in town_dataset.layers.items():
        got = ds.layers[name]
        if isinstance(layer, gpd.GeoDataFrame):
            assert got.crs == layer.crs, name
            # roads went through EPSG:3857 in the database: equal to the micrometre
            diff = shapely.hausdorff_distance(
                np.asarray(got.geometry.values), np.asarray(layer.geometry.values)
            )
            assert float(np.nanmax(diff)) < 1e-6, name
            got, layer = got.drop(columns="geometry"), layer.drop(columns="geometry")
        _equal_layers(pd.DataFrame(got), pd.DataFrame(layer), name)


def _report(folder) -> list[str]:
    """report.md's lines but the date of the data (file dates; a database table has none)."""
    text = (folder / "report.md").read_text(encoding="utf-8")
    return [ln for ln in text.splitlines() if "Date of the data" not in ln]


def test_plan_in_postgis_equals_the_plan_folder(runs):
    from gridplan.output.planfile import read_plan

    db = read_plan(runs["url"])
    fs = read_plan(runs["file"])
    assert sorted(db.layers) == sorted(fs.layers)
    for name in fs.layers:
        _equal_layers(db.layers[name], fs.layers[name], name)
    assert _untimed(db.metadata) == _untimed(fs.metadata)
    # the files that are files: report, rosters and map beside the schema, no plan.gpkg
    names = sorted(p.name for p in runs["files"].iterdir())
    assert "plan.gpkg" not in names and {"map.html", "report.md", "manifest.json"} <= set(names)
    assert _report(runs["files"]) == _report(runs["file"])


def test_plan_tables_have_spatial_indexes_and_a_jsonb_metadata(postgis, runs):
    import sqlalchemy as sa

    engine = parse_database_url(runs["url"]).engine()
    with engine.connect() as conn:
        idx = conn.execute(
            sa.text("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'plan_a'")
        ).all()
        kind = conn.execute(
            sa.text(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = 'plan_a' "
                "AND table_name = 'metadata' AND column_name = 'value'"
            )
        ).scalar()
        seed = conn.execute(
            sa.text("SELECT value FROM plan_a.metadata WHERE key = 'seed'")
        ).scalar()
    engine.dispose()
    gist = {t for t, d in idx if "USING gist" in d}
    assert {"grids", "units", "buildings", "sites"} <= gist
    assert kind == "jsonb" and seed == 0


def test_an_existing_schema_is_left_alone_without_overwrite(postgis, runs, town_db):
    from gridplan.output.planfile import read_plan

    before = read_plan(runs["url"])
    out = CliRunner().invoke(main, ["partition", town_db, "--out", runs["url"]])
    assert out.exit_code == 1
    assert "already exists" in out.output and "--overwrite" in out.output
    after = read_plan(runs["url"])
    assert sorted(after.layers) == sorted(before.layers)
    _equal_layers(after.grids, before.grids, "grids")


def test_a_failure_mid_write_leaves_the_old_schema(postgis, runs, town_plan, monkeypatch):
    from gridplan._errors import DataError
    from gridplan.output import postgis as pg
    from gridplan.output.planfile import read_plan

    before = read_plan(runs["url"])
    real = pg._write_table
    calls = {"n": 0}

    def failing(conn, frame, name, schema, crs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full (injected)")
        return real(conn, frame, name, schema, crs)

    monkeypatch.setattr(pg, "_write_table", failing)
    with pytest.raises(DataError, match="injected"):
        pg.write_plan_postgis(town_plan, parse_database_url(runs["url"]), overwrite=True)
    assert calls["n"] == 3  # two tables of the new plan were written, then it failed
    after = read_plan(runs["url"])
    assert sorted(after.layers) == sorted(before.layers)
    for name in before.layers:
        _equal_layers(after.layers[name], before.layers[name], name)
    assert after.metadata == before.metadata


def test_the_password_never_shows(postgis, runs, town_db, tmp_path, caplog):
    # the CLI's own output, with -v logging
    assert PASSWORD not in runs["output"] and "***" in runs["output"]
    # the files written beside the schema, and the plan's tables
    for path in runs["files"].rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path.name
    from gridplan.output.planfile import read_plan

    meta = json.dumps(read_plan(runs["url"]).metadata, default=str)
    assert PASSWORD not in meta and "***" in meta
    # errors: a wrong schema, a wrong password
    runner = CliRunner()
    bad_schema = postgis.url(schema="nothing_here")
    with caplog.at_level(logging.DEBUG):
        r1 = runner.invoke(main, ["-vv", "validate", bad_schema])
        wrong = postgis.url(password=PASSWORD + "x", schema="town")
        r2 = runner.invoke(main, ["run", wrong, "--out", str(tmp_path / "x")])
    assert r1.exit_code == 1 and "nothing_here" in r1.output
    assert r2.exit_code == 1 and "password authentication failed" in r2.output
    assert "PGPASSWORD" in r2.output
    for text in (r1.output, r2.output, caplog.text):
        assert PASSWORD not in text
    assert not (tmp_path / "x").exists()


def test_pgpassword_is_honoured(postgis, town_db, tmp_path, monkeypatch):
    from gridplan.io.load import load_dataset

    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    ds = load_dataset(postgis.url(password=None, schema="town"))
    assert len(ds.layers["buildings"]) > 0


def test_replan_reads_its_old_plan_from_a_schema(postgis, runs, town_path, tmp_path):
    out = tmp_path / "replan"
    r = CliRunner().invoke(main, ["replan", runs["url"], str(town_path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    from gridplan.output.planfile import read_plan

    new = read_plan(out)
    assert new.metadata["replan"]["households_moved"] == 0  # same data: nothing moves


def test_missing_layers_and_schema_are_clear_errors(postgis):
    from gridplan._errors import DataError
    from gridplan.io.load import load_dataset

    with pytest.raises(DataError, match="schema 'absent' does not exist"):
        load_dataset(postgis.url(schema="absent"))
    with pytest.raises(DataError, match="no gridplan layer in schema 'public'"):
        load_dataset(postgis.url())


def test_batched_into_a_schema_is_refused_before_any_work(postgis, town_path, tmp_path):
    out = CliRunner().invoke(
        main, ["run", str(town_path), "--out", postgis.url(schema="p_b"), "--batch-size", "2"]
    )
    assert out.exit_code == 1 and "--batch-size" in out.output


def test_files_without_a_database_is_a_usage_error(town_path, tmp_path):
    out = CliRunner().invoke(
        main, ["run", str(town_path), "--out", str(tmp_path / "a"), "--files", str(tmp_path / "b")]
    )
    assert out.exit_code == 2 and "--files" in out.output
    assert not (tmp_path / "a").exists()


def test_service_file_and_pgpass_are_honoured(postgis, town_db, tmp_path, monkeypatch):
    """The libpq way to keep a password out of every command line: a service file names the
    server, a .pgpass file (mode 0600) holds the password; the URL carries neither."""
    from _postgres import DATABASE, PLANNER

    from gridplan.io.load import load_dataset

    services = tmp_path / "pg_service.conf"
    services.write_text(
        f"[county]\nhost={postgis.socket_dir}\nport={postgis.port}\n"
        f"dbname={DATABASE}\nuser={PLANNER}\n",
        encoding="utf-8",
    )
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"*:*:{DATABASE}:{PLANNER}:{PASSWORD}\n", encoding="utf-8")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    ds = load_dataset("postgresql:///?service=county&schema=town")
    assert len(ds.layers["buildings"]) > 0
    assert str(ds.source) == "postgresql:///?service=county&schema=town"
