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
from tests.conftest import fresh_database, table_rows, write_csv

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


def test_an_opening_row_posted_before_is_not_checked_again_against_a_later_today(
    db: Database, tmp_path: Path
) -> None:
    # Posted on 1 December: earned that day, expiring on the 15th. On the 20th "earned today"
    # would fall after the expiry, but the row is already in the ledger: nothing to refuse or post.
    path = write_csv(
        tmp_path / "opening.csv",
        [
            ["customer_code", "points", "earned_on", "expires_on"],
            ["C1", "10", "", "2026-12-15"],
            ["C2", "20", "2026-11-01", ""],
        ],
    )
    import_points(db, path, today=date(2026, 12, 1))
    before = table_rows(db, "SELECT * FROM points_ledger ORDER BY id")
    import_points(db, path, today=date(2026, 12, 20))
    assert table_rows(db, "SELECT * FROM points_ledger ORDER BY id") == before
    # A new row of that shape is still refused on the 20th.
    new_row = write_csv(
        tmp_path / "more.csv",
        [["customer_code", "points", "earned_on", "expires_on"], ["C3", "5", "", "2026-12-15"]],
    )
    with pytest.raises(InvalidInput) as raised:
        import_points(db, new_row, today=date(2026, 12, 20))
    assert [(p.row, p.column) for p in raised.value.problems] == [(2, "expires_on")]


def test_an_opening_balance_earned_after_today_is_refused(db: Database, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "opening.csv",
        [["customer_code", "points", "earned_on"], ["C1", "100", "2026-03-01"], ["C2", "10", "2026-03-02"]],
    )
    with pytest.raises(InvalidInput) as raised:
        import_points(db, path, today=date(2026, 3, 1))
    problems = raised.value.problems
    assert [(p.row, p.column, p.value) for p in problems] == [(3, "earned_on", date(2026, 3, 2))]
    # At the end of the calendar too: refused for the date, not for its default expiry.
    far = write_csv(
        tmp_path / "far.csv", [["customer_code", "points", "earned_on"], ["C1", "100", "9999-06-01"]]
    )
    with pytest.raises(InvalidInput) as raised:
        import_points(db, far, today=date(2026, 3, 1))
    assert [(p.row, p.column) for p in raised.value.problems] == [(2, "earned_on")]
    assert table_rows(db, "SELECT COUNT(*) FROM points_ledger") == [(0,)]


def orders_file(tmp_path: Path, name: str, *rows: list[str], header: list[str] = ORDERS_HEADER) -> Path:
    return write_csv(tmp_path / name, [header, *rows])


def test_an_order_moved_to_another_customer_moves_its_points_and_bonus(db: Database, tmp_path: Path) -> None:
    rules = Settings(first_order_bonus=50)
    import_orders(
        db,
        orders_file(
            tmp_path,
            "a.csv",
            ["O0", "C2", "2025-01-10", "6000.00", "completed"],
            ["O1", "C1", "2025-02-01", "100.00", "completed"],
        ),
    )
    award(db, date(2025, 3, 1), rules)
    assert balances(db) == {"C1": 100 + 50, "C2": 6000 + 50}
    # The order was keyed to the wrong customer: the shop corrects it and imports again.
    import_orders(db, orders_file(tmp_path, "b.csv", ["O1", "C2", "2025-02-01", "100.00", "completed"]))
    summary = award(db, date(2025, 3, 2), rules)
    # C1 gives back the order's points and the bonus it brought; C2, VIP on 2025-02-01 (6,000 spent
    # in the year before), earns 100 × 1.2 = 120. O1 is not C2's first order: no second bonus.
    assert ledger(db)[4:] == [
        ("order:O1:2", "C1", "reverse", -100),
        ("order:O1:3", "C2", "earn", 120),
        ("first-order-bonus-reversed:C1", "C1", "reverse", -50),
    ]
    assert balances(db) == {"C1": 0, "C2": 6000 + 50 + 120}
    assert (summary.points_reversed, summary.points_topped_up, summary.orders_corrected) == (150, 120, 1)
    before = ledger(db)
    assert award(db, date(2025, 3, 3), rules).customers_touched == 0
    assert ledger(db) == before
    # Moved back: C2 gives back its 120, C1 earns 100 again (the bonus, taken back, is not re-granted).
    import_orders(db, orders_file(tmp_path, "c.csv", ["O1", "C1", "2025-02-01", "100.00", "completed"]))
    award(db, date(2025, 3, 4), rules)
    assert ledger(db)[len(before) :] == [
        ("order:O1:4", "C2", "reverse", -120),
        ("order:O1:5", "C1", "earn", 100),
    ]
    assert balances(db) == {"C1": 100, "C2": 6050}


def test_a_moved_order_earns_the_same_whatever_path_it_took(db: Database, tmp_path: Path) -> None:
    rules = Settings(first_order_bonus=10)
    first = orders_file(
        tmp_path,
        "o1.csv",
        ["V0", "C1", "2026-01-05", "6000.00", "completed"],
        ["V1", "C1", "2026-02-10", "100.00", "completed"],
    )
    moved_cancelled = orders_file(tmp_path, "o2.csv", ["V1", "C2", "2026-02-10", "100.00", "cancelled"])
    moved = orders_file(tmp_path, "o3.csv", ["V1", "C2", "2026-02-10", "100.00", "completed"])

    def final_state(*files: Path) -> tuple[dict[str, int], list[tuple[str, str, str, int]]]:
        folder = tmp_path / "_".join(f.stem for f in files)
        folder.mkdir()
        target = fresh_database(folder)
        for day, path in enumerate(files, start=1):
            import_orders(target, path)
            award(target, date(2026, 3, day), rules)
        return balances(target), [row for row in ledger(target) if row[1] == "C2"]

    # Straight to C2: C2 is Regular on 2026-02-10 (nothing spent before), so 100 × 1.0, and V1 is
    # C2's first order: the bonus. C1, VIP from V0, earned 120 for V1 and gives it back.
    direct_balances, direct_c2 = final_state(first, moved)
    assert direct_balances == {"C1": 6000 + 10, "C2": 100 + 10}
    assert direct_c2 == [("order:V1:3", "C2", "earn", 100), ("first-order-bonus:C2", "C2", "earn", 10)]
    # By way of a cancelled order on C2 (a 0-point row naming C2, at C1's factor): the same points.
    via_balances, via_c2 = final_state(first, moved_cancelled, moved)
    assert via_balances == direct_balances
    assert [(kind, points) for _, _, kind, points in via_c2] == [("earn", 0), ("earn", 100), ("earn", 10)]


def test_an_order_earning_no_points_brings_no_first_order_bonus(db: Database, tmp_path: Path) -> None:
    rules = Settings(first_order_bonus=50)
    import_orders(
        db,
        orders_file(
            tmp_path,
            "a.csv",
            ["O1", "C1", "2025-02-01", "0.50", "completed"],
            ["O2", "C1", "2025-02-02", "10.00", "completed"],
        ),
    )
    award(db, date(2025, 3, 1), rules)
    # O1 counts (net 0.50 > 0) but earns floor(0.50 × 1) = 0: it is the first order, yet it earns
    # nothing, so there is no bonus; O2 is not the first order.
    assert ledger(db) == [("earn:O2", "C1", "earn", 10)]


def test_rules_changed_after_an_order_earned_do_not_rewrite_its_points(db: Database, tmp_path: Path) -> None:
    header = [*ORDERS_HEADER, "refunded_amount"]
    import_orders(
        db,
        orders_file(tmp_path, "a.csv", ["O1", "C1", "2025-02-01", "100.00", "completed", ""], header=header),
    )
    award(db, date(2025, 3, 1))
    import_orders(
        db,
        orders_file(
            tmp_path, "b.csv", ["O1", "C1", "2025-02-01", "100.00", "completed", "40"], header=header
        ),
    )
    # Since then the shop raised the minimum to 200.00 and started a new programme in 2025-06.
    stricter = Settings(minimum_order=20_000, programme_start=date(2025, 6, 1))
    award(db, date(2025, 3, 2), stricter)
    # 40 refunded: floor(60 × 1) = 60 is what the order now earns, at the factor it earned at.
    assert ledger(db) == [("earn:O1", "C1", "earn", 100), ("order:O1:2", "C1", "reverse", -40)]


def test_the_bonus_stays_while_its_order_counts_and_goes_when_it_stops(db: Database, tmp_path: Path) -> None:
    rules = Settings(first_order_bonus=50)
    header = [*ORDERS_HEADER, "refunded_amount"]
    import_orders(
        db, orders_file(tmp_path, "a.csv", ["O1", "C1", "2025-02-01", "1.00", "completed", ""], header=header)
    )
    award(db, date(2025, 3, 1), rules)
    assert balances(db) == {"C1": 51}
    # Half refunded: 0.50 still counts, earning floor(0.50) = 0; the bonus stays.
    import_orders(
        db,
        orders_file(
            tmp_path, "b.csv", ["O1", "C1", "2025-02-01", "1.00", "completed", "0.50"], header=header
        ),
    )
    award(db, date(2025, 3, 2), rules)
    assert balances(db) == {"C1": 50}
    # Refunded in full: the order no longer counts, so the bonus goes too.
    import_orders(
        db,
        orders_file(tmp_path, "c.csv", ["O1", "C1", "2025-02-01", "1.00", "refunded", "1.00"], header=header),
    )
    award(db, date(2025, 3, 3), rules)
    assert ledger(db)[-1] == ("first-order-bonus-reversed:C1", "C1", "reverse", -50)
    assert balances(db) == {"C1": 0}


def test_an_order_moved_to_a_customer_with_no_counted_order_and_cancelled(
    db: Database, tmp_path: Path
) -> None:
    import_orders(db, orders_file(tmp_path, "a.csv", ["O1", "C1", "2025-01-10", "100", "completed"]))
    award(db, date(2025, 6, 1))
    import_orders(db, orders_file(tmp_path, "b.csv", ["O1", "C2", "2025-01-10", "100", "cancelled"]))
    award(db, date(2025, 6, 2))
    # C1 gives the points back; C2 (no counted order at all) earns nothing, and the order's last
    # points row says it is C2's now, so nothing more is ever posted for it.
    assert ledger(db) == [
        ("earn:O1", "C1", "earn", 100),
        ("order:O1:2", "C1", "reverse", -100),
        ("order:O1:3", "C2", "earn", 0),
    ]
    for day in (date(2025, 6, 3), date(2025, 6, 4)):
        assert award(db, day).customers_touched == 0
    assert len(ledger(db)) == 3


@pytest.mark.parametrize("first_move_net", ["50", "100"])
def test_a_moved_order_ends_with_the_same_points_whatever_the_path(
    db: Database, tmp_path: Path, first_move_net: str
) -> None:
    strict = Settings(minimum_order=6_000)  # orders below 60.00 earn nothing
    import_orders(db, orders_file(tmp_path, "a.csv", ["O1", "C1", "2025-01-10", "100", "completed"]))
    award(db, date(2025, 6, 1), strict)
    import_orders(db, orders_file(tmp_path, "b.csv", ["O1", "C2", "2025-01-10", first_move_net, "completed"]))
    award(db, date(2025, 6, 2), strict)
    import_orders(db, orders_file(tmp_path, "c.csv", ["O1", "C1", "2025-01-10", "50", "completed"]))
    award(db, date(2025, 6, 3), strict)
    # Back with C1 at 50.00, below the minimum when it came back: it holds nothing, either way.
    assert balances(db) == {"C1": 0, "C2": 0}
    # Lowering the minimum later does not rewrite an order that has been awarded.
    before = ledger(db)
    award(db, date(2025, 6, 4), Settings())
    assert ledger(db) == before
