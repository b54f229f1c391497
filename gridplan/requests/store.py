"""Where the ledger lives: one GeoPackage file, or a PostgreSQL schema; the same SQL on both.

A target ending in ``.gpkg`` is a GeoPackage (SQLite): the tables are created by GDAL, so QGIS
and ``pyogrio`` open ``requests`` as a point layer (EPSG:4326), and every read and write after
that goes through SQLAlchemy Core. The point is stored twice on purpose: ``lon``/``lat``
columns (what gridplan reads, portable SQL) and a GeoPackage geometry blob written beside them
(what GIS tools read; no spatial index, so plain SQL may write the table). A
``postgresql://…[?schema=NAME]`` URL is a PostgreSQL database (PostGIS geometry when the
extension is there).

Everything that differs between the two stores is in :class:`Dialect`: how a write
transaction takes its lock (SQLite ``BEGIN IMMEDIATE``: one writer at a time, which suits a
community office; PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` on the rows a dispatch takes),
how the tables are created, how the point geometry is written, and the guard that keeps
``request_events`` append-only.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa

from gridplan._errors import DataError, OutputExistsError
from gridplan.db import DatabaseLocation, is_database_url, parse_database_url
from gridplan.requests.schema import COLUMNS, EVENTS, METADATA, POINTS, REQUESTS

__all__ = [
    "Dialect",
    "Ledger",
    "create_ledger",
    "gpkg_point",
    "open_ledger",
    "read_events",
    "read_points",
    "read_requests",
    "requests_frame",
]

_WGS84 = 4326
#: Seconds a writer waits for another writer's lock before giving up (SQLite).
BUSY_TIMEOUT_S = 60.0

_GUARD = "request_events is append-only: events are never changed or deleted"


def gpkg_point(lon: float, lat: float) -> bytes | None:
    """A GeoPackage geometry blob (``GP`` header, SRS 4326, little-endian WKB) of a point."""
    if lon is None or lat is None or not (np.isfinite(lon) and np.isfinite(lat)):
        return None
    return b"GP\x00\x01" + struct.pack("<iBIdd", _WGS84, 1, 1, float(lon), float(lat))


class Dialect:
    """The store-specific bits; one instance per ledger (SQLite unless PostgreSQL)."""

    name = "sqlite"

    def create(self, ledger: Ledger) -> None:
        """Create the tables of an empty GeoPackage with GDAL, then the guards."""
        import pyogrio

        assert ledger.path is not None
        kinds: dict[Any, Any] = {sa.Text: object, sa.Float: float, sa.Integer: "int64"}
        cols = {n: pd.Series([], dtype=kinds[t]) for n, t in COLUMNS.items()}
        frame = gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=_WGS84))
        opts = {"SPATIAL_INDEX": "NO", "GEOMETRY_NAME": "geom", "FID": "fid"}
        pyogrio.write_dataframe(
            frame,
            ledger.path,
            layer="requests",
            driver="GPKG",
            geometry_type="Point",
            layer_options=opts,
        )
        for table in (EVENTS, POINTS):
            kinds2 = {sa.Text: object, sa.Float: float}
            tcols = {
                c.name: pd.Series([], dtype=kinds2[type(c.type)])
                for c in table.columns
                if c.name != "fid"
            }
            pyogrio.write_dataframe(
                pd.DataFrame(tcols),
                ledger.path,
                layer=str(table.name),
                driver="GPKG",
                layer_options={"FID": "fid"},
            )
        with ledger.engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE UNIQUE INDEX IF NOT EXISTS requests_request_id ON requests (request_id)"
            )
            conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS requests_status ON requests (status)")
            conn.exec_driver_sql(
                "CREATE INDEX IF NOT EXISTS request_events_request ON request_events (request_id)"
            )
            for op in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS request_events_no_{op.lower()} BEFORE {op} "
                    f"ON request_events BEGIN SELECT RAISE(ABORT, '{_GUARD}'); END"
                )

    def begin(self, conn: sa.Connection) -> None:
        """Start a write transaction holding the write lock until it ends."""
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    def lock(self, select: sa.Select[Any]) -> sa.Select[Any]:
        """The rows of ``select`` locked for this transaction, rows another transaction holds
        left out (SQLite: every row is locked already, by BEGIN)."""
        return select

    def lock_wait(self, select: sa.Select[Any]) -> sa.Select[Any]:
        """The rows of ``select`` locked for this transaction, waiting for another
        transaction holding them (a status change reads, checks and writes one row)."""
        return select

    def one_dispatcher(self, conn: sa.Connection) -> None:
        """Wait until no other dispatch run is in its transaction (SQLite: BEGIN did)."""

    def error(self, exc: BaseException, ledger: Ledger, doing: str) -> Exception | None:
        """A GridplanError for a driver error (connection, password), or ``None``."""
        return None

    def geometry(self, lon: float, lat: float) -> bytes | None:
        return gpkg_point(lon, lat)

    def after_write(self, conn: sa.Connection) -> None:
        """Anything to do once rows are written (SQLite: nothing)."""


class PostgresDialect(Dialect):
    """PostgreSQL: row locks that other dispatchers skip, PostGIS geometry when available."""

    name = "postgresql"

    def create(self, ledger: Ledger) -> None:
        with ledger.write() as conn:
            if ledger.schema:
                conn.execute(sa.schema.CreateSchema(ledger.schema, if_not_exists=True))
            METADATA.create_all(conn)
            has_postgis = conn.exec_driver_sql(
                "SELECT 1 FROM pg_extension WHERE extname = 'postgis'"
            ).first()
            if has_postgis:
                conn.exec_driver_sql(
                    "ALTER TABLE requests ALTER COLUMN geom TYPE geometry(Point, 4326) USING NULL"
                )
            conn.exec_driver_sql(
                "CREATE UNIQUE INDEX IF NOT EXISTS requests_request_id ON requests (request_id)"
            )
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION request_events_guard() RETURNS trigger AS $$ "
                f"BEGIN RAISE EXCEPTION '{_GUARD}'; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER request_events_append_only BEFORE UPDATE OR DELETE ON "
                "request_events FOR EACH ROW EXECUTE FUNCTION request_events_guard()"
            )

    def begin(self, conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    def lock(self, select: sa.Select[Any]) -> sa.Select[Any]:
        return select.with_for_update(skip_locked=True)

    def lock_wait(self, select: sa.Select[Any]) -> sa.Select[Any]:
        return select.with_for_update()

    def one_dispatcher(self, conn: sa.Connection) -> None:
        # a transaction-level advisory lock per schema: a second dispatch run waits, then
        # sees the first one's assignments and capacity used (rows stay locked FOR UPDATE
        # SKIP LOCKED, so a case another writer holds is left for the next run)
        conn.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(hashtext('gridplan.requests.dispatch:' "
            "|| current_schema()))"
        )

    def error(self, exc: BaseException, ledger: Ledger, doing: str) -> Exception | None:
        if ledger.location is None or not isinstance(exc, sa.exc.OperationalError):
            return None
        from gridplan.db import database_error

        return database_error(exc, ledger.location, doing)

    def geometry(self, lon: float, lat: float) -> bytes | None:
        return None  # set from lon/lat in SQL by after_write

    def after_write(self, conn: sa.Connection) -> None:
        udt = conn.exec_driver_sql(
            "SELECT udt_name FROM information_schema.columns "
            "WHERE table_name = 'requests' AND column_name = 'geom' "
            "AND table_schema = current_schema()"
        ).scalar()
        if udt == "geometry":
            conn.exec_driver_sql(
                "UPDATE requests SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326) "
                "WHERE geom IS NULL AND lon IS NOT NULL AND lat IS NOT NULL"
            )


@dataclass(frozen=True)
class Ledger:
    """An open request ledger: where it is and the engine that reaches it."""

    url: str
    engine: sa.Engine
    dialect: Dialect
    path: Path | None = None
    schema: str | None = None
    #: The parsed URL of a PostgreSQL ledger (its ``masked`` form is what is ever shown).
    location: DatabaseLocation | None = None

    def __str__(self) -> str:
        if self.location is not None:
            return self.location.masked
        return str(self.path)

    def __repr__(self) -> str:
        return f"Ledger({str(self)!r})"

    @contextmanager
    def _connect(self, doing: str) -> Iterator[sa.Connection]:
        try:
            conn = self.engine.connect()
        except sa.exc.DBAPIError as exc:
            err = self.dialect.error(exc, self, doing)
            if err is None:
                raise
            raise err from None
        with conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction: committed when the block ends, rolled back on any error
        (a crash leaves the ledger as it was)."""
        with self._connect("writing the request ledger") as conn:
            self.dialect.begin(conn)
            try:
                yield conn
                self.dialect.after_write(conn)
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only connection (a consistent snapshot on both stores)."""
        with self._connect("reading the request ledger") as conn:
            conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                conn.exec_driver_sql("ROLLBACK")

    def table_names(self) -> set[str]:
        """The tables of the ledger's file or schema."""
        with self._connect("opening the request ledger") as conn:
            return set(sa.inspect(conn).get_table_names(schema=self.schema))


def _engine(target: str | Path) -> Ledger:
    text = str(target)
    if is_database_url(text):
        loc = parse_database_url(text)
        schema = loc.schema
        opts = {"schema_translate_map": {None: schema}} if schema else {}
        engine = sa.create_engine(
            loc.url,
            isolation_level="AUTOCOMMIT",
            poolclass=sa.pool.NullPool,
            execution_options=opts,
        )
        if schema:
            # functions and triggers resolve unqualified names through the search path
            @sa.event.listens_for(engine, "connect")
            def _search_path(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute(f'SET search_path TO "{schema}", public')
                cur.close()

        return Ledger(loc.masked, engine, PostgresDialect(), None, schema, loc)
    path = Path(text)
    if path.suffix.lower() != ".gpkg":
        msg = (
            f"request ledger: {text!r} is neither a .gpkg file nor a postgresql:// URL; "
            "give e.g. requests.gpkg"
        )
        raise DataError(msg)
    url = f"sqlite:///{path}"
    engine = sa.create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_S, "isolation_level": None}
    )
    return Ledger(url, engine, Dialect(), path, None)


def create_ledger(target: str | Path, *, overwrite: bool = False) -> Ledger:
    """Create an empty ledger.

    Parameters
    ----------
    target
        A ``.gpkg`` path or a ``postgresql://`` URL (``?schema=NAME`` for a schema).
    overwrite
        Replace an existing GeoPackage.

    Raises
    ------
    OutputExistsError
        The file exists and ``overwrite`` is false.
    """
    ledger = _engine(target)
    path = ledger.path
    if path is not None and path.exists():
        if not overwrite:
            msg = f"request ledger {path} exists; pass --overwrite to replace it"
            raise OutputExistsError(msg)
        path.unlink()
    ledger.dialect.create(ledger)
    return ledger


def open_ledger(target: str | Path | Ledger, *, create: bool = False) -> Ledger:
    """Open an existing ledger (or create it when ``create`` and it is missing).

    Raises
    ------
    DataError
        The file is missing (and ``create`` is false) or holds no ``requests`` table.
    """
    if isinstance(target, Ledger):
        return target
    ledger = _engine(target)
    path, dialect = ledger.path, ledger.dialect
    if path is not None and not path.exists():
        if create:
            dialect.create(ledger)
            return ledger
        msg = f"request ledger {path} does not exist; create it with `gridplan requests import`"
        raise DataError(msg)
    names = ledger.table_names()
    if "requests" not in names or "request_events" not in names:
        if create and not names & {"requests", "request_events"}:
            dialect.create(ledger)
            return ledger
        msg = f"request ledger {ledger}: no requests / request_events tables; is it a ledger?"
        raise DataError(msg)
    return ledger


_REQUEST_COLS = [REQUESTS.c[n] for n in COLUMNS]


def read_requests(
    ledger: str | Path | Ledger,
    *,
    statuses: Sequence[str] | None = None,
    conn: sa.Connection | None = None,
) -> gpd.GeoDataFrame:
    """The ledger's requests as a GeoDataFrame (points in EPSG:4326), sorted by request id.

    Parameters
    ----------
    ledger
        An open ledger.
    statuses
        Only requests in these statuses (all when ``None``).
    conn
        Read inside this transaction instead of a new one.
    """
    ledger = open_ledger(ledger)
    sel = sa.select(*_REQUEST_COLS).order_by(REQUESTS.c.request_id)
    if statuses is not None:
        sel = sel.where(REQUESTS.c.status.in_(list(statuses)))
    if conn is None:
        with ledger.read() as c:
            rows = c.execute(sel).mappings().all()
    else:
        rows = conn.execute(sel).mappings().all()
    return requests_frame(rows)


def requests_frame(rows: Sequence[Any]) -> gpd.GeoDataFrame:
    df = pd.DataFrame([dict(r) for r in rows], columns=list(COLUMNS), dtype=object)
    for col, typ in COLUMNS.items():
        if typ is sa.Text:  # text stays object, missing is None (whatever pandas infers)
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    for col in ("lon", "lat", "effort_h", "hours_spent", "points"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["escalation_level"] = (
        pd.to_numeric(df["escalation_level"], errors="coerce").fillna(0).astype(int)
    )
    geom = gpd.points_from_xy(df["lon"], df["lat"], crs=_WGS84)
    return gpd.GeoDataFrame(df, geometry=geom, crs=_WGS84)


def read_events(
    ledger: str | Path | Ledger, *, request_ids: Sequence[str] | None = None
) -> pd.DataFrame:
    """The append-only event log, oldest first."""
    ledger = open_ledger(ledger)
    sel = sa.select(*[c for c in EVENTS.c if c.name != "fid"]).order_by(EVENTS.c.fid)
    if request_ids is not None:
        sel = sel.where(EVENTS.c.request_id.in_(list(request_ids)))
    with ledger.read() as c:
        rows = c.execute(sel).mappings().all()
    cols = [c.name for c in EVENTS.c if c.name != "fid"]
    return pd.DataFrame([dict(r) for r in rows], columns=cols)


def read_points(ledger: str | Path | Ledger) -> pd.DataFrame:
    """The points ledger, oldest first (redemptions are negative)."""
    ledger = open_ledger(ledger)
    cols = [c.name for c in POINTS.c if c.name != "fid"]
    sel = sa.select(*[POINTS.c[n] for n in cols]).order_by(POINTS.c.fid)
    with ledger.read() as c:
        rows = c.execute(sel).mappings().all()
    df = pd.DataFrame([dict(r) for r in rows], columns=cols)
    for col in ("hours", "factor", "points"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df
