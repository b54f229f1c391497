"""A throw-away PostgreSQL + PostGIS server for the tests, started on this machine.

The server binaries are found at run time (Debian's ``/usr/lib/postgresql/<version>/bin``, the
newest that has PostGIS, or ``pg_config --bindir``); the cluster lives in its own temporary
folder, listens on a Unix socket only (``listen_addresses=''``), on its own port, and is
stopped and removed at the end. As root, ``initdb`` and the server run as the ``postgres``
user (the server refuses root).

Authentication: the superuser ``postgres`` connects without a password (trust, for setting
up); the role :data:`PLANNER` must give its password (:data:`PASSWORD`, SCRAM), so that the
tests see a real password travel through a URL or ``PGPASSWORD`` and can check it is never
printed.

When no server can be started the PostGIS tests skip with the reason, except under ``CI=true``,
where they fail: CI never passes by skipping them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PLANNER = "planner"
PASSWORD = "Gp-s3cret-7713"  # a string no other output could contain by chance
DATABASE = "gridplan"


@dataclass(frozen=True)
class Server:
    """A running throw-away server: its socket folder and port."""

    socket_dir: Path
    port: int

    def url(self, *, user: str = PLANNER, password: str | None = PASSWORD, **query: str) -> str:
        """A ``postgresql://`` URL of the test database over the socket."""
        auth = user if password is None else f"{user}:{password}"
        params = "&".join([f"host={self.socket_dir}", f"port={self.port}"])
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"postgresql://{auth}@/{DATABASE}?{params}{extra}"


def _version(bindir: Path) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", bindir.parent.name)) or (0,)


def find_binaries() -> tuple[Path, Path] | str:
    """``(bin folder, PostGIS control file)`` of the newest server with PostGIS, or why not."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    if not candidates:
        return "no PostgreSQL server binaries (install postgresql and postgis)"
    for bindir in candidates:
        if not (bindir / "initdb").exists() or not (bindir / "pg_ctl").exists():
            continue
        version = bindir.parent.name
        for share in (Path(f"/usr/share/postgresql/{version}"), bindir.parent / "share"):
            control = share / "extension" / "postgis.control"
            if control.exists():
                return bindir, control
    return f"PostgreSQL found in {candidates[0]} but not PostGIS (install postgresql-*-postgis-3)"


def _run(cmd: list[str], *, as_postgres: bool) -> None:
    kw: dict[str, str] = {"user": "postgres", "group": "postgres"} if as_postgres else {}
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    if out.returncode != 0:
        msg = f"{' '.join(cmd[:2])} failed ({out.returncode}): {out.stderr.strip()[-800:]}"
        raise RuntimeError(msg)


@contextlib.contextmanager
def postgres_server() -> Iterator[Server]:
    """Start a server, create the database with PostGIS and the planner role; stop it after.

    Raises
    ------
    RuntimeError
        The server cannot be started here (the message says why).
    """
    found = find_binaries()
    if isinstance(found, str):
        raise RuntimeError(found)
    bindir, _ = found
    as_root = os.geteuid() == 0
    if as_root:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            msg = "running as root and there is no postgres user to run the server as"
            raise RuntimeError(msg) from None
    base = Path(tempfile.mkdtemp(prefix="gridplan-pg-"))
    base.chmod(0o755)
    data = base / "data"
    port = 54000 + os.getpid() % 900
    started = False
    try:
        if as_root:
            os.chown(base, owner.pw_uid, owner.pw_gid)
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=trust",
            ],
            as_postgres=as_root,
        )
        (data / "pg_hba.conf").write_text(
            f"local all postgres trust\nlocal all {PLANNER} scram-sha-256\n", encoding="utf-8"
        )
        if as_root:
            os.chown(data / "pg_hba.conf", owner.pw_uid, owner.pw_gid)
        opts = (
            f"-c listen_addresses='' -c unix_socket_directories='{base}' -p {port} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(base / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            as_postgres=as_root,
        )
        started = True
        psql = [str(bindir / "psql"), "-h", str(base), "-p", str(port), "-U", "postgres", "-q"]
        _run([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}"], as_postgres=False)
        setup = (
            "CREATE EXTENSION postgis; "
            f"CREATE ROLE {PLANNER} LOGIN PASSWORD '{PASSWORD}'; "
            f"GRANT ALL ON DATABASE {DATABASE} TO {PLANNER}; "
            f"GRANT ALL ON SCHEMA public TO {PLANNER};"
        )
        _run([*psql, "-d", DATABASE, "-v", "ON_ERROR_STOP=1", "-c", setup], as_postgres=False)
        yield Server(socket_dir=base, port=port)
    finally:
        if started:
            with contextlib.suppress(RuntimeError):
                _run(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                    as_postgres=as_root,
                )
        shutil.rmtree(base, ignore_errors=True)
