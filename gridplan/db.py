"""PostgreSQL/PostGIS locations: ``postgresql://`` URLs wherever a dataset or a plan path goes.

A URL names a database and, with ``?schema=NAME``, a schema in it (``public`` when not given for
reading; writing a plan needs one)::

    postgresql://planner@db.county.gov.cn:5432/gis?schema=town
    postgresql:///gis?service=county&schema=plan_2026      # a libpq service file entry
    postgresql://planner@/gis?host=/run/postgresql&schema=town   # a Unix socket

Passwords are best left out of the URL: libpq reads ``PGPASSWORD``, ``~/.pgpass`` and service
files (``PGSERVICEFILE``) by itself. A password given in the URL is used but never shown:
:attr:`DatabaseLocation.masked` (``postgresql://planner:***@…``) is what logs, messages,
reports and plan metadata carry, and :func:`database_error` scrubs it from driver errors.

The drivers (SQLAlchemy 2, GeoAlchemy2, psycopg 3) are the optional ``postgis`` extra; they are
imported only when a URL is used, with an install hint when missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from gridplan._errors import ConfigError, DataError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "DEFAULT_SCHEMA",
    "SCHEMES",
    "DatabaseLocation",
    "database_error",
    "is_database_url",
    "parse_database_url",
    "quote_ident",
    "schema_exists",
    "shown",
    "table_names",
]

#: URL schemes read as PostgreSQL (SQLAlchemy's spellings included).
SCHEMES: tuple[str, ...] = ("postgresql", "postgres", "postgresql+psycopg", "postgis")
#: Schema read when a dataset URL names none.
DEFAULT_SCHEMA = "public"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_INSTALL = "pip install 'gridplan[postgis]'"


def shown(location: object) -> str:
    """How a dataset or plan location is printed: a URL with its password masked, a path as is."""
    if is_database_url(location):
        return _mask(str(location))
    return str(location)


def is_database_url(value: object) -> bool:
    """Whether ``value`` is a PostgreSQL URL (``postgresql://…``) rather than a file path."""
    if not isinstance(value, str):
        return False
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    return scheme in SCHEMES


@dataclass(frozen=True)
class DatabaseLocation:
    """A database and schema parsed from a URL.

    Attributes
    ----------
    url
        The connection URL for SQLAlchemy (``postgresql+psycopg://``), without ``schema``;
        holds the password when the URL gave one: never print it.
    schema
        The schema named by ``?schema=``, or ``None``.
    masked
        The URL as given, the password replaced by ``***``: safe to print and store.
    password
        The password the URL gave (``None``: libpq finds one, or none is needed), for scrubbing.
    """

    url: str
    schema: str | None
    masked: str
    password: str | None = None

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"DatabaseLocation({self.masked!r})"

    def schema_or(self, default: str) -> str:
        """The URL's schema, or ``default``."""
        return self.schema or default

    def engine(self) -> Engine:
        """A SQLAlchemy engine on the database (no pooling: a command connects once)."""
        try:
            import sqlalchemy as sa
        except ImportError:
            msg = (
                f"{self.masked}: reading or writing PostgreSQL needs the postgis extra: {_INSTALL}"
            )
            raise ConfigError(msg) from None
        try:
            import psycopg  # noqa: F401
        except ImportError:
            msg = f"{self.masked}: the PostgreSQL driver psycopg 3 is missing: {_INSTALL}"
            raise ConfigError(msg) from None
        return sa.create_engine(self.url, poolclass=sa.pool.NullPool)

    def with_schema(self, schema: str) -> DatabaseLocation:
        """The same database, another schema."""
        return DatabaseLocation(
            self.url, schema, _mask(_set_schema(self.masked, schema)), self.password
        )


def _unsplit(scheme: str, netloc: str, path: str, query: str) -> str:
    """A URL from its parts, keeping ``//`` when there is no host (``urlunsplit`` drops it)."""
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def _set_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    query.append(("schema", schema))
    return _unsplit(parts.scheme, parts.netloc, parts.path, urlencode(query, safe="/:"))


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{quote(user, safe='')}:***@{host}"
    return _unsplit(parts.scheme, netloc, parts.path, parts.query)


def parse_database_url(text: str) -> DatabaseLocation:
    """Parse a PostgreSQL URL (see the module docstring).

    Raises
    ------
    ConfigError
        Not a PostgreSQL URL, or a schema name PostgreSQL would need quoted.
    """
    if not is_database_url(text):
        msg = f"{text!r} is not a PostgreSQL URL; write postgresql://user@host/database?schema=NAME"
        raise ConfigError(msg)
    masked = _mask(text)
    parts = urlsplit(text)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in query if k == "schema"]
    schema = schemas[-1] if schemas else None
    if schema is not None and not _SCHEMA_NAME.match(schema):
        msg = (
            f"{masked}: schema {schema!r} is not a plain name; use letters, digits and "
            "underscores, starting with a letter (e.g. plan_2026)"
        )
        raise ConfigError(msg)
    rest = [(k, v) for k, v in query if k != "schema"]
    url = _unsplit("postgresql+psycopg", parts.netloc, parts.path, urlencode(rest, safe="/:"))
    return DatabaseLocation(url=url, schema=schema, masked=masked, password=parts.password)


def database_error(exc: BaseException, where: DatabaseLocation, doing: str) -> DataError:
    """A :class:`DataError` for a driver error, naming the (masked) location and what was
    being done, with any trace of the password removed and a hint for the usual causes."""
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    text = re.sub(r"\(Background on this error at: [^)]*\)", "", text).strip()
    if where.password:
        text = text.replace(where.password, "***").replace(quote(where.password, safe=""), "***")
    hint = ""
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        hint = " Fix: set PGPASSWORD, a ~/.pgpass line or a service file for this user."
    elif "does not exist" in low and "database" in low:
        hint = " Fix: check the database name in the URL."
    elif "connection" in low and ("refused" in low or "failed" in low):
        hint = " Fix: check the host, port and that the server is running."
    msg = f"{where.masked}: {doing} failed: {text}.{hint}"
    return DataError(msg)


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def table_names(conn: Any, schema: str) -> list[str]:
    """The tables of ``schema`` (ordinary tables and views), sorted."""
    import sqlalchemy as sa

    rows = conn.execute(
        sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s "
            "ORDER BY table_name"
        ),
        {"s": schema},
    )
    return [str(r[0]) for r in rows]


def schema_exists(conn: Any, schema: str) -> bool:
    """Whether ``schema`` exists in the database."""
    import sqlalchemy as sa

    row = conn.execute(
        sa.text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
    ).first()
    return row is not None
