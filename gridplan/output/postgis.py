"""Plans in PostgreSQL/PostGIS: every layer of ``plan.gpkg`` as a table of one schema.

:func:`write_plan_postgis` writes a plan into the schema its URL names (``?schema=plan_2026``):
the contract layers (``grids``, ``units``, ``unit_members``, ``buildings``, ``assignments``,
``coverage``, ``sites``), the extras a run produced (``communities``, ``vacancies``,
``building_parts``, …) and a ``metadata`` table (``key`` text, ``value`` jsonb), each spatial
table with a GiST index on its geometry, in the plan's output CRS (the input's). The whole
write is **one transaction**: the old schema is dropped and the new one created inside it, so
a failure at any point leaves the previous plan schema exactly as it was, and readers never see
half a plan. Without ``overwrite`` an existing schema is never touched. Large tables go in
chunks of :data:`CHUNK_ROWS` rows.

:func:`read_plan_postgis` reads such a schema back as a :class:`~gridplan.output.planfile.Plan`,
so ``gridplan replan`` and ``gridplan report`` take a plan schema wherever they take a folder.

In QGIS: *Layer → Add Layer → Add PostGIS Layers…*, a connection to the database, then the
plan's schema: its tables are the plan's layers.
"""

from __future__ import annotations

import json
import logging
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan._errors import DataError, GridplanError, OutputExistsError
from gridplan._text import tiers_in_order
from gridplan.db import DatabaseLocation, database_error, quote_ident, schema_exists, table_names
from gridplan.output.planfile import (
    CONTRACT_LAYERS,
    TIER_LAYERS,
    Plan,
    PlanMetadata,
    tier_order,
    writable_table,
)

__all__ = [
    "CHUNK_ROWS",
    "check_plan_schema",
    "read_plan_postgis",
    "write_dataset_postgis",
    "write_plan_postgis",
]

logger = logging.getLogger(__name__)

#: Rows per INSERT batch when writing a table.
CHUNK_ROWS = 20_000


def _schema(where: DatabaseLocation, what: str = "plan") -> str:
    if where.schema is None:
        msg = (
            f"{where.masked}: name the schema the {what} goes into, e.g. ?schema={what}_2026 "
            f"(a {what} is written as the tables of one schema)"
        )
        raise DataError(msg)
    return where.schema


def check_plan_schema(
    where: DatabaseLocation, *, overwrite: bool = False, what: str = "plan"
) -> None:
    """Raise before any work when the plan schema may not be written: the database cannot be
    reached, or the schema exists and ``overwrite`` is false.

    Raises
    ------
    OutputExistsError
        The schema exists and ``overwrite`` is false (nothing was changed).
    DataError
        No schema in the URL, or the database cannot be reached.
    """
    schema = _schema(where, what)
    engine = where.engine()
    try:
        with engine.connect() as conn:
            exists = schema_exists(conn, schema)
    except Exception as exc:
        raise database_error(exc, where, "connecting") from None
    finally:
        engine.dispose()
    if exists and not overwrite:
        msg = (
            f"{where.masked}: schema {schema!r} already exists; pass --overwrite to replace it "
            "(nothing was changed)"
        )
        raise OutputExistsError(msg)


#: Single-part shapely type ids -> the multi-part type GDAL promotes them to in a mixed layer.
_MULTI = {0: 4, 1: 5, 3: 6}


def _as_file_layer(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The layer as GDAL writes it into ``plan.gpkg``: geometry the last column, and single
    parts promoted to multi-parts where a layer mixes both (Polygon and MultiPolygon units),
    so that a plan read from the database equals the one read from the file."""
    geoms = np.asarray(gdf.geometry.values)
    types = shapely.get_type_id(geoms)
    present = set(types[~shapely.is_missing(geoms)].tolist())
    for single, multi in _MULTI.items():
        if single in present and multi in present:
            make = {4: shapely.multipoints, 5: shapely.multilinestrings, 6: shapely.multipolygons}
            idx = np.flatnonzero(types == single)
            geoms = geoms.copy()
            geoms[idx] = [make[multi]([g]) for g in geoms[idx]]
            gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    geom = gdf.geometry.name
    return gdf[[c for c in gdf.columns if c != geom] + [geom]]


def _copy_rows(table: Any, conn: Any, keys: list[str], rows: Any) -> None:
    """pandas ``to_sql`` method: the rows through PostgreSQL's COPY (psycopg's ``write_row``
    keeps an empty string apart from NULL), many times faster than INSERTs on large tables."""
    qualified = f"{quote_ident(table.schema)}.{quote_ident(table.name)}"
    cols = ", ".join(quote_ident(k) for k in keys)
    with conn.connection.cursor() as cur, cur.copy(f"COPY {qualified} ({cols}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row([None if _missing(v) else v for v in row])


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _write_table(conn: Any, frame: pd.DataFrame, name: str, schema: str, crs: Any) -> None:
    """One table: the rows numbered 1… in a primary key ``fid`` (QGIS needs a key to open a
    PostGIS layer; readers get the rows back in order), geometry last and indexed."""
    import sqlalchemy as sa

    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        gdf = _as_file_layer(frame)
        if gdf.crs is None and crs is not None:
            gdf = gdf.set_crs(crs)
        if crs is not None and gdf.crs is not None and not gdf.crs.equals(crs):
            gdf = gdf.to_crs(crs)
        gdf = cast(gpd.GeoDataFrame, writable_table(gdf))
        if gdf.geometry.name != "geometry":
            gdf = gdf.rename_geometry("geometry")
        gdf.index = pd.RangeIndex(1, len(gdf) + 1, name="fid")
        gdf.to_postgis(name, conn, schema=schema, index=True, chunksize=CHUNK_ROWS)
    else:
        table = writable_table(pd.DataFrame(frame))
        table.index = pd.RangeIndex(1, len(table) + 1, name="fid")
        table.to_sql(name, conn, schema=schema, index=True, chunksize=CHUNK_ROWS, method=_copy_rows)
    qualified = f"{quote_ident(schema)}.{quote_ident(name)}"
    conn.execute(sa.text(f"ALTER TABLE {qualified} ADD PRIMARY KEY (fid)"))


def write_plan_postgis(plan: Plan, where: DatabaseLocation, *, overwrite: bool = False) -> str:
    """Write ``plan`` into the schema of ``where`` in one transaction (module docstring).

    Parameters
    ----------
    plan
        The plan (the ``people`` roster, if the plan holds it, is not written).
    where
        Database and schema (``?schema=`` is required).
    overwrite
        Replace an existing schema (its tables and anything else in it).

    Returns
    -------
    str
        The masked URL written to.

    Raises
    ------
    OutputExistsError
        The schema exists and ``overwrite`` is false; nothing was changed.
    DataError
        The database refused the write; the previous schema is as it was.
    """
    schema = _schema(where)
    crs = plan.output_crs or plan.crs
    names = list(CONTRACT_LAYERS) + [
        n for n in plan.layers if n not in CONTRACT_LAYERS and n != "people"
    ]

    def fill(conn: Any) -> None:
        import sqlalchemy as sa
        from sqlalchemy.dialects.postgresql import JSONB

        for name in names:
            _write_table(conn, plan.layer(name), name, schema, crs)
        meta = pd.DataFrame(
            {
                "key": list(plan.metadata),
                "value": [
                    json.loads(json.dumps(v, ensure_ascii=False, sort_keys=True, default=str))
                    for v in plan.metadata.values()
                ],
            }
        )
        meta.to_sql("metadata", conn, schema=schema, index=False, dtype={"value": JSONB})
        conn.execute(sa.text(f"ALTER TABLE {quote_ident(schema)}.metadata ADD PRIMARY KEY (key)"))

    _replace_schema(where, schema, fill, overwrite=overwrite, doing="writing the plan")
    logger.info("wrote the plan into %s (%d tables)", where.masked, len(names) + 1)
    return where.masked


def _replace_schema(
    where: DatabaseLocation,
    schema: str,
    fill: Any,
    *,
    overwrite: bool,
    doing: str,
) -> None:
    """Create ``schema`` afresh and ``fill(conn)`` it, all in one transaction: the old schema
    is dropped inside it, so a failure at any point leaves it exactly as it was."""
    engine = where.engine()
    try:
        import sqlalchemy as sa

        with engine.begin() as conn:
            # one writer of this schema at a time; others wait for this transaction
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
            if schema_exists(conn, schema):
                if not overwrite:
                    msg = (
                        f"{where.masked}: schema {schema!r} already exists; pass --overwrite "
                        "to replace it (nothing was changed)"
                    )
                    raise OutputExistsError(msg)
                conn.execute(sa.text(f"DROP SCHEMA {quote_ident(schema)} CASCADE"))
            conn.execute(sa.text(f"CREATE SCHEMA {quote_ident(schema)}"))
            fill(conn)
    except GridplanError:
        raise
    except Exception as exc:
        raise database_error(exc, where, f"{doing} into schema {schema!r}") from None
    finally:
        engine.dispose()


def write_dataset_postgis(
    layers: dict[str, pd.DataFrame], where: DatabaseLocation, *, overwrite: bool = False
) -> str:
    """Write a dataset's layers as the tables of the schema of ``where`` (each named by its
    layer, a primary key ``fid``, spatial ones with a GiST index), in one transaction, so
    :func:`gridplan.io.load_dataset` reads the schema back as the dataset.

    Raises
    ------
    OutputExistsError
        The schema exists and ``overwrite`` is false; nothing was changed.
    DataError
        No schema in the URL, or the database refused the write (the previous schema is as
        it was).
    """
    schema = _schema(where, "dataset")

    def fill(conn: Any) -> None:
        for name, frame in layers.items():
            crs = frame.crs if isinstance(frame, gpd.GeoDataFrame) else None
            _write_table(conn, frame, name, schema, crs)

    _replace_schema(where, schema, fill, overwrite=overwrite, doing="writing the dataset")
    logger.info("wrote the dataset into %s (%d tables)", where.masked, len(layers))
    return where.masked


def read_plan_postgis(where: DatabaseLocation, *, layers: Any = None) -> Plan:
    """Read a plan schema written by :func:`write_plan_postgis`.

    ``layers``: read only these (and the metadata); ``None`` for every table.

    Raises
    ------
    DataError
        The schema does not exist, holds no ``metadata`` table, or cannot be read.
    """
    from gridplan.io.postgis import read_table

    schema = _schema(where)
    wanted = None if layers is None else {*layers, "metadata"}
    plan = Plan()
    engine = where.engine()
    try:
        with engine.connect() as conn:
            if not schema_exists(conn, schema):
                msg = (
                    f"plan {where.masked}: schema {schema!r} does not exist; give the schema "
                    "written by `gridplan run --out postgresql://…?schema=NAME`"
                )
                raise DataError(msg)
            tables = table_names(conn, schema)
            if "metadata" not in tables:
                msg = (
                    f"plan {where.masked}: schema {schema!r} has no metadata table, so it is "
                    "not a gridplan plan; give the schema a `gridplan run` wrote"
                )
                raise DataError(msg)
            for name in tables:
                if wanted is not None and name not in wanted:
                    continue
                df = read_table(conn, schema, name)
                if name == "metadata":
                    plan.metadata = cast(
                        PlanMetadata,
                        {
                            str(k): tiers_in_order(v)
                            for k, v in zip(df["key"], df["value"], strict=True)
                        },
                    )
                    continue
                plan.layers[name] = tier_order(df) if name in TIER_LAYERS else df
                if isinstance(df, gpd.GeoDataFrame) and plan.crs is None:
                    plan.crs = df.crs
    except GridplanError:
        raise
    except Exception as exc:
        raise database_error(exc, where, f"reading the plan in schema {schema!r}") from None
    finally:
        engine.dispose()
    plan.output_crs = plan.crs
    return plan
