"""Ledger corrections that must hold exactly: opening balances re-imported on another day, orders
moved between customers, bonuses, and rule changes after an order has earned."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cpm import db as database
from cpm.config import Settings
from cpm.db import Database
from cpm.errors import InvalidInput
from cpm.io.sheets import file_sha256, open_sheet
from cpm.services import awarding, importing
from tests.conftest import table_rows, write_csv

ORDERS_HEADER = ["order_no", "customer_code", "order_date", "amount", "status"]


def import_points(db: Database, path: Path, *, today: date, settings: Settings | None = None) -> None:
    request = importing.ImportRequest(sheet=open_sheet(path), path=path, sha256=file_sha256(path))
    with database.session_scope(db, write=True) as session:
        importing.import_points(session, request, settings=settings or Settings(), today=today)


def import_orders(db: Database, path: Path) -> None:
    request = importing.ImportRequest(sheet=open_sheet(path), path=path, sha256=file_sha256(path))
    with database.session_scope(db, write=True) as session:
        importing.import_orders(session, request)


def award(db: Database, as_of: date, settings: Settings | None = None) -> awarding.AwardSummary:
    with database.session_scope(db, write=True) as session:
        return awarding.award(session, settings or Settings(), as_of=as_of)


def balances(db: Database) -> dict[str, int]:
    rows = table_rows(
        db,
        "SELECT c.customer_code, SUM(l.points) FROM points_ledger l"
        " JOIN customers c ON c.id = l.customer_id GROUP BY l.customer_id",
    )
    return {code: int(total) for code, total in rows}


def ledger(db: Database) -> list[tuple[str, str, str, int]]:
    return [
        (key, code, kind, int(points))
        for key, code, kind, points in table_rows(
            db,
            "SELECT l.natural_key, c.customer_code, l.kind, l.points FROM points_ledger l"
            " JOIN customers c ON c.id = l.customer_id ORDER BY l.id",
        )
    ]


def test_opening_rows_with_default_dates_post_once_whatever_the_day_or_expiry_setting(
    db: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "opening.csv",
        [
            ["customer_code", "points", "earned_on", "expires_on", "note"],
            ["C1", "100", "", "", "old card"],
            ["C2", "-30", "", "", ""],
            ["C3", "50", "2026-01-10", "", ""],
        ],
    )
    import_points(db, path, today=date(2026, 3, 1))
    first = table_rows(db, "SELECT natural_key, points, earned_on, expires_on FROM points_ledger ORDER BY id")
    # A month later, with lots now lasting 24 months: the same file is the same facts.
    import_points(db, path, today=date(2026, 4, 1), settings=Settings(expiry_months=24))
    assert (
        table_rows(db, "SELECT natural_key, points, earned_on, expires_on FROM points_ledger ORDER BY id")
        == first
    )
    assert balances(db) == {"C1": 100, "C2": -30, "C3": 50}
    # The defaults were filled in on the first import: earned that day, 12 months of life.
    assert [row[2:] for row in first] == [
        ("2026-03-01", "2027-03-01"),
        (None, None),
        ("2026-01-10", "2027-01-10"),
    ]


def test_an_opening_balance_earned_after_today_is_refused(db: Database, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "opening.csv",
        [["customer_code", "points", "earned_on"], ["C1", "100", "2026-03-01"], ["C2", "10", "2026-03-02"]],
    )
    with pytest.raises(InvalidInput) as raised:
        import_points(db, path, today=date(2026, 3, 1))
    problems = raised.value.problems
    assert [(p.row, p.column, p.value) for p in problems] == [(3, "earned_on", date(2026, 3, 2))]
    assert table_rows(db, "SELECT COUNT(*) FROM points_ledger") == [(0,)]
