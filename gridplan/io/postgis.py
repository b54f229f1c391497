"""Read a dataset from a PostgreSQL/PostGIS schema (:func:`read_postgis_layers`).

The schema holds the dataset's layers as tables of the same names (``buildings``,
``communities``, ``roads``, … matched case-insensitively, or through a mapping of layer ->
table name), with the same columns and aliases as files. A table's PostGIS geometry column
(any SRID; the first one when there are several) becomes the layer's geometry; a table
without one (``people``, ``vulnerable``, ``overrides``) is read as a plain table. Everything
after reading (aliases, validation, preparation) is what a file dataset goes through.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd

from gridplan._errors import DataError, GridplanError
from gridplan.db import (
    DEFAULT_SCHEMA,
    DatabaseLocation,
    database_error,
    quote_ident,
    schema_exists,
    table_names,
)
from gridplan.io.read import LAYERS

__all__ = ["read_postgis_layers"]


def _geometry_column(conn: Any, schema: str, table: str) -> str | None:
    import sqlalchemy as sa

    row = conn.execute(
        sa.text(
            "SELECT f_geometry_column FROM geometry_columns "
            "WHERE f_table_schema = :s AND f_table_name = :t ORDER BY f_geometry_column LIMIT 1"
        ),
        {"s": schema, "t": table},
    ).first()
    return None if row is None else str(row[0])


def _primary_key(conn: Any, schema: str, table: str) -> list[str]:
    import sqlalchemy as sa

    rows = conn.execute(
        sa.text(
            "SELECT k.column_name FROM information_schema.table_constraints c "
            "JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name "
            "AND k.table_schema = c.table_schema AND k.table_name = c.table_name "
            "WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = :s "
            "AND c.table_name = :t ORDER BY k.ordinal_position"
        ),
        {"s": schema, "t": table},
    )
    return [str(r[0]) for r in rows]


def read_table(conn: Any, schema: str, table: str) -> pd.DataFrame:
    """One table of ``schema``: a GeoDataFrame when it has a geometry column (its CRS from the
    column's SRID), else a DataFrame.

    Rows come in the order of the primary key (a table without one: its physical order, the
    same for an unchanged table); a key column named ``fid`` (GDAL's, and that of the tables
    gridplan writes) is a row number and is left out, as a GeoPackage's is.
    """
    geom = _geometry_column(conn, schema, table)
    key = _primary_key(conn, schema, table)
    order = ", ".join(quote_ident(k) for k in key) if key else "ctid"
    sql = f"SELECT * FROM {quote_ident(schema)}.{quote_ident(table)} ORDER BY {order}"
    if geom is None:
        frame = pd.read_sql_query(sql, conn)
    else:
        import sqlalchemy as sa

        srid = conn.execute(
            sa.text("SELECT Find_SRID(:s, :t, :g)"), {"s": schema, "t": table, "g": geom}
        ).scalar()
        crs = f"EPSG:{srid}" if srid else None
        frame = gpd.read_postgis(sql, conn, geom_col=geom, crs=crs)
    if key == ["fid"]:
        frame = frame.drop(columns="fid")
    return frame


def read_postgis_layers(
    where: DatabaseLocation, wanted: dict[str, str], problems: list[str]
) -> dict[str, pd.DataFrame]:
    """The dataset layers found in the schema of ``where`` (``public`` when it names none).

    Parameters
    ----------
    where
        The database and schema (:func:`gridplan.db.parse_database_url`).
    wanted
        gridplan layer name -> table name to look for.
    problems
        Receives a line when the schema holds no gridplan layer.

    Raises
    ------
    DataError
        The database cannot be reached (the message names the masked URL, never the
        password), or the schema does not exist.
    """
    schema = where.schema_or(DEFAULT_SCHEMA)
    engine = where.engine()
    out: dict[str, pd.DataFrame] = {}
    names: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            if not schema_exists(conn, schema):
                msg = (
                    f"dataset {where.masked}: schema {schema!r} does not exist. Fix: name the "
                    "schema holding the layers with ?schema=NAME"
                )
                raise DataError(msg)
            names = {t.lower(): t for t in table_names(conn, schema)}
            for layer, source in wanted.items():
                real = names.get(source.lower())
                if real is not None:
                    out[layer] = read_table(conn, schema, real)
    except GridplanError:
        raise
    except Exception as exc:  # the driver's errors: scrubbed of the password
        raise database_error(exc, where, f"reading schema {schema!r}") from None
    finally:
        engine.dispose()
    if not out:
        held = ", ".join(sorted(names.values())) or "no tables"
        problems.append(
            f"dataset: no gridplan layer in schema {schema!r} of {where.masked} (it holds "
            f"{held}). Fix: name the tables {', '.join(LAYERS)}"
        )
    return out
