"""The text forms of the API's scalars, read strictly: no GraphQL, no SQL.

GraphQL's scalars (graph/gql/scalars.py), the write path's validation (graph/rows.py) and the
files of `grace-graph load` all read BigInt, DateTime and Date text here, so that each form is
accepted or refused, with the same words, wherever it arrives.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from graph.spec.model import BIGINT_MAX, BIGINT_MIN


class TextValueError(ValueError):
    """A value that is not the text form of its scalar; the message says why."""

    @property
    def message(self) -> str:
        return str(self)


# ASCII digits only: int() alone would also take " 42", "+42", "4_2" and other scripts' digits.
_BIGINT_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)")
# More characters than "-9223372036854775808" cannot be in range. Checked before int(), which
# refuses over 4300 digits with an error of its own and takes quadratic time below that.
_BIGINT_MAX_CHARS = 20

RFC3339_URL = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
DATETIME_EXAMPLE = '"2026-11-28T05:08:57Z" or "2026-11-28T06:08:57.5+01:00"'
# Loose on purpose (any number of fractional digits, optional offset) so that the two
# commonest mistakes get their own message instead of a generic "not RFC 3339".
_DATETIME_TEXT = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<off_hour>[0-9]{2}):(?P<off_minute>[0-9]{2}))?"
)
_DATE_TEXT = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})")


def clipped(text: str) -> str:
    """Error messages quote at most 64 characters of a value."""
    return text if len(text) <= 64 else text[:61] + "..."


def _shown(value: Any) -> str:
    """A variable's value as the client sent it: in JSON, clipped."""
    if isinstance(value, str):
        return '"' + clipped(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    try:
        return clipped(json.dumps(value))
    except (TypeError, ValueError):  # not from a JSON body: a caller inside the server
        return clipped(repr(value))


def _bigint_in_range(number: int, shown: str) -> int:
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise TextValueError(f"BigInt cannot represent {shown}: outside -2^63..2^63-1")
    return number


def bigint_digits(digits: str, shown: str) -> int:
    """Digits already checked for form; only their value is left to check."""
    if len(digits) > _BIGINT_MAX_CHARS:
        raise TextValueError(f"BigInt cannot represent {shown}: outside -2^63..2^63-1")
    return _bigint_in_range(int(digits), shown)


def bigint_from_text(text: str) -> int:
    if not _BIGINT_TEXT.fullmatch(text):
        raise TextValueError(
            f"BigInt cannot represent {_shown(text)}: expected a whole number, as a JSON "
            'integer or a string of decimal digits such as "42" or "-7"'
        )
    return bigint_digits(text, _shown(text))


def parse_bigint(value: Any) -> int:
    """A variable's value: a JSON integer or a string of digits."""
    if isinstance(value, str):
        return bigint_from_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _bigint_in_range(value, str(value))
    if isinstance(value, float) and value.is_integer() and abs(value) >= 2**63:
        # A JSON integer beyond 64 bits: the server's JSON parser (orjson) reads it as the
        # nearest double, which may round to 2^63 or -2^63; never taken as that value.
        raise TextValueError(f"BigInt cannot represent {_shown(value)}: outside -2^63..2^63-1")
    raise TextValueError(
        f"BigInt cannot represent {_shown(value)}: expected a whole number, as a JSON integer "
        'or a string of decimal digits such as "42"'
    )


def _datetime_error(value: str, reason: str) -> TextValueError:
    return TextValueError(f"DateTime cannot represent {_shown(value)}: {reason}")


def datetime_from_text(text: str) -> dt.datetime:
    match = _DATETIME_TEXT.fullmatch(text)
    if match is None:
        raise _datetime_error(
            text,
            "expected an RFC 3339 date and time with seconds and an offset, e.g. "
            + DATETIME_EXAMPLE,
        )
    fraction = match["fraction"] or ""
    if len(fraction) > 6:
        raise _datetime_error(text, "at most 6 fractional digits (microseconds)")
    if match["offset"] is None:
        # A time without an offset names a different instant in every time zone.
        raise _datetime_error(text, 'no offset: add "Z" for UTC or an offset such as "+01:00"')
    try:
        local = dt.datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction.ljust(6, "0")),
        )
    except ValueError as exc:  # month 13, 30 February, hour 24, second 60, year 0
        raise _datetime_error(text, str(exc)) from None
    offset = dt.timedelta()
    if match["sign"] is not None:
        hours, minutes = int(match["off_hour"]), int(match["off_minute"])
        if hours > 23 or minutes > 59:
            raise _datetime_error(text, "the offset must be between -23:59 and +23:59")
        offset = dt.timedelta(hours=hours, minutes=minutes)
        if match["sign"] == "-":
            offset = -offset
    try:
        utc = local - offset
    except OverflowError:
        raise _datetime_error(text, "the instant in UTC is outside years 1 to 9999") from None
    return utc.replace(tzinfo=dt.UTC)


def parse_datetime(value: Any) -> dt.datetime:
    """A variable's value: an RFC 3339 string, returned as an aware UTC datetime."""
    if not isinstance(value, str):
        raise TextValueError(
            f"DateTime cannot represent {_shown(value)}: expected a string such as "
            + DATETIME_EXAMPLE
        )
    return datetime_from_text(value)


def date_from_text(text: str) -> dt.date:
    # Not date.fromisoformat: it also takes "20261105" and week dates like "2026-W45-4".
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        raise TextValueError(
            f'Date cannot represent {_shown(text)}: expected YYYY-MM-DD, e.g. "2026-11-05"'
        )
    try:
        return dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as exc:
        raise TextValueError(f"Date cannot represent {_shown(text)}: {exc}") from None


def parse_date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise TextValueError(
            f'Date cannot represent {_shown(value)}: expected a string such as "2026-11-05"'
        )
    return date_from_text(value)
