"""Monthly cohort retention: cohort = month of the first counted order; cell k = the share of the
cohort that bought in the k-th month after it (k = 0 is the cohort month itself, 100%)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from cpm.services.periods import month_index


@dataclass(frozen=True)
class Cohort:
    month: date  # first day of the cohort month
    size: int
    active: tuple[int, ...]  # customers active in month k after the cohort month, k = 0, 1, …

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def shares(self) -> tuple[Fraction, ...]:
        return tuple(Fraction(count, self.size) for count in self.active)


def monthly_cohorts(
    bought_in: Iterable[Collection[int]], *, last_month: date, since: date | None = None
) -> list[Cohort]:
    """Cohorts from the months (`month_index`) each customer bought in, up to `last_month` inclusive."""
    last = month_index(last_month)
    floor = month_index(since) if since is not None else None
    sizes: dict[int, int] = {}
    counts: dict[int, list[int]] = {}
    for months in bought_in:
        seen = [month for month in months if month <= last]
        if not seen:
            continue
        start = min(seen)
        if floor is not None and start < floor:
            continue
        sizes[start] = sizes.get(start, 0) + 1
        row = counts.setdefault(start, [0] * (last - start + 1))
        for month in seen:
            row[month - start] += 1
    return [
        Cohort(date(start // 12, start % 12 + 1, 1), sizes[start], tuple(counts[start]))
        for start in sorted(sizes)
    ]
