"""`cpm customer list` and `cpm customer find`: the report's customer rows, filtered.

Tier, ABC class and churn status are the report's own (reports.customer_rows); nothing here
computes them again. Text is matched ignoring case and width; a phone by its digits, ignoring
spaces, dashes, brackets and a leading +86 / 0086 / 86 country code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlmodel import Session

from cpm.config import Settings
from cpm.services.reports import CustomerRow, ReportOptions, customer_rows

_PHONE_QUERY = re.compile(r"[0-9 +\-().]+")
_COUNTRY = re.compile(r"^(?:00)?86(?=1[0-9]{10}$)")  # +86 before a Chinese mobile number
MIN_PHONE_DIGITS = 3


def folded(text: str) -> str:
    """Text as matched: width-folded (NFKC) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


def phone_digits(text: str) -> str:
    """The digits of a phone number without a +86 country code: `+86 138-0013-8000` → 13800138000."""
    digits = "".join(c for c in unicodedata.normalize("NFKC", text) if c.isdigit())
    return _COUNTRY.sub("", digits)


@dataclass(frozen=True)
class Search:
    """One search text: matches a code or name containing it, or (if it looks like a phone
    number, with at least MIN_PHONE_DIGITS digits) a phone containing its digits."""

    text: str

    def matches(self, row: CustomerRow) -> bool:
        wanted = folded(self.text)
        info = row.info
        if wanted in folded(info.code) or (info.name is not None and wanted in folded(info.name)):
            return True
        plain = unicodedata.normalize("NFKC", self.text).strip()
        digits = phone_digits(plain)
        return (
            info.phone is not None
            and _PHONE_QUERY.fullmatch(plain) is not None
            and len(digits) >= MIN_PHONE_DIGITS
            and digits in phone_digits(info.phone)
        )


@dataclass(frozen=True)
class Filters:
    tier: str | None = None  # regular / vip / diamond
    abc: str | None = None  # A / B / C
    status: str | None = None  # active / at_risk / lapsed
    rep: str | None = None
    city: str | None = None
    search: str | None = None

    def keeps(self, row: CustomerRow) -> bool:
        info = row.info
        return (
            (self.tier is None or row.tier == self.tier)
            and (self.abc is None or row.abc == self.abc)
            and (self.status is None or row.status == self.status)
            and (self.rep is None or folded(info.sales_rep or "") == folded(self.rep))
            and (self.city is None or folded(info.city or "") == folded(self.city))
            and (self.search is None or Search(self.search).matches(row))
        )


@dataclass(frozen=True)
class CustomerList:
    rows: list[CustomerRow]  # the customers kept, by code (at most `limit`)
    matched: int  # how many the filters kept, before the limit
    total: int  # customers a report sees


def list_customers(
    session: Session, settings: Settings, options: ReportOptions, filters: Filters, *, limit: int | None
) -> CustomerList:
    """The customers the filters keep, by code, as a report as of `options.as_of` sees them."""
    rows = customer_rows(session, settings, options)
    kept = [row for row in rows if filters.keeps(row)]
    return CustomerList(kept if limit is None else kept[:limit], len(kept), len(rows))


def find_customers(
    session: Session, settings: Settings, options: ReportOptions, text: str, *, limit: int | None
) -> CustomerList:
    """Customers whose code, name or phone holds `text`; an exact code, then an exact phone first."""
    found = list_customers(session, settings, options, Filters(search=text), limit=None)
    wanted, digits = folded(text), phone_digits(text)

    def rank(row: CustomerRow) -> tuple[int, str]:
        if folded(row.info.code) == wanted:
            return (0, row.info.code)
        if digits and row.info.phone is not None and phone_digits(row.info.phone) == digits:
            return (1, row.info.code)
        return (2, row.info.code)

    ranked = sorted(found.rows, key=rank)
    return CustomerList(ranked if limit is None else ranked[:limit], found.matched, found.total)
