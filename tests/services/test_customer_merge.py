"""Merging customers keeps every point where it belongs (README, Correcting customers).

Random histories of orders, refunds, awards, redemptions and adjustments run on two databases.
On one, customer X is then merged into Y; the other (the twin) keeps them apart. Then, on both,
a refund of one of X's orders, a new order under X's code and an award:
- right after the merge, X's balance is 0 and Y's is the sum of both balances before it, and
  every balance shown (positions, the replay) is the ledger's sum;
- Y holds X's lots with their earned and expiry dates (when neither owed points);
- an award as of the last award's day posts nothing after the merge (if nothing was left to
  do before it; else on Y what the twin posts on X);
- the later award posts on Y exactly the order rows (earnings, reversals, bonus reversals) the
  twin posts on X and Y, and nothing on X; without debts, the same expiries as well.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cpm import db as database
from cpm.config import Settings
from cpm.db import Database
from cpm.errors import Conflict
from cpm.io.sheets import file_sha256, open_sheet
from cpm.services import awarding, customer_merge, importing, ledger
from tests.conftest import fresh_database, table_rows, write_csv

RULES = Settings(first_order_bonus=20)
CODES = ("C1", "C2", "C3")
FIRST_DAY = date(2024, 1, 1)


@dataclass
class Shop:
    """One database and the orders imported into it so far (re-imported whole each time)."""

    db: Database
    folder: Path
    orders: list[list[str]] = field(default_factory=list)
    imports: int = 0
    last_award: date | None = None
    rules: Settings = RULES

    def import_orders(self) -> None:
        self.imports += 1
        path = write_csv(
            self.folder / f"orders{self.imports}.csv",
            [["order_no", "customer_code", "order_date", "amount", "status"], *self.orders],
        )
        request = importing.ImportRequest(sheet=open_sheet(path), path=path, sha256=file_sha256(path))
        with database.session_scope(self.db, write=True) as session:
            importing.import_orders(session, request)

    def award(self, as_of: date) -> None:
        with database.session_scope(self.db, write=True) as session:
            awarding.award(session, self.rules, as_of=as_of)
        self.last_award = as_of

    def available(self, code: str, day: date) -> int:
        with database.session_scope(self.db) as session:
            customer = ledger.customer_by_code(session, code)
            assert customer.id is not None
            return ledger.accounts(session, [customer.id]).get(customer.id, ledger.Account()).available(day)

    def manual(self, kind: str, code: str, points: int, day: date) -> None:
        with database.session_scope(self.db, write=True) as session:
            post = ledger.redeem if kind == "redeem" else ledger.adjust
            post(session, self.rules, code=code, points=points, reason="test", on=day)


def sums(db: Database) -> dict[str, int]:
    rows = table_rows(
        db,
        "SELECT c.customer_code, SUM(l.points) FROM customers c JOIN points_ledger l"
        " ON l.customer_id = c.id GROUP BY c.customer_code",
    )
    return {code: int(total) for code, total in rows}


def ids(db: Database) -> dict[str, int]:
    return {code: int(cid) for code, cid in table_rows(db, "SELECT customer_code, id FROM customers")}


def accounts(db: Database) -> dict[str, ledger.Account]:
    known = ids(db)
    with database.session_scope(db) as session:
        replayed = ledger.accounts(session)
    return {code: replayed.get(cid, ledger.Account()) for code, cid in known.items()}


def open_lots(account: ledger.Account) -> Counter[tuple[Any, ...]]:
    return Counter(
        (lot.earned_on, lot.expires_on, lot.remaining)
        for lot in account.lots.values()
        if not lot.closed and lot.remaining > 0
    )


def assert_balances_are_the_ledger(db: Database, day: date) -> None:
    """Every balance shown — summed fast path, replay — is the sum of the customer's rows."""
    total = sums(db)
    with database.session_scope(db) as session:
        positions = ledger.positions(session, on=day, until=day + timedelta(days=30))
        replayed = ledger.accounts(session)
    known = ids(db)
    for code, cid in known.items():
        assert positions.get(cid, ledger.Position(0, 0, 0, None)).balance == total.get(code, 0)
        assert replayed.get(cid, ledger.Account()).balance == total.get(code, 0)


def rows_since(db: Database, after: int) -> list[tuple[Any, ...]]:
    return table_rows(
        db,
        "SELECT c.customer_code, l.kind, l.points, o.order_no, l.effective_on, l.factor IS NULL"
        " FROM points_ledger l JOIN customers c ON c.id = l.customer_id"
        f" LEFT JOIN orders o ON o.id = l.order_id WHERE l.id > {int(after)} ORDER BY l.id",
    )


def max_id(db: Database) -> int:
    return int(table_rows(db, "SELECT COALESCE(MAX(id), 0) FROM points_ledger")[0][0])


# Amounts stay small enough that nobody leaves the Regular tier, merged or not: an order earns
# the same for X and for Y, so the twin's postings can be compared with the merged shop's.
order_st = st.tuples(st.just("order"), st.sampled_from(CODES), st.integers(100, 30_000))
step_st = st.one_of(
    order_st,
    st.tuples(st.just("refund"), st.integers(0, 20)),
    st.tuples(st.just("award")),
    st.tuples(st.just("redeem"), st.sampled_from(CODES), st.integers(1, 100)),
    st.tuples(st.just("adjust"), st.sampled_from(CODES), st.one_of(st.integers(-50, -1), st.integers(1, 80))),
    st.tuples(st.just("spend all, then refund"), st.sampled_from(CODES)),  # a debt at the next award
)
steps_st = st.lists(st.tuples(st.integers(1, 150), step_st), min_size=1, max_size=10)


def apply(shop: Shop, step: tuple[Any, ...], day: date) -> None:
    kind = step[0]
    if kind == "order":
        if len(shop.orders) >= 15:
            return
        _, code, cents = step
        shop.orders.append(
            [f"O{len(shop.orders) + 1}", code, day.isoformat(), f"{cents / 100:.2f}", "completed"]
        )
        shop.import_orders()
    elif kind == "refund":
        if shop.orders:
            shop.orders[step[1] % len(shop.orders)][4] = "refunded"
            shop.import_orders()
    elif kind == "award":
        shop.award(day)
    elif kind == "redeem":
        _, code, percent = step
        if code in ids(shop.db):
            available = shop.available(code, day)
            if available > 0:
                shop.manual("redeem", code, max(1, available * percent // 100), day)
    elif kind == "adjust":
        _, code, points = step
        if code in ids(shop.db) and (points > 0 or -points <= shop.available(code, day)):
            shop.manual("adjust", code, points, day)
    else:
        _, code = step
        if code in ids(shop.db) and (available := shop.available(code, day)) > 0:
            shop.manual("redeem", code, available, day)
        for order in shop.orders:
            if order[1] == code and order[4] == "completed":
                order[4] = "refunded"
                shop.import_orders()
                break


HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYPOTHESIS
@given(
    steps=steps_st,
    pair=st.sampled_from([("C1", "C2"), ("C2", "C1"), ("C3", "C1")]),
    merge_gap=st.integers(1, 400),
    refund_pick=st.integers(0, 20),
    later_gap=st.integers(1, 400),
    award_first=st.sampled_from([True, True, False]),
    bonus=st.sampled_from([0, 20]),
)
def test_a_merge_keeps_every_point_and_the_award_posts_as_if_one_customer_had_them_all(
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[int, tuple[Any, ...]]],
    pair: tuple[str, str],
    merge_gap: int,
    refund_pick: int,
    later_gap: int,
    award_first: bool,
    bonus: int,
) -> None:
    old, new = pair
    folder = tmp_path_factory.mktemp("merge")
    rules = Settings(first_order_bonus=bonus)
    merged = Shop(fresh_database(folder, "merged.db"), folder / "m", rules=rules)
    twin = Shop(fresh_database(folder, "twin.db"), folder / "t", rules=rules)
    merged.folder.mkdir()
    twin.folder.mkdir()
    try:
        day = FIRST_DAY
        for gap, step in steps:
            day += timedelta(days=gap)
            for shop in (merged, twin):
                apply(shop, step, day)
        for shop in (merged, twin):  # both customers have bought
            for code in (old, new):
                if not any(order[1] == code for order in shop.orders):
                    shop.orders.append(
                        [f"O{len(shop.orders) + 1}", code, day.isoformat(), "50.00", "completed"]
                    )
                    shop.import_orders()
            if award_first:
                shop.award(day + timedelta(days=1))
        day += timedelta(days=merge_gap)
        before = sums(merged.db)
        held = accounts(merged.db)
        rows_before = max_id(merged.db)
        ledger_before = table_rows(merged.db, "SELECT * FROM points_ledger ORDER BY id")
        with database.session_scope(merged.db, write=True) as session:
            result = customer_merge.merge_customers(
                session, rules, old_code=old, new_code=new, reason="same person", today=day
            )
        assert result.points == before.get(old, 0)
        after = sums(merged.db)
        assert after.get(old, 0) == 0
        assert after.get(new, 0) == before.get(old, 0) + before.get(new, 0)
        assert {c: v for c, v in after.items() if c not in pair} == {
            c: v for c, v in before.items() if c not in pair
        }
        assert_balances_are_the_ledger(merged.db, day)
        # Rows are only added: the ledger before the merge is untouched.
        assert table_rows(
            merged.db, f"SELECT * FROM points_ledger WHERE id <= {rows_before} ORDER BY id"
        ) == (ledger_before)
        replayed = accounts(merged.db)
        assert not open_lots(replayed[old])
        if not held[old].debt and not held[new].debt:
            assert open_lots(replayed[new]) == open_lots(held[new]) + open_lots(held[old])
        if merged.last_award is not None:
            # An award as of the last one's day posts for X's orders on Y what the twin posts on
            # X (what was left to do before the merge); nothing when nothing was left.
            for shop in (merged, twin):
                mark = max_id(shop.db)
                shop.award(merged.last_award)
                if shop is twin and max_id(twin.db) == mark:
                    assert [r[1] for r in rows_since(merged.db, rows_before)] == ["transfer"] * (
                        len(rows_since(merged.db, rows_before))
                    )

        # Later: a refund of one of the moved orders, a new order under the old code, an award.
        moved = [i for i, order in enumerate(merged.orders) if order[1] == old and order[4] == "completed"]
        day += timedelta(days=later_gap)
        for shop in (merged, twin):
            if moved:
                shop.orders[moved[refund_pick % len(moved)]][4] = "refunded"
            shop.orders.append([f"O{len(shop.orders) + 1}", old, day.isoformat(), "12.34", "completed"])
            shop.import_orders()
            shop.award(day + timedelta(days=1))
        assert_balances_are_the_ledger(merged.db, day)
        # Since the merge (the two shops were one before it), with the twin's X read as Y:
        posted = rows_since(merged.db, rows_before)
        expected = [(new if row[0] == old else row[0], *row[1:]) for row in rows_since(twin.db, rows_before)]
        assert all(row[0] != old for row in posted if row[1] not in ("expire", "transfer")), (
            "X only closes lots"
        )

        def bonus(row: tuple[Any, ...]) -> bool:  # one customer earns one first-order bonus
            return row[1] == "earn" and row[5] == 1

        def compared(rows: list[tuple[Any, ...]], *, expiries: bool) -> Counter[tuple[Any, ...]]:
            """Rows that move points (a lot used up is closed by a 0-point expiry, or, on X, by
            the merge), expiries without their customer (a lot's customer is Y after the merge)."""
            kept = [
                r
                for r in rows
                if r[1] != "transfer" and not bonus(r) and (r[1] != "expire" or expiries and r[2] != 0)
            ]
            return Counter((r[1:] if r[1] == "expire" else r) for r in kept)

        debts = bool(held[old].debt or held[new].debt)
        # Two customers may each have had a first-order bonus to come; one customer has one.
        same_bonuses = Counter(filter(bonus, posted)) == Counter(filter(bonus, expected))
        event("a debt at the merge" if debts else "no debt at the merge")
        event("X's points moved" if result.points else "X had no points")
        event("a moved order refunded" if moved else "no moved order")
        event("expiries compared" if not debts and same_bonuses else "expiries not compared")
        expiries = not debts and same_bonuses
        assert compared(posted, expiries=expiries) == compared(expected, expiries=expiries)
        if expiries:
            final, twin_final = sums(merged.db), sums(twin.db)
            assert final.get(new, 0) == twin_final.get(old, 0) + twin_final.get(new, 0)
            assert final.get(old, 0) == 0
    finally:
        database.dispose_engines()


# --------------------------------------------------------------------------------------------
# Worked examples
# --------------------------------------------------------------------------------------------


def shop_with(tmp_path: Path, orders: list[list[str]]) -> Shop:
    shop = Shop(fresh_database(tmp_path), tmp_path)
    shop.orders = orders
    shop.import_orders()
    return shop


def merge(shop: Shop, old: str, new: str, day: date) -> customer_merge.MergeResult:
    with database.session_scope(shop.db, write=True) as session:
        return customer_merge.merge_customers(
            session, RULES, old_code=old, new_code=new, reason=None, today=day
        )


def test_lots_move_with_their_dates_and_expire_on_the_new_customer_when_they_would_have(
    tmp_path: Path,
) -> None:
    shop = shop_with(
        tmp_path,
        [
            ["O1", "C1", "2026-03-01", "100.00", "completed"],  # 100 + 20 bonus, expiring 2027-03-01
            ["O2", "C2", "2026-05-10", "50.00", "completed"],  # 50 + 20 bonus, expiring 2027-05-10
        ],
    )
    shop.award(date(2026, 6, 1))
    shop.manual("redeem", "C1", 30, date(2026, 6, 2))  # from the soonest-expiring lot: O1's
    merge(shop, "C1", "C2", date(2026, 7, 1))
    assert sums(shop.db) == {"C1": 0, "C2": 90 + 70}
    lots = open_lots(accounts(shop.db)["C2"])
    assert lots == Counter(
        {
            (date(2026, 3, 1), date(2027, 3, 1), 70): 1,  # O1's earn less the 30 redeemed
            (date(2026, 3, 1), date(2027, 3, 1), 20): 1,  # C1's bonus
            (date(2026, 5, 10), date(2027, 5, 10), 50): 1,
            (date(2026, 5, 10), date(2027, 5, 10), 20): 1,
        }
    )
    # The redemption stays where it was made.
    assert table_rows(
        shop.db,
        "SELECT c.customer_code, l.points FROM points_ledger l JOIN customers c"
        " ON c.id = l.customer_id WHERE l.kind = 'redeem'",
    ) == [("C1", -30)]
    mark = max_id(shop.db)
    shop.award(date(2027, 3, 2))
    expiries = table_rows(
        shop.db,
        "SELECT c.customer_code, l.points, l.effective_on FROM points_ledger l JOIN customers c"
        f" ON c.id = l.customer_id WHERE l.kind = 'expire' AND l.id > {mark} ORDER BY l.id",
    )
    assert expiries == [("C2", -70, "2027-03-01"), ("C2", -20, "2027-03-01")]


def test_a_refund_after_the_merge_reverses_on_the_new_customer(tmp_path: Path) -> None:
    shop = shop_with(
        tmp_path,
        [
            ["O1", "C1", "2026-03-01", "100.00", "completed"],
            ["O2", "C2", "2026-05-10", "50.00", "completed"],
        ],
    )
    shop.award(date(2026, 6, 1))
    merge(shop, "C1", "C2", date(2026, 7, 1))
    mark = max_id(shop.db)
    shop.award(date(2026, 7, 2))
    assert max_id(shop.db) == mark  # nothing moved back, nothing earned twice
    shop.orders[0][4] = "refunded"
    shop.import_orders()
    shop.award(date(2026, 8, 1))
    assert rows_since(shop.db, mark) == [
        ("C2", "reverse", -100, "O1", "2026-08-01", 0),
        ("C2", "reverse", -20, "O1", "2026-08-01", 1),  # C1's first-order bonus, now C2's
    ]
    assert sums(shop.db) == {"C1": 0, "C2": 70}


def test_a_lot_past_its_date_moves_and_the_next_award_expires_it_on_that_date(tmp_path: Path) -> None:
    shop = shop_with(
        tmp_path,
        [["O1", "C1", "2025-01-05", "100.00", "completed"], ["O2", "C2", "2025-02-01", "10.00", "completed"]],
    )
    shop.award(date(2025, 6, 1))
    merge(shop, "C1", "C2", date(2026, 2, 1))  # O1's lots expired on 2026-01-05; no award since
    assert sums(shop.db) == {"C1": 0, "C2": 150}
    assert shop.available("C2", date(2026, 2, 1)) == 0  # C2's own lots expired 2026-02-01
    shop.award(date(2026, 2, 2))
    assert table_rows(
        shop.db,
        "SELECT c.customer_code, l.points, l.effective_on FROM points_ledger l JOIN customers c"
        " ON c.id = l.customer_id WHERE l.kind = 'expire' ORDER BY l.effective_on, l.points",
    ) == [
        ("C2", -100, "2026-01-05"),
        ("C2", -20, "2026-01-05"),
        ("C2", -20, "2026-02-01"),
        ("C2", -10, "2026-02-01"),
    ]
    assert sums(shop.db) == {"C1": 0, "C2": 0}


def test_a_debt_moves_to_the_new_customer(tmp_path: Path) -> None:
    shop = shop_with(tmp_path, [["O1", "C1", "2026-03-01", "100.00", "completed"]])
    shop.award(date(2026, 3, 2))
    shop.manual("redeem", "C1", 120, date(2026, 3, 3))
    shop.orders[0][4] = "refunded"
    shop.import_orders()
    shop.award(date(2026, 3, 4))  # takes back 120 that were spent: a debt
    shop.orders.append(["O2", "C2", "2026-03-05", "200.00", "completed"])
    shop.import_orders()
    shop.award(date(2026, 3, 6))
    assert sums(shop.db) == {"C1": -120, "C2": 220}
    merge(shop, "C1", "C2", date(2026, 4, 1))
    assert sums(shop.db) == {"C1": 0, "C2": 100}
    assert accounts(shop.db)["C1"].debt == 0
    assert shop.available("C2", date(2026, 4, 1)) == 100


def test_merging_a_customer_into_itself_or_into_a_merged_one_is_refused(tmp_path: Path) -> None:
    shop = shop_with(
        tmp_path,
        [["O1", "C1", "2026-03-01", "1.00", "completed"], ["O2", "C2", "2026-03-01", "1.00", "completed"]],
    )
    with pytest.raises(Conflict, match="same customer"):
        merge(shop, "C1", " c1 ".upper(), date(2026, 4, 1))
    merge(shop, "C1", "C2", date(2026, 4, 1))
    with pytest.raises(Exception, match="merged into C2"):
        merge(shop, "C2", "C1", date(2026, 4, 2))
