"""The one text form of an instant: what the API returns and what the audit chain hashes."""

from __future__ import annotations

import datetime as dt


def utc_text(value: dt.datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ`: one width for every value, so text order is time order.

    A naive value is taken as UTC (SQLite hands back naive values; the engine stores every
    datetime in UTC). Not strftime: its %Y does not pad years below 1000 on every platform.
    """
    utc = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )
