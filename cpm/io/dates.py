"""Dates from spreadsheet cells: date cells, Excel serial numbers, and text in the common forms."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from cpm.io.cells import BadValue, number_text

EXCEL_EPOCH = date(1899, 12, 30)
# Serial numbers Excel can show as dates: 1900-01-01 .. 9999-12-31.
MAX_EXCEL_SERIAL = 2958465

# Excel serials accepted when they arrive as text (CSV): 1950-01-01 up to 2100-01-01.
TEXT_SERIALS = (18264, 73051)
DATE_EXPECTED = "expected a date such as 2024-01-05, 2024/1/5, 2024年1月5日 or an Excel date"

# A date may carry a time of day, but only a real one: hours 0-23 (0-12 with AM/PM), minutes and
# seconds 0-59, and a UTC offset some place has (the widest in use are -12:00 and +14:00, so at
# most ±14:00). Only ASCII digits and colons: NFKC has made full-width ones ASCII.
_MINUTES = "[0-5][0-9]"
_HOURS = "(?:[01]?[0-9]|2[0-3])"
_HALF_DAY_HOURS = "(?:0?[0-9]|1[0-2])"
_OFFSET = "(?:Z|[+-](?:(?:0[0-9]|1[0-3]):?[0-5][0-9]|14:?00))"
_ISO_LIKE = re.compile(
    r"(?P<year>[0-9]{4})[-/.](?P<month>[0-9]{1,2})[-/.](?P<day>[0-9]{1,2})"
    rf"(?:[T ]{_HOURS}:{_MINUTES}(?::{_MINUTES}(?:\.[0-9]+)?)?{_OFFSET}?)?"
)
_CHINESE = re.compile(
    r"(?P<year>[0-9]{4})\s*年\s*(?P<month>[0-9]{1,2})\s*月\s*(?P<day>[0-9]{1,2})\s*[日号]?"
    rf"(?:\s*{_HOURS}:{_MINUTES}(?::{_MINUTES})?)?"
)
_COMPACT = re.compile(r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})")
_SLASHED = re.compile(
    r"(?P<first>[0-9]{1,2})[/.\-](?P<second>[0-9]{1,2})[/.\-](?P<year>[0-9]{4})"
    rf"(?:[T ](?:{_HOURS}:{_MINUTES}(?::{_MINUTES})?"
    rf"|{_HALF_DAY_HOURS}:{_MINUTES}(?::{_MINUTES})?\s*[AaPp][Mm]))?"
)
# Any time at the end of a text, to say why a date with a time that is none was refused.
_ANY_TIME = re.compile(
    r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.[0-9]+)?)?"
    r"(?:\s*(?P<half>[AaPp][Mm])|(?P<offset>Z|[+-][0-9]{2}:?[0-9]{2}))?\Z"
)
MAX_OFFSET_MINUTES = 14 * 60
TIME_EXPECTED = (
    "a time of day has hours 0-23 (at most 12 with AM/PM), minutes and seconds 0-59, "
    "and a UTC offset at most ±14:00"
)


def _time_problem(text: str) -> str | None:
    """Why the time of day at the end of `text` is none (25:61, 13 PM, +99:99), if it is not."""
    match = _ANY_TIME.search(text)
    if match is None:
        return None
    hour, minute, second, half, offset = match.group("hour", "minute", "second", "half", "offset")
    if int(hour) > (12 if half else 23) or int(minute) > 59 or (second is not None and int(second) > 59):
        shown = f"{hour}:{minute}" + (f":{second}" if second else "") + (f" {half}" if half else "")
        return f"has the time {shown}, which is not a time of day; {TIME_EXPECTED}"
    if offset and offset != "Z":
        hours, minutes = int(offset[1:3]), int(offset[-2:])
        if minutes > 59 or hours * 60 + minutes > MAX_OFFSET_MINUTES:
            return f"has a UTC offset {offset} that no place has; {TIME_EXPECTED}"
    return None


_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_DAY_MONTH_NAME = re.compile(r"([0-9]{1,2})[\s\-]([A-Za-z]+)\.?[\s\-,]+([0-9]{4})")
_MONTH_NAME_DAY = re.compile(r"([A-Za-z]+)\.?\s+([0-9]{1,2}),?\s+([0-9]{4})")


def _make_date(year: int, month: int, day: int, raw: Any) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise BadValue(f"not a real calendar date ({exc}); {DATE_EXPECTED}") from exc


# Excel took 1900 for a leap year (as Lotus 1-2-3 did): serial 1 is 1900-01-01, 59 is
# 1900-02-28, 60 is a 1900-02-29 that never was, and from 61 (1900-03-01) on a serial is the
# number of days since 1899-12-30.
_FICTITIOUS_LEAP_DAY = 60


def _from_serial(serial: float, raw: Any) -> date:
    # Compared as given: float() of a huge int overflows, and NaN fails the comparison anyway.
    # The bound is the end of the last day, so 9999-12-31 with a time of day is still a date.
    if not (1 <= serial < MAX_EXCEL_SERIAL + 1):
        raise BadValue(f"a number that is not an Excel date; {DATE_EXPECTED}")
    days = int(serial)
    if days == _FICTITIOUS_LEAP_DAY:
        raise BadValue(
            "is Excel's 1900-02-29, a day that never was (Excel counts 1900 as a leap year); "
            "type the real date"
        )
    if days < _FICTITIOUS_LEAP_DAY:
        days += 1
    return EXCEL_EPOCH + timedelta(days=days)


EARLIEST_DATE = date(1900, 1, 1)  # Excel's first day; windows and expiries reach back from dates


def parse_date(value: Any, *, dayfirst: bool = False) -> date:
    """A date from a date cell, an Excel serial, or text in the common forms, from 1900 on.

    `05/01/2024` is read month first (5 January with --dayfirst); a first part above 12 without
    --dayfirst is refused rather than guessed, so one file is never read two ways.
    """
    day = _parse_date(value, dayfirst=dayfirst)
    if day < EARLIEST_DATE:
        raise BadValue(f"a date before {EARLIEST_DATE.year}; {DATE_EXPECTED}")
    return day


def _parse_date(value: Any, *, dayfirst: bool) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise BadValue(DATE_EXPECTED)
    if isinstance(value, int | float):
        if 19000101 <= value <= 99991231 and float(value).is_integer():
            compact = int(value)
            return _make_date(compact // 10000, compact // 100 % 100, compact % 100, value)
        return _from_serial(value, value)
    text = number_text(value)
    if not text:
        raise BadValue(DATE_EXPECTED)
    if len(text) == 10 and text[4] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    for pattern in (_ISO_LIKE, _CHINESE, _COMPACT):
        match = pattern.fullmatch(text)
        if match:
            return _make_date(int(match["year"]), int(match["month"]), int(match["day"]), value)
    match = _SLASHED.fullmatch(text)
    if match:
        first, second, year = int(match["first"]), int(match["second"]), int(match["year"])
        if dayfirst:
            return _make_date(year, second, first, value)
        if first > 12 and second <= 12:
            raise BadValue("looks like day/month/year; run the import again with --dayfirst")
        return _make_date(year, first, second, value)
    match = _DAY_MONTH_NAME.fullmatch(text)
    if match and match.group(2).lower() in _MONTHS:
        return _make_date(int(match.group(3)), _MONTHS[match.group(2).lower()], int(match.group(1)), value)
    match = _MONTH_NAME_DAY.fullmatch(text)
    if match and match.group(1).lower() in _MONTHS:
        return _make_date(int(match.group(3)), _MONTHS[match.group(1).lower()], int(match.group(2)), value)
    if text.replace(".", "", 1).isdecimal():  # only 0-9 are left (number_text)
        serial = float(text)
        # A serial typed as text is only believable for recent dates: "2024" is a year, not 1905-07-16.
        if not TEXT_SERIALS[0] <= serial < TEXT_SERIALS[1]:
            raise BadValue(f"a number that is not a date; {DATE_EXPECTED}")
        return _from_serial(serial, value)
    raise BadValue(_time_problem(text) or DATE_EXPECTED)
