"""The points ledger against a small, independent model of the README rules ("Points").

The model below is written from the README only, deliberately simple:
- an order earns floor(net × multiplier of the tier held on its date) once, the tier coming from
  the customer's net spend in [date − 365 days, date) (VIP from 5,000.00, Diamond from 20,000.00);
- the factor is kept with the order; a later change of its net amount posts
  floor(new net × that factor) − what the order holds: a top-up (a lot earned on the order date)
  or a reversal (a debit on the award's date);
- every credit (earn, top-up, positive adjust or opening) first pays off debt, and the rest is a
  lot that expires 12 months after it was earned (an opening may give its own expiry); a lot is
  alive while day < expires_on. Debits (reversal, redeem, negative adjust or opening) take the
  lots alive on their date, soonest-expiring first; what no lot covers is debt;
- an award as of D posts new earnings (by order date), then corrections, then closes every lot
  with expires_on <= D, taking exactly what is left of it;
- redeem / negative adjust are refused beyond `available` = live lots − debt.

Random sequences of imports, awards, redemptions, adjustments and opening balances run against a
fresh database and the model, with strictly increasing dates; after every step the balances,
available points, points expiring soon and what each order holds must be the model's, natural
keys unique, earlier ledger rows untouched, and an award right after another must post nothing.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from math import floor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from cpm import db as database
from cpm.config import Settings
from cpm.db import Database
from cpm.errors import Conflict, InvalidInput, NotFound
from cpm.io.sheets import file_sha256, open_sheet
from cpm.services import awarding, importing, ledger
from tests.conftest import Cli, fresh_database, snapshot, table_rows, write_csv

CODES = ("C1", "C2", "C3")
FIRST_DAY = date(2024, 1, 1)
LAST_DAY = date(2026, 6, 30)
ORDER_HEADER = ["order_no", "customer_code", "order_date", "amount", "status"]
LEDGER_SQL = (
    "SELECT id, natural_key, customer_id, kind, points, effective_on, order_id, order_net, factor,"
    " lot_id, earned_on, expires_on, rules_version, note, created_at FROM points_ledger ORDER BY id"
)


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def months_later(day: date, months: int) -> date:
    """Same day `months` later, or that month's last day when it is shorter."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def tier_multiplier(spend_cents: int) -> Fraction:
    if spend_cents >= 2_000_000:
        return Fraction(3, 2)
    if spend_cents >= 500_000:
        return Fraction(6, 5)
    return Fraction(1)


def points_for(net_cents: int, factor: Fraction) -> int:
    return floor(Fraction(net_cents, 100) * factor) if net_cents > 0 else 0


@dataclass
class ModelLot:
    remaining: int
    expires: date
    closed: bool = False

    def alive(self, day: date) -> bool:
        return not self.closed and day < self.expires


@dataclass
class ModelAccount:
    lots: list[ModelLot] = field(default_factory=list)
    debt: int = 0
    balance: int = 0

    def credit(self, points: int, earned: date, expires: date | None = None) -> None:
        self.balance += points
        paid = min(self.debt, points)
        self.debt -= paid
        self.lots.append(ModelLot(points - paid, expires or months_later(earned, 12)))

    def debit(self, points: int, on: date) -> None:
        self.balance -= points
        need = points
        # sorted() is stable: lots with the same expiry are taken in the order they were made
        for lot in sorted((lot for lot in self.lots if lot.alive(on)), key=lambda lot: lot.expires):
            used = min(lot.remaining, need)
            lot.remaining -= used
            need -= used
        self.debt += need

    def expire(self, as_of: date) -> int:
        taken = 0
        for lot in self.lots:
            if not lot.closed and lot.expires <= as_of:
                taken += lot.remaining
                self.balance -= lot.remaining
                lot.remaining = 0
                lot.closed = True
        return taken

    def available(self, day: date) -> int:
        return sum(lot.remaining for lot in self.lots if lot.alive(day)) - self.debt

    def expiring(self, day: date, until: date) -> int:
        return sum(lot.remaining for lot in self.lots if lot.alive(day) and lot.expires < until)


@dataclass
class ModelOrder:
    order_no: str
    code: str
    day: date
    cents: int
    status: str
    factor: Fraction | None = None  # set when the order first earns
    held: int = 0  # points the order holds (its earn, top-ups and reversals)

    @property
    def net(self) -> int:
        return self.cents if self.status == "completed" else 0


@dataclass(frozen=True)
class AwardCounts:
    orders_earned: int = 0
    points_earned: int = 0
    points_reversed: int = 0
    points_topped_up: int = 0
    points_expired: int = 0


class Model:
    def __init__(self) -> None:
        self.orders: dict[str, ModelOrder] = {}  # in the order they were first imported
        self.accounts: dict[str, ModelAccount] = {}
        self.customers: set[str] = set()
        self.events: set[str] = set()  # what an example exercised, for --hypothesis-show-statistics
        self.openings: set[tuple[tuple[str, int, str, str], int]] = set()  # opening rows posted

    def account(self, code: str) -> ModelAccount:
        return self.accounts.setdefault(code, ModelAccount())

    def spend_before(self, code: str, day: date) -> int:
        start = day - timedelta(days=365)
        return sum(o.net for o in self.orders.values() if o.code == code and start <= o.day < day)

    def award(self, as_of: date) -> AwardCounts:
        ordered = sorted(self.orders.values(), key=lambda o: o.day)  # stable: import order on ties
        earned = orders_earned = reversed_ = topped_up = 0
        for order in ordered:
            if order.factor is None and order.net > 0 and order.day < as_of:
                factor = tier_multiplier(self.spend_before(order.code, order.day))
                self.events.add(f"earned at x{float(factor)}")
                points = points_for(order.net, factor)
                assert points > 0, "the strategies keep every live order at 1.00 or more"
                order.factor, order.held = factor, points
                self.account(order.code).credit(points, order.day)
                earned += points
                orders_earned += 1
        for order in ordered:
            if order.factor is None:
                continue
            difference = points_for(order.net, order.factor) - order.held
            if difference > 0:
                self.events.add("top-up")
                self.account(order.code).credit(difference, order.day)
                topped_up += difference
            elif difference < 0:
                self.events.add("reversal")
                self.account(order.code).debit(-difference, as_of)
                reversed_ += -difference
            order.held += difference
        expired = sum(account.expire(as_of) for account in self.accounts.values())
        if expired:
            self.events.add("points expired")
        if any(account.debt for account in self.accounts.values()):
            self.events.add("debt")
        return AwardCounts(orders_earned, earned, reversed_, topped_up, expired)

    def available(self, code: str, day: date) -> int:
        return self.accounts[code].available(day) if code in self.accounts else 0

    def balance(self, code: str) -> int:
        return self.accounts[code].balance if code in self.accounts else 0


# --------------------------------------------------------------------------------------------
# Operations and their strategies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewOrder:
    customer: int
    days_back: int
    cents: int
    status: str = "completed"


@dataclass(frozen=True)
class ReImport:
    pick: int  # index into the orders imported so far
    cents: int | None  # None: the stored amount
    status: str


@dataclass(frozen=True)
class ImportOrders:
    rows: tuple[NewOrder | ReImport, ...]


@dataclass(frozen=True)
class Award:
    twice: bool
    via_cli: bool


@dataclass(frozen=True)
class Redeem:
    customer: int
    percent: int  # of what the model says is available; above 100 must be refused


@dataclass(frozen=True)
class Adjust:
    customer: int
    add: int | None  # None: take `percent` of what is available
    percent: int


@dataclass(frozen=True)
class Opening:
    customer: int
    points: int  # negative: a debt
    days_back: int | None  # earned_on = today − days_back; None: blank (the day of the import)
    lifetime: int | None  # expires_on = earned_on + lifetime days; None: blank (12 months)


@dataclass(frozen=True)
class ImportPoints:
    rows: tuple[Opening, ...]
    again: bool  # import the same file a second time, which must post nothing


Op = ImportOrders | Award | Redeem | Adjust | ImportPoints

# 1.00 .. 15,000.00, with enough big orders that customers reach VIP (5,000) and Diamond (20,000)
cents_st = st.integers(min_value=100, max_value=50_000) | st.integers(min_value=300_000, max_value=1_500_000)
customer_st = st.sampled_from((0, 0, 0, 1, 2))  # C1 buys most, so it climbs the tiers
new_order_st = st.builds(
    NewOrder,
    customer=customer_st,
    days_back=st.integers(min_value=0, max_value=30) | st.integers(min_value=0, max_value=400),
    cents=cents_st,
    status=st.sampled_from(["completed"] * 6 + ["refunded", "cancelled"]),
)
reimport_st = st.builds(
    ReImport,
    pick=st.integers(min_value=0, max_value=50),
    cents=st.none() | cents_st,
    status=st.sampled_from(["completed", "completed", "refunded", "cancelled"]),
)
percent_st = st.integers(min_value=1, max_value=100) | st.integers(min_value=101, max_value=130)
mixed_import_st = st.builds(
    ImportOrders, rows=st.lists(new_order_st | reimport_st, min_size=1, max_size=4).map(tuple)
)
changes_st = st.builds(ImportOrders, rows=st.lists(reimport_st, min_size=1, max_size=3).map(tuple))
award_st = st.builds(Award, twice=st.booleans(), via_cli=st.booleans())
redeem_st = st.builds(Redeem, customer=customer_st, percent=percent_st)
adjust_st = st.builds(
    Adjust,
    customer=customer_st,
    add=st.none() | st.integers(min_value=1, max_value=3_000),
    percent=percent_st,
)
opening_row_st = st.builds(
    Opening,
    customer=customer_st,
    points=st.integers(min_value=1, max_value=3_000) | st.integers(min_value=-800, max_value=-1),
    days_back=st.none() | st.integers(min_value=0, max_value=400),
    lifetime=st.none() | st.integers(min_value=1, max_value=500),
)
points_import_st = st.builds(
    ImportPoints, rows=st.lists(opening_row_st, min_size=1, max_size=3).map(tuple), again=st.booleans()
)
op_st: st.SearchStrategy[Op] = st.one_of(
    mixed_import_st,
    changes_st,
    award_st,
    award_st,
    award_st,
    redeem_st,
    redeem_st,
    adjust_st,
    points_import_st,
)
# Every example opens with a few orders, so there is something to earn, correct and spend.
first_orders_st = st.builds(ImportOrders, rows=st.lists(new_order_st, min_size=2, max_size=6).map(tuple))
steps_st = st.tuples(
    st.tuples(st.integers(min_value=1, max_value=75), first_orders_st),
    st.lists(st.tuples(st.integers(min_value=1, max_value=75), op_st), min_size=6, max_size=24),
).map(lambda pair: [pair[0], *pair[1]])


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def share_of(available: int, percent: int) -> int:
    """A positive number of points: `percent` of what is available (anything when nothing is)."""
    return max(1, available * percent // 100) if available > 0 else percent


# --------------------------------------------------------------------------------------------
# Driving cpm
# --------------------------------------------------------------------------------------------


def import_orders_file(db: Database, path: Path) -> importing.ImportSummary:
    request = importing.ImportRequest(sheet=open_sheet(path), path=path, sha256=file_sha256(path))
    with database.session_scope(db, write=True) as session:
        return importing.import_orders(session, request)


def award(db: Database, as_of: date) -> awarding.AwardSummary:
    with database.session_scope(db, write=True) as session:
        return awarding.award(session, Settings(), as_of=as_of)


def redeem(db: Database, code: str, points: int, on: date, key: str | None = None) -> ledger.ManualResult:
    with database.session_scope(db, write=True) as session:
        return ledger.redeem(session, Settings(), code=code, points=points, reason="gift", on=on, key=key)


def adjust(db: Database, code: str, points: int, on: date) -> ledger.ManualResult:
    with database.session_scope(db, write=True) as session:
        return ledger.adjust(session, Settings(), code=code, points=points, reason="by hand", on=on)


def ledger_rows(db: Database) -> list[tuple[Any, ...]]:
    return table_rows(db, LEDGER_SQL)


def balances(db: Database) -> dict[str, int]:
    rows = table_rows(
        db,
        "SELECT c.customer_code, SUM(l.points) FROM points_ledger l"
        " JOIN customers c ON c.id = l.customer_id GROUP BY l.customer_id",
    )
    return {code: int(total) for code, total in rows}


def available(db: Database, code: str, day: date) -> int:
    ids = dict(table_rows(db, "SELECT customer_code, id FROM customers"))
    with database.session_scope(db) as session:
        account = ledger.accounts(session).get(ids[code])
    return account.available(day) if account is not None else 0


def expiring(db: Database, day: date, until: date) -> dict[str, int]:
    """Points in live lots expiring before `until`, by customer code (`cpm points expiring`)."""
    codes = {cid: code for code, cid in table_rows(db, "SELECT customer_code, id FROM customers")}
    result: dict[str, int] = {}
    with database.session_scope(db) as session:
        for lot in ledger.expiring(session, on=day, until=until):
            result[codes[lot.customer_id]] = result.get(codes[lot.customer_id], 0) + lot.points
    return result


def summary_counts(data: awarding.AwardSummary | dict[str, Any]) -> AwardCounts:
    """The model's counts from an AwardSummary or from `cpm award --format json`."""
    values = data if isinstance(data, dict) else vars(data)
    return AwardCounts(
        *(
            int(values[name])
            for name in (
                "orders_earned",
                "points_earned",
                "points_reversed",
                "points_topped_up",
                "points_expired",
            )
        )
    )


class Run:
    """One hypothesis example: cpm on a fresh database and the model, side by side."""

    def __init__(self, db: Database, folder: Path) -> None:
        assert db.path is not None
        self.db = db
        self.folder = folder
        self.cli = Cli(db.path, folder)
        self.model = Model()
        self.seen: dict[int, tuple[Any, ...]] = {}
        self.files = 0
        self.version = Settings().version()

    def apply(self, op: Op, today: date) -> None:
        note(f"{today}: {op}")
        if isinstance(op, ImportOrders):
            self.import_orders(op, today)
        elif isinstance(op, Award):
            self.award(op, today)
        elif isinstance(op, ImportPoints):
            self.import_points(op, today)
        elif isinstance(op, Redeem):
            code = CODES[op.customer]
            self.manual(code, -share_of(self.model.available(code, today), op.percent), today)
        else:
            code = CODES[op.customer]
            points = (
                op.add if op.add is not None else -share_of(self.model.available(code, today), op.percent)
            )
            self.manual(code, points, today, adjusting=True)
        self.check(today)

    def import_orders(self, op: ImportOrders, today: date) -> None:
        rows: list[list[str]] = []
        changes: list[tuple[ModelOrder, int, str]] = []
        new: list[ModelOrder] = []
        in_file: set[str] = set()
        for spec in op.rows:
            if isinstance(spec, NewOrder):
                order = ModelOrder(
                    f"O{len(self.model.orders) + len(new) + 1}",
                    CODES[spec.customer],
                    today - timedelta(days=spec.days_back),
                    spec.cents,
                    spec.status,
                )
                new.append(order)
                rows.append(
                    [order.order_no, order.code, order.day.isoformat(), money(order.cents), order.status]
                )
            elif self.model.orders:
                stored = list(self.model.orders.values())[spec.pick % len(self.model.orders)]
                if stored.order_no in in_file:
                    continue  # two rows of one order would be two lines of it, added up
                cents = stored.cents if spec.cents is None else spec.cents
                changes.append((stored, cents, spec.status))
                rows.append([stored.order_no, stored.code, stored.day.isoformat(), money(cents), spec.status])
            else:
                continue
            in_file.add(rows[-1][0])
        if not rows:
            return
        self.files += 1
        path = write_csv(self.folder / f"orders-{self.files}.csv", [ORDER_HEADER, *rows])
        note(f"  file {path.name}: {rows}")
        import_orders_file(self.db, path)
        for order in new:
            self.model.orders[order.order_no] = order
            self.model.customers.add(order.code)
        for stored, cents, status in changes:
            stored.cents, stored.status = cents, status

    def import_points(self, op: ImportPoints, today: date) -> None:
        rows: list[list[str]] = []
        for spec in op.rows:
            code = CODES[spec.customer]
            earned = today if spec.days_back is None else today - timedelta(days=spec.days_back)
            expires = None if spec.lifetime is None else earned + timedelta(days=spec.lifetime)
            rows.append(
                [
                    code,
                    str(spec.points),
                    "" if spec.days_back is None else earned.isoformat(),
                    "" if expires is None else expires.isoformat(),
                    "",
                ]
            )
            self.model.customers.add(code)
            # A row is one fact, known by what it says (a blank date stays blank) and how many
            # identical rows came before it in its file: the same row again is the same fact.
            content = (code, spec.points, rows[-1][2], rows[-1][3])
            occurrence = sum(1 for row in rows if (row[0], int(row[1]), row[2], row[3]) == content)
            if (content, occurrence) in self.model.openings:
                continue
            self.model.openings.add((content, occurrence))
            account = self.model.account(code)
            if spec.points > 0:
                account.credit(spec.points, earned, expires)
            else:
                account.debit(-spec.points, earned)
        self.files += 1
        path = write_csv(
            self.folder / f"points-{self.files}.csv",
            [["customer_code", "points", "earned_on", "expires_on", "note"], *rows],
        )
        note(f"  file {path.name}: {rows}")
        for _ in range(2 if op.again else 1):
            request = importing.ImportRequest(sheet=open_sheet(path), path=path, sha256=file_sha256(path))
            with database.session_scope(self.db, write=True) as session:
                importing.import_points(session, request, settings=Settings(), today=today)
        self.model.events.add("opening debt" if any(r.points < 0 for r in op.rows) else "opening")

    def award(self, op: Award, today: date) -> None:
        expected = self.model.award(today)
        got = self.run_award(today, op.via_cli)
        self.check(today)
        assert got == expected, f"award summary as of {today}"
        if op.twice:
            count = len(self.seen)
            again = self.run_award(today, op.via_cli)
            assert len(ledger_rows(self.db)) == count, "an award right after another posted rows"
            assert again == AwardCounts()
            self.model.events.add("awarded twice")

    def run_award(self, today: date, via_cli: bool) -> AwardCounts:
        if via_cli:
            result = self.cli("award", "--as-of", today.isoformat(), "--format", "json")
            assert result.exit_code == 0, result.stderr
            return summary_counts(json.loads(result.stdout))
        return summary_counts(award(self.db, today))

    def manual(self, code: str, points: int, today: date, *, adjusting: bool = False) -> None:
        """A redemption (points < 0, not adjusting) or an adjustment, refused when the model says so."""
        known = code in self.model.customers
        allowed = known and (points > 0 or -points <= self.model.available(code, today))
        note(f"  {code} {points:+} points: model available {self.model.available(code, today)}")

        def post() -> None:
            if adjusting:
                adjust(self.db, code, points, today)
            else:
                redeem(self.db, code, -points, today)

        kind = "adjust" if adjusting else "redeem"
        self.model.events.add(
            f"{kind} {'allowed' if allowed else 'refused' if known else 'unknown customer'}"
        )
        if allowed:
            post()
            account = self.model.account(code)
            if points > 0:
                account.credit(points, today)
            else:
                account.debit(-points, today)
            return
        before = snapshot(self.db)
        with pytest.raises(Conflict if known else NotFound):
            post()
        assert snapshot(self.db) == before, "a refused redemption or adjustment wrote something"

    def check(self, today: date) -> None:
        rows = ledger_rows(self.db)
        now = {row[0]: row for row in rows}
        # (4) append-only: every row seen before is still there, unchanged
        for row_id, old in self.seen.items():
            assert now.get(row_id) == old, f"ledger row {row_id} was updated or deleted"
        self.seen = now
        # (2) natural keys are unique; one earn:<order_no> per awarded order, pointing at it
        keys = [row[1] for row in rows]
        assert len(keys) == len(set(keys))
        order_ids = dict(table_rows(self.db, "SELECT order_no, id FROM orders"))
        earn_keys = {row[1]: row[6] for row in rows if row[1].startswith("earn:")}
        awarded = {o.order_no for o in self.model.orders.values() if o.factor is not None}
        assert {key.removeprefix("earn:") for key in earn_keys} == awarded
        for key, order_id in earn_keys.items():
            assert order_ids[key.removeprefix("earn:")] == order_id
        assert {row[12] for row in rows} <= {self.version}
        # what each order holds
        held = dict(
            table_rows(
                self.db,
                "SELECT o.order_no, SUM(l.points) FROM points_ledger l JOIN orders o ON o.id = l.order_id"
                " WHERE l.kind IN ('earn', 'reverse') GROUP BY o.order_no",
            )
        )
        assert held == {o.order_no: o.held for o in self.model.orders.values() if o.factor is not None}
        # (1) balances are the model's
        stored = balances(self.db)
        for code in CODES:
            assert stored.get(code, 0) == self.model.balance(code), f"balance of {code} on {today}"
        # (5) available today is the model's
        ids = dict(table_rows(self.db, "SELECT customer_code, id FROM customers"))
        with database.session_scope(self.db) as session:
            accounts = ledger.accounts(session)
        for code in sorted(self.model.customers):
            account = accounts.get(ids[code])
            got = account.available(today) if account is not None else 0
            assert got == self.model.available(code, today), f"available of {code} on {today}"
        # (6) what `cpm points expiring --within 45d` lists is the model's
        until = today + timedelta(days=45)
        # (7) the positions the reports and `cpm points balance` show (summed for customers who
        # never lost a point, replayed for the others) are the model's, for all or for one
        with database.session_scope(self.db) as session:
            everyone = ledger.positions(session, on=today, until=until)
            singly = {
                code: ledger.positions(session, on=today, until=until, customer_ids=[ids[code]]).get(
                    ids[code]
                )
                for code in sorted(self.model.customers)
            }
        for code in sorted(self.model.customers):
            position = everyone.get(ids[code])
            assert position == singly[code]
            shown = (position.balance, position.available, position.expiring) if position else (0, 0, 0)
            assert shown == (
                self.model.balance(code),
                self.model.available(code, today),
                self.model.accounts[code].expiring(today, until) if code in self.model.accounts else 0,
            ), f"position of {code} on {today}"
        assert expiring(self.db, today, until) == {
            code: points
            for code, account in self.model.accounts.items()
            if (points := account.expiring(today, until))
        }


HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYPOTHESIS
@given(steps=steps_st)
def test_ledger_follows_the_model(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[int, Op]]
) -> None:
    folder = tmp_path_factory.mktemp("p")
    run = Run(fresh_database(folder), folder)
    try:
        today = FIRST_DAY
        for gap, op in steps:
            if today + timedelta(days=gap) > LAST_DAY:
                break
            today += timedelta(days=gap)
            run.apply(op, today)
        run.apply(Award(twice=True, via_cli=False), today + timedelta(days=1))
        for name in sorted(run.model.events):
            event(name)
    finally:
        database.dispose_engines()


BAD_CELLS = [("amount", "abc"), ("amount", "12.345"), ("order_date", "2024-13-45")]


@HYPOTHESIS
@given(
    first=st.lists(new_order_st, min_size=0, max_size=4),
    award_first=st.booleans(),
    later=st.lists(new_order_st | reimport_st, min_size=0, max_size=4),
    bad_at=st.integers(min_value=0, max_value=4),
    bad=st.sampled_from(BAD_CELLS),
    via_cli=st.booleans(),
)
def test_an_import_with_one_bad_row_writes_nothing(
    tmp_path_factory: pytest.TempPathFactory,
    first: list[NewOrder],
    award_first: bool,
    later: list[NewOrder | ReImport],
    bad_at: int,
    bad: tuple[str, str],
    via_cli: bool,
) -> None:
    folder = tmp_path_factory.mktemp("p")
    run = Run(fresh_database(folder), folder)
    try:
        today = date(2025, 6, 1)
        if first:
            run.apply(ImportOrders(tuple(first)), today)
        if award_first:
            run.apply(Award(twice=False, via_cli=False), today + timedelta(days=1))
        rows: list[list[str]] = []
        for index, spec in enumerate(later):
            if isinstance(spec, NewOrder):
                day = today - timedelta(days=spec.days_back)
                rows.append(
                    [f"N{index}", CODES[spec.customer], day.isoformat(), money(spec.cents), spec.status]
                )
            elif run.model.orders:
                o = list(run.model.orders.values())[spec.pick % len(run.model.orders)]
                cents = o.cents if spec.cents is None else spec.cents
                rows.append([o.order_no, o.code, o.day.isoformat(), money(cents), spec.status])
        column, value = bad
        broken = ["B1", "C9", "2025-05-01", "10.00", "completed"]
        broken[ORDER_HEADER.index(column)] = value
        rows.insert(bad_at % (len(rows) + 1), broken)
        path = write_csv(folder / "bad.csv", [ORDER_HEADER, *rows])
        before = snapshot(run.db)
        if via_cli:
            result = run.cli("import", "orders", str(path))
            assert result.exit_code == 1
            assert "nothing was imported" in result.stderr
        else:
            with pytest.raises(InvalidInput):
                import_orders_file(run.db, path)
        assert snapshot(run.db) == before
    finally:
        database.dispose_engines()


# --------------------------------------------------------------------------------------------
# Hand-worked examples
# --------------------------------------------------------------------------------------------


def orders_csv(folder: Path, name: str, rows: list[list[str]], *, refunds: bool = False) -> Path:
    header = [*ORDER_HEADER, "refunded_amount"] if refunds else ORDER_HEADER
    return write_csv(folder / name, [header, *rows])


def rows_of(db: Database, where: str = "1") -> list[tuple[Any, ...]]:
    """(natural_key, kind, points, effective_on, expires_on) of the ledger rows, in posting order."""
    return table_rows(
        db,
        "SELECT natural_key, kind, points, effective_on, expires_on FROM points_ledger"
        f" WHERE {where} ORDER BY id",
    )


def test_a_regular_order_earns_the_floor_of_its_amount(db: Database, tmp_path: Path) -> None:
    import_orders_file(
        db, orders_csv(tmp_path, "o.csv", [["S1", "C1", "2025-03-01", "1234.56", "completed"]])
    )
    summary = award(db, date(2025, 3, 2))
    assert (summary.orders_earned, summary.points_earned) == (1, 1234)
    assert rows_of(db) == [("earn:S1", "earn", 1234, "2025-03-01", "2026-03-01")]
    assert table_rows(db, "SELECT factor FROM points_ledger") == [("1",)]


def test_an_award_before_the_order_date_earns_nothing_yet(db: Database, tmp_path: Path) -> None:
    import_orders_file(db, orders_csv(tmp_path, "o.csv", [["S1", "C1", "2025-03-01", "100.00", "completed"]]))
    assert award(db, date(2025, 3, 1)).points_earned == 0  # as-of is the start of the day
    assert rows_of(db) == []
    assert award(db, date(2025, 3, 2)).points_earned == 100


def test_the_tier_held_on_the_order_date_sets_the_multiplier(db: Database, tmp_path: Path) -> None:
    rows = [
        ["A", "C1", "2024-03-02", "5000.00", "completed"],  # nothing before: Regular, 5,000
        ["B", "C1", "2024-03-02", "100.00", "completed"],  # A is the same day, not before: Regular
        ["C", "C1", "2025-03-01", "1000.00", "completed"],  # [2024-03-01, 2025-03-01) holds A+B: VIP
        ["D", "C1", "2025-03-03", "1000.00", "completed"],  # A and B left the window: only C, Regular
        ["F", "C2", "2025-01-10", "15000.00", "completed"],  # Regular
        ["G", "C2", "2025-02-10", "5000.00", "completed"],  # 15,000 before: VIP ×1.2
        ["H", "C2", "2025-03-10", "100.00", "completed"],  # 20,000 before: Diamond ×1.5
        ["K", "C3", "2025-03-10", "0.99", "completed"],  # floor(0.99) = 0: nothing to post
    ]
    import_orders_file(db, orders_csv(tmp_path, "o.csv", rows))
    award(db, date(2025, 4, 1))
    earned = dict(table_rows(db, "SELECT natural_key, points FROM points_ledger WHERE kind = 'earn'"))
    assert earned == {
        "earn:A": 5000,
        "earn:B": 100,
        "earn:C": 1200,
        "earn:D": 1000,
        "earn:F": 15000,
        "earn:G": 6000,
        "earn:H": 150,
    }


def test_a_partial_refund_reverses_the_difference_at_the_original_factor(
    db: Database, tmp_path: Path
) -> None:
    first = [
        ["A", "C1", "2025-01-10", "5000.00", "completed", ""],
        ["B", "C1", "2025-02-10", "1000.00", "completed", ""],  # VIP on its date: 1,200
    ]
    import_orders_file(db, orders_csv(tmp_path, "a.csv", first, refunds=True))
    award(db, date(2025, 3, 1))
    # A is refunded (so C1 would be Regular today) and half of B is refunded.
    second = [
        ["A", "C1", "2025-01-10", "5000.00", "refunded", ""],
        ["B", "C1", "2025-02-10", "1000.00", "completed", "500.00"],
    ]
    import_orders_file(db, orders_csv(tmp_path, "b.csv", second, refunds=True))
    summary = award(db, date(2025, 4, 1))
    assert (summary.orders_corrected, summary.points_reversed) == (2, 5600)
    assert rows_of(db, "kind = 'reverse'") == [
        ("order:A:2", "reverse", -5000, "2025-04-01", None),
        ("order:B:2", "reverse", -600, "2025-04-01", None),  # floor(500 × 1.2) − 1,200, not 500 − 1,200
    ]
    assert balances(db) == {"C1": 600}
    assert award(db, date(2025, 4, 2)).orders_corrected == 0
    # The refund is taken back: a top-up of 600, a new lot earned on the order date.
    third = [["B", "C1", "2025-02-10", "1000.00", "completed", ""]]
    import_orders_file(db, orders_csv(tmp_path, "c.csv", third, refunds=True))
    assert award(db, date(2025, 5, 1)).points_topped_up == 600
    assert rows_of(db, "natural_key = 'order:B:3'") == [
        ("order:B:3", "earn", 600, "2025-05-01", "2026-02-10")
    ]
    assert balances(db) == {"C1": 1200}


def test_a_reversal_beyond_the_balance_is_a_debt_the_next_earning_pays(db: Database, tmp_path: Path) -> None:
    import_orders_file(db, orders_csv(tmp_path, "a.csv", [["A", "C1", "2025-01-10", "1000.00", "completed"]]))
    award(db, date(2025, 1, 20))
    redeem(db, "C1", 800, date(2025, 2, 1))
    assert balances(db) == {"C1": 200}
    import_orders_file(db, orders_csv(tmp_path, "b.csv", [["A", "C1", "2025-01-10", "1000.00", "cancelled"]]))
    assert award(db, date(2025, 3, 1)).points_reversed == 1000
    assert balances(db) == {"C1": -800}
    assert available(db, "C1", date(2025, 3, 1)) == -800
    with pytest.raises(Conflict):
        redeem(db, "C1", 1, date(2025, 3, 2))
    import_orders_file(db, orders_csv(tmp_path, "c.csv", [["B", "C1", "2025-03-05", "2000.00", "completed"]]))
    assert award(db, date(2025, 3, 10)).points_earned == 2000
    assert balances(db) == {"C1": 1200}
    assert available(db, "C1", date(2025, 3, 10)) == 1200
    # At the end only B's lot holds anything: 2,000 less the 800 of debt it paid off.
    summary = award(db, date(2026, 3, 5))
    assert summary.points_expired == 1200
    assert rows_of(db, "kind = 'expire'") == [
        (f"expire:{earn_id(db, 'A')}", "expire", 0, "2026-01-10", None),
        (f"expire:{earn_id(db, 'B')}", "expire", -1200, "2026-03-05", None),
    ]
    assert balances(db) == {"C1": 0}


def earn_id(db: Database, order_no: str) -> int:
    ((row_id,),) = table_rows(db, f"SELECT id FROM points_ledger WHERE natural_key = 'earn:{order_no}'")
    return int(row_id)


def test_expiry_takes_only_the_unspent_remainder(db: Database, tmp_path: Path) -> None:
    import_orders_file(db, orders_csv(tmp_path, "a.csv", [["A", "C1", "2025-01-05", "100.00", "completed"]]))
    award(db, date(2025, 1, 6))
    redeem(db, "C1", 30, date(2025, 2, 1))
    assert award(db, date(2026, 1, 4)).lots_expired == 0  # usable through 2026-01-04
    assert available(db, "C1", date(2026, 1, 4)) == 70
    assert available(db, "C1", date(2026, 1, 5)) == 0  # past its date, even before an award closes it
    summary = award(db, date(2026, 1, 5))
    assert (summary.lots_expired, summary.points_expired) == (1, 70)
    lot = earn_id(db, "A")
    assert table_rows(
        db, "SELECT natural_key, points, effective_on, lot_id FROM points_ledger WHERE kind = 'expire'"
    ) == [(f"expire:{lot}", -70, "2026-01-05", lot)]
    assert balances(db) == {"C1": 0}
    assert award(db, date(2026, 2, 1)).lots_expired == 0


def test_a_lot_spent_in_full_is_closed_with_a_zero_expiry(db: Database, tmp_path: Path) -> None:
    import_orders_file(db, orders_csv(tmp_path, "a.csv", [["A", "C1", "2025-01-05", "100.00", "completed"]]))
    award(db, date(2025, 1, 6))
    redeem(db, "C1", 100, date(2025, 2, 1))
    summary = award(db, date(2026, 2, 1))
    assert (summary.lots_expired, summary.points_expired) == (0, 0)
    assert rows_of(db, "kind = 'expire'") == [(f"expire:{earn_id(db, 'A')}", "expire", 0, "2026-01-05", None)]
    count = len(ledger_rows(db))
    award(db, date(2026, 3, 1))
    assert len(ledger_rows(db)) == count
    assert balances(db) == {"C1": 0}


def test_redemptions_take_the_soonest_expiring_lot_first(db: Database, tmp_path: Path) -> None:
    rows = [
        ["B", "C1", "2025-03-01", "100.00", "completed"],
        ["A", "C1", "2025-01-01", "100.00", "completed"],
    ]
    import_orders_file(db, orders_csv(tmp_path, "a.csv", rows))
    award(db, date(2025, 4, 1))
    redeem(db, "C1", 150, date(2025, 4, 2))  # all of A (expires 2026-01-01), then 50 of B
    assert award(db, date(2026, 1, 1)).points_expired == 0
    assert award(db, date(2026, 3, 1)).points_expired == 50
    assert balances(db) == {"C1": 0}


# --------------------------------------------------------------------------------------------
# The command line (`cpm points …` works on today's date)
# --------------------------------------------------------------------------------------------


def recent_order(cli: Cli, tmp_path: Path, cents: int = 10_000, code: str = "C1") -> None:
    day = (date.today() - timedelta(days=10)).isoformat()
    path = orders_csv(tmp_path, f"recent-{code}.csv", [[f"R-{code}", code, day, money(cents), "completed"]])
    result = cli("import", "orders", str(path))
    assert result.exit_code == 0, result.stderr


def test_cli_redeem_beyond_available_is_refused_and_writes_nothing(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    recent_order(cli, tmp_path)
    assert cli("award").exit_code == 0
    assert balances(db) == {"C1": 100}
    before = snapshot(db)
    result = cli("points", "redeem", "C1", "500", "--reason", "gift")
    assert result.exit_code == 1
    assert "Error" in result.stderr and "100" in result.stderr
    assert snapshot(db) == before
    assert cli("points", "redeem", "C9", "5", "--reason", "gift").exit_code == 1  # unknown customer
    assert cli("points", "redeem", "C1", "0", "--reason", "gift").exit_code == 2  # N must be at least 1
    assert snapshot(db) == before
    # Exactly what is available is allowed (--quiet: see the test of the printed result below).
    assert cli("points", "redeem", "C1", "100", "--reason", "gift", "--quiet").exit_code == 0
    assert balances(db) == {"C1": 0}


def test_cli_adjust_needs_a_reason(cli: Cli, db: Database, tmp_path: Path) -> None:
    recent_order(cli, tmp_path)
    assert cli("award").exit_code == 0
    before = snapshot(db)
    assert cli("points", "adjust", "C1", "+5").exit_code == 2
    assert cli("points", "adjust", "C1", "-5").exit_code == 2
    assert cli("points", "adjust", "C1", "5", "--reason", "").exit_code == 1
    assert cli("points", "adjust", "C1", "5", "--reason", "   ").exit_code == 1
    assert cli("points", "adjust", "C1", "-101", "--reason", "too much").exit_code == 1
    assert snapshot(db) == before
    assert cli("points", "adjust", "C1", "-5", "--reason", "typo", "--quiet").exit_code == 0
    assert cli("points", "adjust", "C1", "+7", "--reason", "goodwill", "--quiet").exit_code == 0
    assert balances(db) == {"C1": 102}


def test_cli_key_makes_a_redemption_idempotent(cli: Cli, db: Database, tmp_path: Path) -> None:
    recent_order(cli, tmp_path)
    assert cli("award").exit_code == 0
    for _ in range(2):
        result = cli("points", "redeem", "C1", "30", "--reason", "gift", "--key", "K1", "--quiet")
        assert result.exit_code == 0, result.stderr
    assert table_rows(db, "SELECT natural_key, points FROM points_ledger WHERE kind = 'redeem'") == [
        ("redeem:K1", -30)
    ]
    assert balances(db) == {"C1": 70}
    before = snapshot(db)
    assert cli("points", "redeem", "C1", "31", "--reason", "gift", "--key", "K1").exit_code == 1
    assert snapshot(db) == before


def test_cli_redeem_and_adjust_print_the_new_balance(cli: Cli, db: Database, tmp_path: Path) -> None:
    recent_order(cli, tmp_path)
    assert cli("award").exit_code == 0
    result = cli("points", "redeem", "C1", "30", "--reason", "gift", "--key", "K1")
    assert result.exit_code == 0
    assert "C1: balance 70, available 70" in result.stdout
    result = cli("points", "redeem", "C1", "30", "--reason", "gift", "--key", "K1")
    assert result.exit_code == 0
    assert "Already recorded" in result.stderr and "C1: balance 70, available 70" in result.stdout
    result = cli("points", "adjust", "C1", "+5", "--reason", "goodwill")
    assert result.exit_code == 0
    assert "C1: balance 75, available 75" in result.stdout
    assert balances(db) == {"C1": 75}


def test_cli_import_points_twice_posts_once(cli: Cli, db: Database, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "opening.csv",
        [
            ["customer_code", "points", "earned_on", "expires_on", "note"],
            ["C1", "100", "2026-10-01", "", "old card"],
            ["C1", "100", "2026-10-01", "", "old card"],  # a second identical row is a second fact
            ["C2", "-50", "", "", "debt"],
            ["C3", "40", "2026-01-01", "2027-06-30", ""],
        ],
    )
    for _ in range(2):
        result = cli("import", "points", str(path))
        assert result.exit_code == 0, result.stderr
    assert table_rows(db, "SELECT COUNT(*) FROM points_ledger WHERE kind = 'opening'") == [(4,)]
    assert balances(db) == {"C1": 200, "C2": -50, "C3": 40}
    c1_expiry = (
        "SELECT l.expires_on FROM points_ledger l JOIN customers c ON c.id = l.customer_id"
        " WHERE c.customer_code = 'C1' ORDER BY l.id"
    )
    assert table_rows(db, c1_expiry) == [
        ("2027-10-01",),
        ("2027-10-01",),
    ]


def test_cli_award_dry_run_writes_nothing(cli: Cli, db: Database, tmp_path: Path) -> None:
    recent_order(cli, tmp_path, cents=123_456)
    before = snapshot(db)
    result = cli("award", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["dry_run"], data["orders_earned"], data["points_earned"]) == (True, 1, 1234)
    assert snapshot(db) == before
    assert cli("award").exit_code == 0
    assert balances(db) == {"C1": 1234}


def test_cli_award_quiet_prints_nothing(cli: Cli, db: Database, tmp_path: Path) -> None:
    recent_order(cli, tmp_path)
    result = cli("award", "--quiet")
    assert result.exit_code == 0
    assert (result.stdout, result.stderr) == ("", "")
    assert balances(db) == {"C1": 100}
    result = cli("--quiet", "award")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
