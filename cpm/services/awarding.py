"""`cpm award`: bring the ledger in line with the orders, exactly once.

One run, in one transaction that holds the write lock from its start:
1. every counted order not yet awarded earns floor(net × rate × tier multiplier × birthday
   multiplier), the tier being the one the customer held on the order date (net spend in the
   window before that day); a customer's first counted order also earns the first-order bonus;
2. every awarded order whose net amount has changed since gets the difference — a reversal, or a
   top-up — computed with the factor it first earned at (so later rule changes never rewrite it);
3. every lot past its expiry date is closed, taking what is left of it (0 if it was spent);
4. tier changes as of the run's date are recorded.
Each fact has a natural key, so a second run, or one that overlaps, posts nothing again.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cpm.config import Settings
from cpm.errors import CpmError
from cpm.models import AwardRun, Correction, Customer, ImportBatch, Order, PointsEntry, TierChange
from cpm.services import bulk, ledger
from cpm.services.customers import Window, tier_for, window_spend
from cpm.services.ledger import EARN, EXPIRE, REVERSE, add_months
from cpm.services.tiering import record_tier_changes
from cpm.services.totals import check_totals

LEDGER_COLUMNS = (
    "natural_key",
    "customer_id",
    "kind",
    "points",
    "effective_on",
    "order_id",
    "order_net",
    "factor",
    "lot_id",
    "earned_on",
    "expires_on",
    "rules_version",
    "note",
    "created_at",
)


@dataclass
class AwardSummary:
    as_of: date
    orders_earned: int = 0
    points_earned: int = 0
    bonuses: int = 0
    bonus_points: int = 0
    orders_corrected: int = 0
    points_reversed: int = 0
    points_topped_up: int = 0
    lots_expired: int = 0
    points_expired: int = 0
    tier_changes: int = 0
    customers: set[int] = field(default_factory=set)

    @property
    def customers_touched(self) -> int:
        return len(self.customers)


@dataclass(frozen=True)
class _OrderRow:
    id: int
    order_no: str
    customer_id: int
    order_date: date
    net: int
    basis_net: int | None  # None: never awarded
    basis_customer: int | None = None  # the customer of the order's latest points row
    removed: bool = False  # taken back by an undone import: it never happened


def _factor_text(value: Fraction) -> str:
    return format(Decimal(value.numerator) / Decimal(value.denominator), "f")


# What one order may earn: far above any real order, and far inside the ledger's 64-bit integers.
MAX_ORDER_POINTS = 10**15


def _points(net: int, factor: Fraction, order_no: str) -> int:
    """floor(net amount in currency units × factor); net is in cents. Integer arithmetic, exact."""
    points = (net * factor.numerator) // (100 * factor.denominator)
    if points > MAX_ORDER_POINTS:
        raise CpmError(
            f"order {order_no} would earn {points:,} points, more than one order may earn "
            f"({MAX_ORDER_POINTS:,}); nothing was awarded",
            hint="Check the order's amount and points.rate and the multipliers in cpm.toml.",
        )
    return points


def _earns(order_date: date, net: int, settings: Settings) -> bool:
    if net <= 0 or net < settings.minimum_order:
        return False
    return settings.programme_start is None or order_date >= settings.programme_start


_ORDER_POINTS = col(PointsEntry.factor).is_not(None)
ORDERS = Order.__table__.c  # type: ignore[attr-defined]
CUSTOMERS = Customer.__table__.c  # type: ignore[attr-defined]  # the rows that carry an order's own points


def _orders_to_examine(
    session: Session, settings: Settings, as_of: date, *, since: date | None = None
) -> list[_OrderRow]:
    """Orders never awarded that may earn, and awarded orders whose net amount or customer changed.

    `since`: only orders dated on or after it can need anything (see `_unchanged_since`).
    """
    if since is None:
        return _examine(session, settings, as_of, None)
    if since >= as_of:
        return []
    scope = [
        int(i)
        for (i,) in session.execute(
            sa_select(ORDERS.id).where(ORDERS.order_date >= since, ORDERS.order_date < as_of)
        )
    ]
    found: list[_OrderRow] = []
    for start in range(0, len(scope), 500):
        found += _examine(session, settings, as_of, scope[start : start + 500])
    return sorted(found, key=lambda o: (o.customer_id, o.order_date, o.id))


def _examine(session: Session, settings: Settings, as_of: date, ids: list[int] | None) -> list[_OrderRow]:
    points_rows = [_ORDER_POINTS] + ([col(PointsEntry.order_id).in_(ids)] if ids is not None else [])
    last_rows = (
        select(col(PointsEntry.order_id).label("order_id"), func.max(PointsEntry.id).label("last_id"))
        .where(*points_rows)
        .group_by(col(PointsEntry.order_id))
        .subquery()
    )
    basis = (
        select(
            last_rows.c.order_id,
            col(PointsEntry.order_net).label("order_net"),
            col(PointsEntry.customer_id).label("customer_id"),
        )
        .join(PointsEntry, col(PointsEntry.id) == last_rows.c.last_id)
        .subquery()
    )
    new = and_(
        basis.c.order_id.is_(None),
        col(Order.net_amount) > 0,
        col(Order.net_amount) >= settings.minimum_order,
    )
    if settings.programme_start is not None:
        new = and_(new, col(Order.order_date) >= settings.programme_start)
    changed = and_(
        basis.c.order_id.is_not(None),
        or_(basis.c.order_net != col(Order.net_amount), basis.c.customer_id != col(Order.customer_id)),
    )
    query = (
        sa_select(
            ORDERS.id,
            ORDERS.order_no,
            ORDERS.customer_id,
            ORDERS.order_date,
            ORDERS.net_amount,
            basis.c.order_net,
            basis.c.customer_id,
            ORDERS.removed_at.is_not(None),
        )
        .outerjoin(basis, basis.c.order_id == ORDERS.id)
        .where(ORDERS.order_date < as_of, or_(new, changed))
        .order_by(ORDERS.customer_id, ORDERS.order_date, ORDERS.id)
    )
    if ids is not None:
        query = query.where(ORDERS.id.in_(ids))
    days = bulk.Days()
    return [
        _OrderRow(oid, no, cid, days[day], net, basis_net, basis_cid, bool(removed))
        for oid, no, cid, day, net, basis_net, basis_cid, removed in bulk.driver_rows(session, query)
    ]


def _import_mark(session: Session) -> int:
    """The newest import of orders or customers that changed any (what an award's postings depend
    on); 0 if none. An import that found every row unchanged — the nightly export imported again —
    wrote nothing an award reads, so it does not make the next award look at every order again."""
    changed = ImportBatch.inserted + ImportBatch.updated + ImportBatch.customers_created
    newest = session.exec(
        select(func.max(ImportBatch.id)).where(
            col(ImportBatch.kind).in_(("orders", "customers")), changed > 0
        )
    ).one()
    return int(newest or 0)


def _newest_tier_change(session: Session) -> int:
    return int(session.exec(select(func.max(TierChange.id))).one() or 0)


def _unchanged_since(
    last: AwardRun | None, *, version: str, import_mark: int, corrected: datetime | None
) -> date | None:
    """The as-of date of the last award if nothing it depended on has changed since, else None.

    An award's postings for an order depend only on the orders and customers (changed by
    imports and by corrections: a merge moves orders, an edit changes a birthday) and on the
    rules. If none changed since the last award, every order dated before that award's as-of
    date was examined then with exactly what is stored now, so only orders dated on or after it
    can need anything. `corrected`: when the newest correction was made.
    """
    if last is None or last.rules_version != version or last.last_import_id != import_mark:
        return None
    if corrected is not None and corrected.replace(tzinfo=None) >= last.created_at.replace(tzinfo=None):
        return None
    return last.as_of


class _DbDays(dict[date | None, Any]):
    """Dates as the database takes them, converted once per distinct date (None stays None)."""

    def __init__(self, *, sqlite: bool) -> None:
        super().__init__({None: None})
        self.sqlite = sqlite

    def __missing__(self, day: date) -> Any:
        value = self[day] = bulk.db_value(day, sqlite=self.sqlite)
        return value


class _Poster:
    """Collects ledger rows and writes them in bulk (a million orders cannot go one ORM row each)."""

    def __init__(self, session: Session, settings: Settings, summary: AwardSummary) -> None:
        self.session = session
        self.settings = settings
        self.summary = summary
        self.version = settings.version()
        self.now = datetime.now(UTC)
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self.created_at = bulk.db_value(self.now, sqlite=self.sqlite)
        self.rows: list[list[Any]] = []
        self._days = _DbDays(sqlite=self.sqlite)

    def add(
        self,
        *,
        natural_key: str,
        customer_id: int,
        kind: str,
        points: int,
        effective_on: date,
        note: str,
        order_id: int | None = None,
        order_net: int | None = None,
        factor: str | None = None,
        lot_id: int | None = None,
        earned_on: date | None = None,
        expires_on: date | None = None,
    ) -> None:
        """One ledger row, in LEDGER_COLUMNS order (a million of these: no per-value dispatch)."""
        self.summary.customers.add(customer_id)
        day = self._days  # a dict that fills itself: one lookup per date, no call
        self.rows.append(
            [
                natural_key,
                customer_id,
                kind,
                points,
                day[effective_on],
                order_id,
                order_net,
                factor,
                lot_id,
                day[earned_on],
                day[expires_on],
                self.version,
                note,
                self.created_at,
            ]
        )

    def flush(self) -> None:
        bulk.insert_rows(self.session, table="points_ledger", columns=LEDGER_COLUMNS, rows=self.rows)
        self.rows = []


def _histories(session: Session, customer_ids: Sequence[int]) -> dict[int, tuple[list[date], list[int], int]]:
    """For each customer: counted order dates (sorted), running net totals, and their first order id."""
    result: dict[int, tuple[list[date], list[int], int]] = {}
    ids = sorted(set(customer_ids))
    query = sa_select(ORDERS.customer_id, ORDERS.order_date, ORDERS.net_amount, ORDERS.id).order_by(
        ORDERS.customer_id, ORDERS.order_date, ORDERS.id
    )
    if len(ids) > 5_000:  # most customers: one pass over the orders beats thousands of lookups
        batches = [query.where(ORDERS.net_amount > 0)]
    else:
        batches = [
            query.where(ORDERS.net_amount > 0, ORDERS.customer_id.in_(ids[start : start + 500]))
            for start in range(0, len(ids), 500)
        ]
    wanted = set(ids)
    days = bulk.Days()
    for batch in batches:
        for cid, day, net, order_id in bulk.driver_rows(session, batch):
            entry = result.get(cid)
            if entry is None:
                if cid not in wanted:
                    continue
                entry = result[cid] = ([], [0], order_id)
            entry[0].append(days[day])
            entry[1].append(entry[1][-1] + net)
    return result


_NO_HISTORY: tuple[list[date], list[int], int] = ([], [0], 0)  # a customer with no counted order


def _spend_before(history: tuple[list[date], list[int], int], day: date, window_days: int) -> int:
    """Net spend in the window before `day` (the tier held on `day` depends on it)."""
    dates, totals, _ = history
    return totals[bisect_left(dates, day)] - totals[bisect_left(dates, day - timedelta(days=window_days))]


class _Earning:
    """What an order earns for its customer under the rules in force: the factor (rate × the tier
    held on the order date × the birthday multiplier), and whether it is their bonus order."""

    def __init__(self, session: Session, settings: Settings, customer_ids: Sequence[int]) -> None:
        self.settings = settings
        self.histories = _histories(session, customer_ids)
        self.info: dict[int, tuple[str, date | None]] = {}
        ids = sorted(set(customer_ids))
        for start in range(0, len(ids), 500):
            query = sa_select(CUSTOMERS.id, CUSTOMERS.customer_code, CUSTOMERS.birthday).where(
                CUSTOMERS.id.in_(ids[start : start + 500])
            )
            self.info.update({int(cid): (code, birthday) for cid, code, birthday in session.execute(query)})
        # Customers granted a bonus once (even if taken back since, or granted to a customer
        # merged into them since): never granted again.
        merged = ledger.merged_customers(session)
        self.with_bonus = {
            merged.get(cid, cid)
            for cid in session.exec(
                select(PointsEntry.customer_id).where(
                    col(PointsEntry.kind) == EARN,
                    col(PointsEntry.factor).is_(None),
                    col(PointsEntry.order_id).is_not(None),
                )
            ).all()
        }
        self.factors: dict[tuple[str, bool], tuple[Fraction, str]] = {}
        for tier, multiplier in settings.tier_multipliers:
            for birthday_month in (False, True):
                factor = (
                    settings.points_rate
                    * multiplier
                    * (settings.birthday_multiplier if birthday_month else 1)
                )
                self.factors[tier, birthday_month] = (factor, _factor_text(factor))
        self._expiries: dict[date, date] = {}

    def code(self, customer_id: int) -> str:
        return self.info[customer_id][0]

    def factor(self, order: _OrderRow) -> tuple[Fraction, str, str]:
        """(factor, its text, tier) for the order's customer on the order date."""
        birthday = self.info[order.customer_id][1]
        history = self.histories.get(order.customer_id, _NO_HISTORY)
        tier = tier_for(_spend_before(history, order.order_date, self.settings.window_days), self.settings)
        birthday_month = birthday is not None and birthday.month == order.order_date.month
        factor, text = self.factors[tier, birthday_month]
        return factor, text, tier

    def expires(self, order_date: date) -> date:
        expires = self._expiries.get(order_date)
        if expires is None:
            expires = self._expiries[order_date] = add_months(order_date, self.settings.expiry_months)
        return expires

    def grant_bonus(self, order: _OrderRow, poster: _Poster) -> None:
        """The first-order bonus, if this order (which earns) is the customer's first counted one."""
        bonus = self.settings.first_order_bonus
        history = self.histories.get(order.customer_id)
        if not bonus or history is None or order.id != history[2] or order.customer_id in self.with_bonus:
            return
        poster.add(
            natural_key=f"first-order-bonus:{self.code(order.customer_id)}",
            customer_id=order.customer_id,
            kind=EARN,
            points=bonus,
            effective_on=order.order_date,
            order_id=order.id,
            earned_on=order.order_date,
            expires_on=self.expires(order.order_date),
            note=f"first-order bonus, order {order.order_no}",
        )
        self.with_bonus.add(order.customer_id)
        poster.summary.bonuses += 1
        poster.summary.bonus_points += bonus


def _earn_new(earning: _Earning, orders: list[_OrderRow], poster: _Poster) -> None:
    summary = poster.summary
    for order in orders:
        factor, factor_text, tier = earning.factor(order)
        points = _points(order.net, factor, order.order_no)
        if points <= 0:  # e.g. 0.50 at 1 point per unit: nothing earned, so no bonus either
            continue
        poster.add(
            natural_key=f"earn:{order.order_no}",
            customer_id=order.customer_id,
            kind=EARN,
            points=points,
            effective_on=order.order_date,
            order_id=order.id,
            order_net=order.net,
            factor=factor_text,
            earned_on=order.order_date,
            expires_on=earning.expires(order.order_date),
            note=f"order {order.order_no} ({tier})",
        )
        summary.orders_earned += 1
        summary.points_earned += points
        earning.grant_bonus(order, poster)


@dataclass
class _Held:
    """What the ledger holds for one order: its points rows per customer, and bonuses per customer."""

    points: dict[int, int] = field(default_factory=dict)
    rows: int = 0
    factor: str = "0"  # the factor of its latest points row
    earned_for: set[int] = field(default_factory=set)  # customers it has ever credited points to
    bonuses: dict[int, tuple[str, int]] = field(default_factory=dict)  # customer: (code key, net)


def _expired_of(session: Session, order_ids: list[int]) -> dict[tuple[int, int], int]:
    """Points that expired from the lots each order earned, by (order, customer of the lot)."""
    result: dict[tuple[int, int], int] = {}
    lot = PointsEntry.__table__.alias("lot")  # type: ignore[attr-defined]
    closing = PointsEntry.__table__.alias("closing")  # type: ignore[attr-defined]
    for start in range(0, len(order_ids), 500):
        chunk = order_ids[start : start + 500]
        query = (
            sa_select(lot.c.order_id, lot.c.customer_id, func.sum(closing.c.points))
            .join(closing, closing.c.lot_id == lot.c.id)
            .where(lot.c.order_id.in_(chunk), closing.c.kind == EXPIRE)
            .group_by(lot.c.order_id, lot.c.customer_id)
        )
        for order_id, customer_id, points in session.execute(query):
            result[(int(order_id), int(customer_id))] = -int(points or 0)
    return result


def _held(session: Session, order_ids: list[int]) -> dict[int, _Held]:
    """The points rows of the orders, each counted for the customer it now belongs to: the rows of
    a merged-away customer count for the customer it was merged into, who holds its points."""
    result: dict[int, _Held] = {}
    merged = ledger.merged_customers(session)
    for start in range(0, len(order_ids), 500):
        chunk = order_ids[start : start + 500]
        query = (
            sa_select(
                col(PointsEntry.order_id),
                col(PointsEntry.customer_id),
                col(PointsEntry.points),
                col(PointsEntry.factor),
                col(PointsEntry.natural_key),
                col(PointsEntry.kind),
            )
            .where(col(PointsEntry.order_id).in_(chunk))
            .order_by(col(PointsEntry.id))
        )
        for order_id, posted_for, points, factor, key, kind in session.execute(query):
            customer_id = merged.get(posted_for, posted_for)
            held = result.setdefault(int(order_id), _Held())
            if factor is None:  # a first-order bonus, or its taking back
                granted, net = held.bonuses.get(customer_id, ("", 0))
                held.bonuses[customer_id] = (key if kind == EARN else granted, net + points)
                continue
            held.points[customer_id] = held.points.get(customer_id, 0) + points
            held.rows += 1
            held.factor = factor
            if points > 0:
                held.earned_for.add(customer_id)
    return result


@dataclass(frozen=True)
class _CorrectionPoster:
    """Posts the n-th correction row of one order (`order:<order_no>:<n>`), dated as of the award."""

    poster: _Poster
    order: _OrderRow
    settings: Settings
    as_of: date

    def __call__(self, number: int, customer_id: int, points: int, factor_text: str, note: str) -> None:
        order, summary = self.order, self.poster.summary
        self.poster.add(
            natural_key=f"order:{order.order_no}:{number}",
            customer_id=customer_id,
            kind=EARN if points >= 0 else REVERSE,
            points=points,
            effective_on=self.as_of,
            order_id=order.id,
            order_net=order.net,
            factor=factor_text,
            earned_on=order.order_date if points > 0 else None,
            expires_on=add_months(order.order_date, self.settings.expiry_months) if points > 0 else None,
            note=note,
        )
        if points > 0:
            summary.points_topped_up += points
        else:
            summary.points_reversed += -points


def _correct(
    session: Session, settings: Settings, orders: list[_OrderRow], poster: _Poster, *, as_of: date
) -> None:
    """Bring each changed order's points in line with its net amount and its customer.

    Same customer: the target is floor(net × the factor it earned at) while the order counts
    (rules changed since — minimum, programme start — do not matter once it has earned). Moved
    to another customer: the old customer's points are reversed, and the order earns for the new
    customer as a new order would (their tier and birthday, the rules in force).
    """
    summary = poster.summary
    held_by_order = _held(session, [o.id for o in orders])
    expired = _expired_of(session, [o.id for o in orders if o.removed])

    def new_for_customer(order: _OrderRow) -> bool:
        """Moved, or never credited to its customer yet (it came to them earning nothing): it
        earns as a new order would, whatever factor a row of another customer carried."""
        return (
            order.basis_customer != order.customer_id
            or order.customer_id not in held_by_order[order.id].earned_for
        )

    fresh = [o for o in orders if new_for_customer(o)]
    earning = _Earning(session, settings, [o.customer_id for o in fresh]) if fresh else None
    for order in orders:
        held = held_by_order[order.id]
        is_new = new_for_customer(order)
        rows = held.rows
        post = _CorrectionPoster(poster, order, settings, as_of)
        note = f"{order.order_no}: net {(order.basis_net or 0) / 100:.2f} → {order.net / 100:.2f}"

        corrected = False
        for customer_id, points in held.points.items():
            if customer_id != order.customer_id and points:
                rows += 1
                post(rows, customer_id, -points, held.factor, f"{order.order_no} moved to another customer")
                corrected = True
        if not is_new:
            factor_text = held.factor
            target = (
                _points(order.net, Fraction(Decimal(factor_text)), order.order_no) if order.net > 0 else 0
            )
            if order.removed:
                # An order that never happened takes back only what is left of its points: the
                # part that expired is gone already, and taking it again would leave a debt.
                target = expired.get((order.id, order.customer_id), 0)
        elif _earns(order.order_date, order.net, settings):
            assert earning is not None
            factor, factor_text, tier = earning.factor(order)
            target = _points(order.net, factor, order.order_no)
            note = f"{order.order_no} now belongs to this customer ({tier})"
        else:
            factor_text, target = held.factor, 0
            note = f"{order.order_no} now belongs to this customer, and earns nothing"
        difference = target - held.points.get(order.customer_id, 0)
        if difference:
            rows += 1
            post(rows, order.customer_id, difference, factor_text, note)
            corrected = True
        elif order.basis_customer != order.customer_id:
            # Nothing to post for the new customer, but the order's latest points row must say
            # whose it is now, or it would look moved (and be looked at again) for ever.
            rows += 1
            post(rows, order.customer_id, 0, factor_text, note)
        summary.orders_corrected += corrected
        for customer_id, (granted, net) in held.bonuses.items():
            if net > 0 and (customer_id != order.customer_id or order.net <= 0):
                poster.add(
                    natural_key=f"first-order-bonus-reversed:{granted.removeprefix('first-order-bonus:')}",
                    customer_id=customer_id,
                    kind=REVERSE,
                    points=-net,
                    effective_on=as_of,
                    order_id=order.id,
                    note=f"first-order bonus taken back: order {order.order_no} no longer counts for them",
                )
                summary.points_reversed += net
        if earning is not None and target > 0 and is_new:
            earning.grant_bonus(order, poster)


def _expire(session: Session, poster: _Poster, *, as_of: date, last: AwardRun | None) -> None:
    lot = PointsEntry.__table__.alias("lot")  # type: ignore[attr-defined]
    closing = PointsEntry.__table__.alias("closing")  # type: ignore[attr-defined]
    due = sa_select(lot.c.customer_id).where(
        lot.c.points > 0,
        lot.c.expires_on <= as_of,
        ~sa_select(closing.c.id).where(closing.c.lot_id == lot.c.id).exists(),
    )
    if last is not None:
        # The last award closed every lot due by its as-of date that existed when it finished.
        newer = lot.c.id > last.last_ledger_id
        due = due.where(newer if as_of <= last.as_of else or_(newer, lot.c.expires_on > last.as_of))
    due_customers = [int(c) for (c,) in session.execute(due.distinct())]
    summary = poster.summary
    for cid, account in ledger.accounts(session, due_customers).items():
        for lot in account.due_to_expire(as_of):
            assert lot.expires_on is not None
            poster.add(
                natural_key=f"expire:{lot.id}",
                customer_id=cid,
                kind=EXPIRE,
                points=-lot.remaining,
                effective_on=lot.expires_on,
                lot_id=lot.id,
                note=f"lot of {lot.size:,} earned {lot.earned_on} expired"
                + ("" if lot.remaining else " (fully used)"),
            )
            summary.lots_expired += 1 if lot.remaining else 0
            summary.points_expired += lot.remaining


def award(session: Session, settings: Settings, *, as_of: date) -> AwardSummary:
    """Post what the orders and the calendar call for as of `as_of`; nothing that is posted already."""
    summary = AwardSummary(as_of=as_of)
    poster = _Poster(session, settings, summary)
    last = session.exec(select(AwardRun).order_by(col(AwardRun.id).desc()).limit(1)).first()
    import_mark = _import_mark(session)
    corrected = session.exec(select(func.max(Correction.made_at))).one()
    since = _unchanged_since(last, version=poster.version, import_mark=import_mark, corrected=corrected)
    orders = _orders_to_examine(session, settings, as_of, since=since)
    new = [o for o in orders if o.basis_net is None]
    changed = [o for o in orders if o.basis_net is not None]
    if new:
        _earn_new(_Earning(session, settings, [o.customer_id for o in new]), new, poster)
    if changed:
        _correct(session, settings, changed, poster, as_of=as_of)
    poster.flush()  # expiry must see the lots just earned (old orders can be past their date)
    _expire(session, poster, as_of=as_of, last=last)
    poster.flush()
    newest_tier = _newest_tier_change(session)
    if since != as_of or last is None or last.last_tier_change_id != newest_tier:
        # (else the last award recorded the tiers as of this day, from the same orders, and
        # nothing — a report, say — has recorded a tier since)
        current = window_spend(session, Window.trailing(as_of, settings.window_days))
        tiers = {cid: (tier_for(s.revenue, settings), s.revenue) for cid, s in current.items()}
        summary.tier_changes = record_tier_changes(session, tiers, settings=settings, as_of=as_of)
        newest_tier = _newest_tier_change(session)
    newest = session.exec(select(func.max(PointsEntry.id))).one()
    check_totals(session, source="cpm award")
    session.add(
        AwardRun(
            as_of=as_of,
            rules_version=poster.version,
            last_import_id=import_mark,
            last_ledger_id=int(newest or 0),
            last_tier_change_id=newest_tier,
            created_at=poster.now,
        )
    )
    session.flush()
    return summary
