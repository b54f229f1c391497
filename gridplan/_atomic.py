"""One atomic output folder for every command that writes one (plans, samples, OSM imports).

A command builds its output in a temporary folder beside the target and swaps it in only
when everything is written: on an error the earlier output stays exactly as it was, and
without ``overwrite`` an existing output is never touched. A dataset written to a path ending
in ``.gpkg`` is one GeoPackage file (:func:`atomic_output_file`), built the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gridplan._errors import OutputExistsError

__all__ = [
    "atomic_output",
    "atomic_output_dir",
    "atomic_output_file",
    "check_output",
    "check_output_dir",
    "is_gpkg_path",
    "partial_dir",
]

logger = logging.getLogger(__name__)


def partial_dir(out: str | Path) -> Path:
    """The work folder of a resumable write of ``out``: ``.<name>.partial`` beside it."""
    out = Path(out)
    return out.parent / f".{out.name}.partial"


def check_output_dir(out: str | Path, *, overwrite: bool = False) -> None:
    """Raise before any work when ``out`` may not be written (an existing output
    is left untouched unless ``--overwrite`` is given).

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false, or ``out`` is a file.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        msg = f"{out} already exists; pass --overwrite to replace it (nothing was changed)"
        raise OutputExistsError(msg)
    if out.exists() and not out.is_dir():
        msg = f"{out} exists and is not a folder; choose another --out"
        raise OutputExistsError(msg)


def check_output(out: str | Path, *, overwrite: bool = False) -> None:
    """:func:`check_output_dir` for a dataset output: a ``.gpkg`` file or a folder.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false (or, for a folder, ``out`` is a file).
    """
    out = Path(out)
    if not is_gpkg_path(out):
        check_output_dir(out, overwrite=overwrite)
    elif out.exists() and not overwrite:
        msg = f"{out} already exists; pass --overwrite to replace it (nothing was changed)"
        raise OutputExistsError(msg)


@contextlib.contextmanager
def atomic_output_dir(
    out: str | Path, *, overwrite: bool = False, resumable: bool = False
) -> Iterator[Path]:
    """Build an output folder atomically.

    Yields a fresh temporary folder beside ``out``; when the ``with`` block ends without an
    error the temporary folder replaces ``out``. On an error it is removed and ``out`` is left
    exactly as it was.

    With ``resumable`` the work folder is :func:`partial_dir` (a fixed name, so that a re-run
    finds it; it may hold the work of an earlier run) and it is *kept* on an error, for the
    next run to resume from; ``out`` is still untouched until the one final swap.

    Parameters
    ----------
    out
        The folder to create or replace.
    overwrite
        Replace an existing ``out``. Without it an existing ``out`` raises before any work.
    resumable
        Work in :func:`partial_dir` and keep it on an error (batched runs resume from it).

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    """
    out = Path(out)
    check_output_dir(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    if resumable:
        tmp = partial_dir(out)
        tmp.mkdir(exist_ok=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a plan folder is an ordinary one
    try:
        yield tmp
    except BaseException:
        if resumable:
            logger.warning("kept %s to resume from; run the same command again", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    old: Path | None = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        old.rmdir()
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        if not resumable:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def is_gpkg_path(out: str | Path) -> bool:
    """Whether ``out`` names one GeoPackage file (ends in ``.gpkg``, any case)."""
    return Path(out).suffix.lower() == ".gpkg"


@contextlib.contextmanager
def atomic_output_file(out: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Build one output file atomically (a GeoPackage dataset).

    Yields a path inside a fresh temporary folder beside ``out`` (so that SQLite's journal
    files stay there too); when the ``with`` block ends without an error the file replaces
    ``out`` (a file, or a folder an older gridplan wrote under that name). On an error
    nothing of ``out`` changes.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        msg = f"{out} already exists; pass --overwrite to replace it (nothing was changed)"
        raise OutputExistsError(msg)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp = work / out.name
    try:
        yield tmp
        if not tmp.exists():
            msg = f"nothing was written to {out}"
            raise OSError(msg)
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        old: Path | None = None
        if out.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            if old is not None:
                os.replace(old, out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def atomic_output(out: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """A dataset output: one GeoPackage file when ``out`` ends in ``.gpkg``, else a folder.

    Yields the temporary file (:func:`atomic_output_file`) or folder
    (:func:`atomic_output_dir`); see :func:`is_gpkg_path`.
    """
    if is_gpkg_path(out):
        with atomic_output_file(out, overwrite=overwrite) as tmp:
            yield tmp
    else:
        with atomic_output_dir(out, overwrite=overwrite) as tmp:
            yield tmp
