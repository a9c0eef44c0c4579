"""ISO 8601 durations (`P7D`, `PT12H`, `P1M`) for relative time windows in filters."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
# Ten years: a window longer than this is almost certainly a typo, and huge ones overflow dates.
MAX_DAYS = 3660


@dataclass(frozen=True)
class Duration:
    months: int
    delta: dt.timedelta

    def before(self, moment: dt.datetime) -> dt.datetime:
        """The moment this long before `moment`; months are calendar months."""
        year, month = divmod(moment.year * 12 + moment.month - 1 - self.months, 12)
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        return moment.replace(year=year, month=month + 1, day=day) - self.delta


def parse_duration(text: str) -> Duration:
    """Parse `PnYnMnWnDTnHnMnS`; raise ValueError with a readable reason."""
    match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P7D, PT12H or P1M")
    parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    months = parts.get("years", 0) * 12 + parts.get("months", 0)
    delta = dt.timedelta(
        weeks=parts.get("weeks", 0),
        days=parts.get("days", 0),
        hours=parts.get("hours", 0),
        minutes=parts.get("minutes", 0),
        seconds=parts.get("seconds", 0),
    )
    if months * 31 + delta.days > MAX_DAYS:
        raise ValueError(f"{text!r} is longer than {MAX_DAYS} days")
    return Duration(months, delta)
