"""Deadlines (``[requests.sla]``) on the calendar or the working clock, and UTC time text.

Times are kept in UTC as ISO 8601 text (``2024-05-01T08:30:00Z``); local days, weeks and
working hours are those of ``[requests] timezone``.

Example
-------
>>> import pandas as pd
>>> from gridplan.settings import RequestSettings
>>> t = pd.Timestamp("2024-05-03T08:00:00Z")           # Friday 16:00 in Shanghai
>>> utc_text(deadline(t, "help", "general", RequestSettings()))
'2024-05-04T08:00:00Z'
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from gridplan._errors import ConfigError, DataError
from gridplan.settings import REQUEST_URGENCIES, RequestSettings

__all__ = ["deadline", "parse_time", "sla_rule", "utc_text", "zone"]


def zone(settings: RequestSettings) -> ZoneInfo:
    """The office's time zone; a clear error when the name is unknown."""
    try:
        return ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"[requests] timezone {settings.timezone!r} is not a known IANA time zone"
        raise ConfigError(msg) from None


def utc_text(ts: pd.Timestamp | None) -> str | None:
    """``2024-05-01T08:30:00Z`` (seconds; ``None`` stays ``None``)."""
    if ts is None or pd.isna(ts):
        return None
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any, *, timezone: str | None = None, where: str = "") -> pd.Timestamp:
    """A time with its offset as a UTC timestamp.

    Parameters
    ----------
    value
        ISO 8601 text or a timestamp. It must carry an offset (``+08:00``, ``Z``) unless
        ``timezone`` names the zone it was written in.
    timezone
        IANA zone of times without an offset (``Asia/Shanghai``); ``None``: such times are an
        error.
    where
        Where the value comes from, for the message (``"requests.csv row 7, requested_at"``).

    Raises
    ------
    DataError
        Unreadable, or without an offset and no ``timezone`` given.
    """
    try:
        ts = pd.Timestamp(value)
        bad = pd.isna(ts)
    except (ValueError, TypeError):
        bad = True
    if bad:
        msg = f"{where}: {value!r} is not a time; write it as 2024-05-01T08:30+08:00"
        raise DataError(msg)
    if ts.tzinfo is None:
        if timezone is None:
            msg = (
                f"{where}: {value!r} has no time zone; add the offset (2024-05-01T08:30+08:00) "
                "or name the zone of the file (--timezone Asia/Shanghai)"
            )
            raise DataError(msg)
        try:
            ts = ts.tz_localize(ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise DataError(f"{where}: time zone {timezone!r} is unknown") from None
    return ts.tz_convert("UTC")


def sla_rule(kind: str | None, urgency: str, settings: RequestSettings) -> tuple[float, str]:
    """(hours, clock) of a request's deadline: the kind's own rule, else the urgency's."""
    if kind and f"{kind}.{urgency}" in settings.sla:
        return settings.sla[f"{kind}.{urgency}"]
    if urgency not in settings.sla:
        msg = f"[requests.sla] has no deadline for urgency {urgency!r}; use {REQUEST_URGENCIES}"
        raise ConfigError(msg)
    return settings.sla[urgency]


def _hm(text: str) -> time:
    try:
        h, m = (int(p) for p in str(text).split(":"))
        return time(h, m)
    except ValueError:
        raise ConfigError(f"[requests] working_hours: {text!r} is not HH:MM") from None


def deadline(
    requested_at: pd.Timestamp, kind: str | None, urgency: str, settings: RequestSettings
) -> pd.Timestamp:
    """When a request is due: its SLA hours on the calendar or the working clock.

    On the working clock only the hours of ``working_hours`` on ``working_days`` (less
    ``holidays``) count, in the office's time zone.
    """
    hours, clock = sla_rule(kind, urgency, settings)
    start = pd.Timestamp(requested_at).tz_convert("UTC")
    if clock == "calendar":
        return start + pd.Timedelta(hours=hours)
    tz = zone(settings)
    day_start, day_end = (_hm(t) for t in settings.working_hours)
    holidays = {str(d) for d in settings.holidays}
    now = start.tz_convert(tz).to_pydatetime()
    left = timedelta(hours=hours)
    for _ in range(5000):  # 5 000 days: any real SLA ends long before
        day = now.date()
        if day.weekday() in settings.working_days and day.isoformat() not in holidays:
            open_at = now.replace(hour=day_start.hour, minute=day_start.minute, second=0)
            close_at = now.replace(hour=day_end.hour, minute=day_end.minute, second=0)
            now = max(now, open_at.replace(microsecond=0))
            if now < close_at:
                if now + left <= close_at:
                    return pd.Timestamp(now + left).tz_convert("UTC")
                left -= close_at - now
        nxt = now.date() + timedelta(days=1)
        now = now.replace(year=nxt.year, month=nxt.month, day=nxt.day, hour=0, minute=0)
        now = now.replace(second=0, microsecond=0)
    msg = "[requests] working_days and holidays leave no working time for a deadline"
    raise ConfigError(msg)
