"""Time buckets of date and datetime values, the same on PostgreSQL and SQLite.

A datetime's bucket is the instant its hour, day, ISO week, month, quarter or year starts in an
IANA time zone (docs/api.md, Aggregates). PostgreSQL computes it with `AT TIME ZONE` and
`date_trunc`; SQLite, which has no time zone database, calls `grace_bucket`, registered on each
connection (graph/sql/engine.py) and written here with zoneinfo, following PostgreSQL's rules
where a local time is ambiguous or missing. A date's bucket is the date its bucket starts, in
plain SQL on both.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    TIMESTAMP,
    ColumnElement,
    Date,
    Integer,
    String,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    type_coerce,
)

from graph.sql import dialects
from graph.sql.types import CalendarDate, UtcDateTime

# Gregorian calendars repeat every 400 years to the weekday, and the tz database's rules are
# the same far back (local mean time) and far ahead (the last rule): shifting by one cycle
# lets Python work out buckets near years 1 and 9999 that its datetime cannot hold locally.
_CYCLE = dt.timedelta(days=146_097)
_EARLIEST = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def local_midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant of `day` in `zone`: of a midnight that happens twice (clocks going
    back at midnight), the first; of one that never happens (clocks jumping forward over it),
    the instant the clocks jump to. Python's fold=0 reads a local time so in both cases."""
    return dt.datetime.combine(day, dt.time(0)).replace(tzinfo=zone, fold=0).astimezone(dt.UTC)


def _start(instant: dt.datetime, unit: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    local = instant.astimezone(zone)
    if unit == "hour":
        within = dt.timedelta(
            minutes=local.minute, seconds=local.second, microseconds=local.microsecond
        )
        return instant - within
    return local_midnight(date_bucket(local.date(), unit), zone)


def datetime_bucket(instant: dt.datetime, unit: str, zone_name: str) -> dt.datetime | None:
    """The instant the bucket holding `instant` starts; None before year 1."""
    zone = _zone(zone_name)
    shift = dt.timedelta(0)
    if instant.year < 3:
        shift = _CYCLE
    elif instant.year > 9997:
        shift = -_CYCLE
    try:
        start = (
            _start(instant + shift, unit, zone) - shift if shift else _start(instant, unit, zone)
        )
    except OverflowError:  # the bucket starts before year 1 (a week of year 1 east of UTC)
        return None
    return start if start >= _EARLIEST else None


def date_bucket(day: dt.date, unit: str) -> dt.date:
    """The date the bucket holding `day` starts (weeks start on Monday, as ISO's do)."""
    if unit == "day":
        return day
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    assert unit == "year", unit
    return dt.date(day.year, 1, 1)


def sqlite_bucket(value: str | None, unit: str, zone_name: str) -> str | None:
    """`grace_bucket(stored, unit, zone)` on SQLite: the bucket start, stored the same way."""
    if value is None:
        return None
    instant = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    start = datetime_bucket(instant, unit, zone_name)
    if start is None:
        return None
    # SQLite keeps datetimes as fixed-width UTC text (graph/sql/types.py UtcDateTime); not
    # strftime("%Y"), which writes year 1 as "1" on glibc.
    return start.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def bucket(dialect: str, column: Any, is_date: bool, unit: str, zone: str) -> ColumnElement[Any]:
    """The bucket of `column` (a date or a datetime column) as an SQL expression whose result
    reads back as a date or an aware datetime."""
    if is_date:
        return type_coerce(_date_bucket(dialect, column, unit), CalendarDate())
    if dialect == dialects.POSTGRESQL:
        local = func.timezone(literal(zone), column)  # `column AT TIME ZONE zone`
        if unit == "hour":
            start = column - (local - func.date_trunc("hour", local))
        else:
            start = _first_instant(zone, func.date_trunc(unit, local))
        # Buckets that would start before year 1 (a far-east zone on 0001-01-01) are null,
        # as Python's datetime, and so SQLite's, cannot hold them.
        guarded = case((start < _EARLIEST, None), else_=start)
        return type_coerce(guarded, UtcDateTime())
    return type_coerce(func.grace_bucket(column, literal(unit), literal(zone)), UtcDateTime())


# How far back the other instant of a local time that happens twice can lie: clocks go back by
# an hour, half an hour (Lord Howe) or two hours (Troll, Antarctica).
_REPEATS = ("2 hours", "1 hour", "30 minutes")


def _offset(zone: zoneinfo.ZoneInfo, day: dt.date) -> dt.timedelta | None:
    return dt.datetime.combine(day, dt.time(12)).replace(tzinfo=zone).utcoffset()


def _repeats(zone: zoneinfo.ZoneInfo, day: dt.date) -> bool:
    wall = dt.datetime.combine(day, dt.time(0))
    return (
        wall.replace(tzinfo=zone, fold=0).utcoffset()
        != wall.replace(tzinfo=zone, fold=1).utcoffset()
    )


@lru_cache(maxsize=64)
def repeated_midnights(zone_name: str) -> tuple[dt.datetime, ...]:
    """The local midnights (wall times) that clocks in the zone show twice, going back across
    them, from 1900 to 2100: months whose offset changes are scanned day by day."""
    zone = _zone(zone_name)
    found: list[dt.datetime] = []
    for year in range(1900, 2100):
        for month in range(1, 13):
            first = dt.date(year, month, 1)
            following = dt.date(year + month // 12, month % 12 + 1, 1)
            middle = dt.date(year, month, 15)
            offsets = {_offset(zone, first), _offset(zone, middle), _offset(zone, following)}
            if len(offsets) == 1:
                continue
            day = first
            while day <= following:
                if _repeats(zone, day):
                    found.append(dt.datetime.combine(day, dt.time(0)))
                day += dt.timedelta(days=1)
    return tuple(dict.fromkeys(found))


def _first_instant(zone: str, wall: Any) -> Any:
    """PostgreSQL: the first instant at which `zone`'s clocks show `wall` (a timestamp).
    `wall AT TIME ZONE zone` takes the later of two; the earlier, when there is one, lies a
    clock change before it and shows the same wall time."""
    later = func.timezone(literal(zone), wall)
    repeated = repeated_midnights(zone)
    if not repeated:
        return later  # most zones, most days: one midnight, and a cheaper statement
    whens = []
    for span in _REPEATS:
        earlier = later - literal_column(f"interval '{span}'")
        whens.append((func.timezone(literal(zone), earlier) == wall, earlier))
    walls = cast(bindparam(None, list(repeated), ARRAY(TIMESTAMP())), ARRAY(TIMESTAMP()))
    return case((wall == any_(walls), case(*whens, else_=later)), else_=later)


def _date_bucket(dialect: str, column: Any, unit: str) -> Any:
    if unit == "day":
        return column
    if dialect == dialects.POSTGRESQL:
        # date_trunc of a plain timestamp: a date would be taken as a timestamptz, at the
        # session's time zone.
        return cast(func.date_trunc(unit, cast(column, TIMESTAMP())), Date())
    # SQLite keeps dates as `YYYY-MM-DD` text.
    if unit == "week":
        return func.date(column, "-6 days", "weekday 1")
    if unit == "month":
        return func.substr(column, 1, 7, type_=String()) + "-01"
    if unit == "quarter":
        month = cast(func.substr(column, 6, 2), Integer())
        first = (month - 1) // 3 * 3 + 1
        return (
            func.substr(column, 1, 5, type_=String())
            + func.printf("%02d", first, type_=String())
            + "-01"
        )
    assert unit == "year", unit
    return func.substr(column, 1, 4, type_=String()) + "-01-01"


# The shortest a bucket of each unit can be (clocks going forward by up to an hour, or by
# half an hour in a few zones): stepping by it never jumps over a bucket.
_SHORTEST = {
    "hour": dt.timedelta(minutes=30),
    "day": dt.timedelta(hours=23),
    "week": dt.timedelta(days=7, hours=-1),
    "month": dt.timedelta(days=28, hours=-1),
    "quarter": dt.timedelta(days=89, hours=-1),
    "year": dt.timedelta(days=365, hours=-1),
}


def datetime_bucket_starts(
    low: dt.datetime, high: dt.datetime, unit: str, zone_name: str, limit: int
) -> list[dt.datetime]:
    """Every bucket start from the bucket of `low` to that of `high`, in order (what `fill`
    shows), by the same rules as `datetime_bucket`; at most `limit` of them."""
    starts: list[dt.datetime] = []
    start = datetime_bucket(low, unit, zone_name) or _EARLIEST
    last = datetime_bucket(high, unit, zone_name)
    while last is not None and start <= last and len(starts) < limit:
        starts.append(start)
        probe = start
        while True:
            try:
                probe += _SHORTEST[unit]
            except OverflowError:  # the last bucket before the end of year 9999
                following = None
                break
            following = datetime_bucket(probe, unit, zone_name)
            if following is None or following > start:
                break
        if following is None:
            break
        start = following
    return starts


# Days from a bucket's first day that surely land in the next bucket, and not further.
_DATE_STEP = {"day": 1, "week": 7, "month": 31, "quarter": 92, "year": 366}


def date_bucket_starts(low: dt.date, high: dt.date, unit: str, limit: int) -> list[dt.date]:
    """Every bucket start of dates from the bucket of `low` to that of `high`, in order; at
    most `limit` of them."""
    starts: list[dt.date] = []
    day = date_bucket(low, unit)
    last = date_bucket(high, unit)
    while day <= last and len(starts) < limit:
        starts.append(day)
        if (dt.date.max - day).days < _DATE_STEP[unit]:
            break
        day = date_bucket(day + dt.timedelta(days=_DATE_STEP[unit]), unit)
    return starts
