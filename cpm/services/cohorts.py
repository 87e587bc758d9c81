"""Monthly cohort retention: cohort = month of the first counted order; cell k = the share of the
cohort that bought in the k-th month after it (k = 0 is the cohort month itself, 100%)."""

from __future__ import annotations

from collections.abc import Iterable
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
    days: Iterable[tuple[int, date]], *, last_month: date, since: date | None = None
) -> list[Cohort]:
    """Cohorts from (customer, purchase day) pairs in customer order, up to `last_month` inclusive."""
    last = month_index(last_month)
    first_month: dict[int, int] = {}
    active: dict[int, set[int]] = {}
    for customer_id, day in days:
        index = month_index(day)
        if index > last:
            continue
        if customer_id not in first_month:
            first_month[customer_id] = index
            active[customer_id] = set()
        active[customer_id].add(index)
    floor = month_index(since) if since is not None else None
    sizes: dict[int, int] = {}
    counts: dict[int, list[int]] = {}
    for customer_id, start in first_month.items():
        if floor is not None and start < floor:
            continue
        sizes[start] = sizes.get(start, 0) + 1
        row = counts.setdefault(start, [0] * (last - start + 1))
        for month in active[customer_id]:
            row[month - start] += 1
    return [
        Cohort(date(start // 12, start % 12 + 1, 1), sizes[start], tuple(counts[start]))
        for start in sorted(sizes)
    ]
