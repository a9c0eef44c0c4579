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
# Seconds per unit, to bound a duration before any datetime arithmetic can overflow.
_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Duration:
    months: int
    delta: dt.timedelta

    @property
    def whole_days(self) -> bool:
        """True when the duration is a number of calendar days (no hours, minutes, seconds)."""
        return self.delta % _DAY == dt.timedelta(0)

    def before(self, moment: dt.datetime) -> dt.datetime:
        """The moment this long before `moment`; months are calendar months, and the day is
        clamped to the month's last (one month before 31 March is the end of February)."""
        year, month = divmod(moment.year * 12 + moment.month - 1 - self.months, 12)
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        return moment.replace(year=year, month=month + 1, day=day) - self.delta

    def days_before(self, day: dt.date) -> dt.date:
        """The calendar day this long before `day` (for whole-day durations on date fields)."""
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        return self.before(start).date()


def parse_duration(text: object) -> Duration:
    """Parse `PnYnMnWnDTnHnMnS` (letters in either case); raise ValueError with the reason."""
    match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P7D, PT12H or P1M")
    numbers = {k: v for k, v in match.groupdict().items() if v is not None}
    if any(len(v) > 12 for v in numbers.values()):
        raise ValueError(f"{text!r} is longer than {MAX_DAYS} days")
    parts = {k: int(v) for k, v in numbers.items()}
    months = parts.get("years", 0) * 12 + parts.get("months", 0)
    seconds = sum(parts.get(unit, 0) * size for unit, size in _SECONDS.items())
    # Whole numbers only: a month counts as 31 days, so no window is longer than the limit.
    if months * 31 * 86400 + seconds > MAX_DAYS * 86400:
        raise ValueError(f"{text!r} is longer than {MAX_DAYS} days")
    return Duration(months, dt.timedelta(seconds=seconds))
