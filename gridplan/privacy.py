"""Masking of personal data in rosters and logs (Personal Information Protection Law).

Rosters hold names, mobile numbers and resident ID numbers. Whatever gridplan shares (rosters,
maps, reports, logs) shows them masked: a mobile number keeps its first three and last four
digits (``138****5678``), an 18-digit ID number its first three and last four characters.

Example
-------
>>> mask_phone("13812345678")
'138****5678'
>>> mask_id_number("11010519491231002X")
'110***********002X'
>>> mask_text("call 13812345678 or +86 139-0000-1111")
'call 138****5678 or 139****1111'
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pandas as pd

__all__ = [
    "ID_COLUMNS",
    "PHONE_COLUMNS",
    "PersonalDataFilter",
    "mask_id_number",
    "mask_people",
    "mask_phone",
    "mask_text",
]

#: Columns treated as phone numbers by :func:`mask_people` (every other text column is scanned).
PHONE_COLUMNS: tuple[str, ...] = ("phone", "mobile", "telephone", "tel", "contact")
#: Columns treated as resident ID numbers by :func:`mask_people`.
ID_COLUMNS: tuple[str, ...] = ("id_number", "id_card", "idcard", "resident_id", "identity")

# Resident ID: 17 digits and a digit or X (18), or the old 15-digit form.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{3})(\d{11})(\d{3}[\dXx])(?![0-9A-Za-z])")
_ID15_RE = re.compile(r"(?<!\d)(\d{3})(\d{8})(\d{4})(?!\d)")
# Mainland mobile: 1[3-9]x xxxx xxxx, optionally with +86 / 0086 and space or dash separators.
_PHONE_RE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)"
)
_DIGITS_RE = re.compile(r"\d")
# The password of a database URL: scheme://user:PASSWORD@host
_URL_PASSWORD_RE = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)", re.IGNORECASE)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def mask_text(text: str) -> str:
    """Mask every mobile number, resident ID number and URL password inside free text.

    Parameters
    ----------
    text
        Any text, e.g. a log message or a note.

    Returns
    -------
    str
        The text with ID numbers as ``110***********002X``, mobiles as ``138****5678`` and
        ``postgresql://user:secret@host`` as ``postgresql://user:***@host``.
    """
    text = _URL_PASSWORD_RE.sub(r"\1***\3", text)
    out = _ID_RE.sub(lambda m: m.group(1) + "*" * 11 + m.group(3), text)
    out = _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), out)
    return _ID15_RE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), out)


def mask_phone(phone: Any) -> str:
    """Mask a phone number: first three and last four digits of a mobile kept.

    Parameters
    ----------
    phone
        The number as text or int; ``+86``, spaces and dashes allowed; missing gives ``""``.

    Returns
    -------
    str
        ``"138****5678"`` for ``"13812345678"``; other numbers keep at most their last four
        digits (``"****1234"``), and numbers of four digits or fewer are fully starred.
    """
    if _is_missing(phone):
        return ""
    text = str(phone).strip()
    if not text:
        return ""
    if _PHONE_RE.fullmatch(text):
        return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    digits = "".join(_DIGITS_RE.findall(text))
    if len(digits) <= 4:
        return "*" * max(len(digits), 4)
    return "****" + digits[-4:]


def mask_id_number(id_number: Any) -> str:
    """Mask a resident ID number: first three and last four characters kept.

    Parameters
    ----------
    id_number
        An 18-character (or old 15-digit) ID number; missing gives ``""``.

    Returns
    -------
    str
        ``"110***********002X"`` for ``"11010519491231002X"``; anything else of more than seven
        characters keeps its first three and last four, shorter values are fully starred.
    """
    if _is_missing(id_number):
        return ""
    text = str(id_number).strip().replace(" ", "")
    if not text:
        return ""
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_people(df: pd.DataFrame, *, reveal: bool = False) -> pd.DataFrame:
    """A copy of a people-like table with phones and ID numbers masked.

    Columns named like a phone (:data:`PHONE_COLUMNS`) go through :func:`mask_phone`, those
    named like an ID number (:data:`ID_COLUMNS`) through :func:`mask_id_number`, and every
    other text column through :func:`mask_text`, so a number typed into a note is masked too.
    Id columns ending in ``_id`` (person_id, building_id, ...) are left alone.

    Parameters
    ----------
    df
        People, rosters or assignments; never modified.
    reveal
        Return an unmasked copy (for an authorised officer's own printout).

    Returns
    -------
    pandas.DataFrame
        Same columns, index and type (GeoDataFrames stay GeoDataFrames).
    """
    out = df.copy()
    if reveal:
        return out
    for col in out.columns:
        name = str(col).lower()
        if name == "geometry" or name.endswith("_id"):
            continue
        series = out[col]
        if name in PHONE_COLUMNS:
            out[col] = [mask_phone(v) if not _is_missing(v) else v for v in series]
        elif name in ID_COLUMNS:
            out[col] = [mask_id_number(v) if not _is_missing(v) else v for v in series]
        elif series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            out[col] = [mask_text(v) if isinstance(v, str) else v for v in series]
    return out


class PersonalDataFilter(logging.Filter):
    """A logging filter that masks mobile and ID numbers (and URL passwords) in every record.

    Example
    -------
    >>> import logging
    >>> logging.getLogger("gridplan").addFilter(PersonalDataFilter())
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the formatted message in place; always let the record through."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg = masked
            record.args = None
        return True
