"""A report as of a past day shows the points of that day: ledger rows that took effect later
(a redemption, a reversal posted by a later award) do not count in it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cpm import db as database
from cpm.config import Settings
from cpm.db import Database
from cpm.services import ledger, reports
from tests.conftest import table_rows
from tests.services.test_points_corrections import award, import_orders, orders_file


def positions_on(db: Database, day: date, until: date) -> dict[str, tuple[int, int, int]]:
    ids = dict(table_rows(db, "SELECT id, customer_code FROM customers"))
    with database.session_scope(db) as session:
        found = ledger.positions(session, on=day, until=until, effective_before=day)
    return {ids[cid]: (p.balance, p.available, p.expiring) for cid, p in found.items()}


def test_points_as_of_a_past_day_leave_out_what_took_effect_later(db: Database, tmp_path: Path) -> None:
    import_orders(
        db,
        orders_file(
            tmp_path,
            "o.csv",
            ["O1", "C1", "2025-01-10", "100.00", "completed"],
            ["O2", "C2", "2025-01-20", "50.00", "completed"],
        ),
    )
    award(db, date(2025, 2, 1))  # C1: 100, lot until 2026-01-10; C2: 50, lot until 2026-01-20
    with database.session_scope(db, write=True) as session:
        ledger.redeem(session, Settings(), code="C1", points=30, reason="gift", on=date(2025, 3, 1))

    # 15 January: only C1's order had happened; C2's earning takes effect on its order date.
    assert positions_on(db, date(2025, 1, 15), date(2025, 2, 14)) == {"C1": (100, 100, 0)}
    # 15 February: both earned, nothing redeemed yet (C1 is replayed, C2 summed).
    assert positions_on(db, date(2025, 2, 15), date(2025, 3, 17)) == {"C1": (100, 100, 0), "C2": (50, 50, 0)}
    # 20 December: the redemption of 1 March took 30 of C1's lot; both lots expire within 30 days.
    assert positions_on(db, date(2025, 12, 20), date(2026, 1, 19)) == {"C1": (70, 70, 70), "C2": (50, 50, 0)}
    assert positions_on(db, date(2025, 12, 25), date(2026, 1, 24)) == {"C1": (70, 70, 70), "C2": (50, 50, 50)}

    # The report's expiring points follow its --as-of, whatever was posted since.
    with database.session_scope(db, write=True) as session:
        settings = Settings()
        early = reports.overview(session, settings, reports.ReportOptions(as_of=date(2025, 2, 15)))
        late = reports.overview(session, settings, reports.ReportOptions(as_of=date(2025, 12, 25)))
    assert (early.expiring_points, late.expiring_points) == (0, 70 + 50)
