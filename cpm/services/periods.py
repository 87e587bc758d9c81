"""Calendar periods (month, quarter, year) and what "as of" a date means.

`as_of` is the start of that day: a report as of 2026-11-01 sees every order up to and including
2026-10-31, and October is its latest complete month. Every date range here is half-open:
start <= date < end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cpm.errors import CpmError

PERIOD_KINDS = ("month", "quarter", "year")
_MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # exclusive
    kind: str

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}"

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)

    def previous(self) -> Period:
        return containing(date.fromordinal(self.start.toordinal() - 1), self.kind)

    def next(self) -> Period:
        return containing(self.end, self.kind)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def containing(day: date, kind: str) -> Period:
    if kind not in _MONTHS_IN:
        raise CpmError(f"unknown period {kind!r}", hint="Use month, quarter or year.")
    months = _MONTHS_IN[kind]
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    return Period(start, _add_months(start, months), kind)


def reported_period(as_of: date, kind: str) -> Period:
    """The latest period that ended before `as_of`: as of 2026-11-01 that is October 2026, as of
    2026-10-31 it is September (October's last day is not over at the start of the 31st)."""
    return containing(as_of, kind).previous()


def periods_ending(last: Period, count: int) -> list[Period]:
    """`count` consecutive periods, oldest first, ending with `last`."""
    periods = [last]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods[::-1]


def month_index(day: date) -> int:
    """Months since year 0: the difference of two is the number of months between them."""
    return day.year * 12 + day.month - 1
