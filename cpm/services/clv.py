"""Predictive CLV: each customer's purchase summary from SQL, the BG/NBD and Gamma-Gamma fits, and
per customer the probability of being alive, expected purchases, expected spend and discounted CLV.

The summary follows the models' conventions. A customer's counted orders (net amount > 0) on one
day are one purchase worth their sum. Over the calibration period, every purchase dated on or
before `until`: x = purchase days − 1 (repeat purchases), t_x = last − first purchase day,
T = until − first purchase day, all in the chosen unit (a day, a week, or a month of 365.25/12
days); the spend of a repeat customer is the mean of their repeat purchases (the first excluded).

CLV over a horizon of H units with a monthly discount rate d, in the money of the database:

    CLV = E[spend] · Σ_{m=1..M} (E[Y(t_m)] − E[Y(t_{m−1})]) / (1 + d)^(t_m in months),

where M = ⌈H in months⌉, t_m = min(m months, H), t_0 = 0, E[Y(t)] is the BG/NBD expected number
of purchases in the next t given the customer's (x, t_x, T), and E[spend] the Gamma-Gamma
expected spend per purchase given their x and mean spend. That is, the purchases expected in each
month of the horizon (the last one possibly partial) are valued at the customer's expected spend
and discounted from the end of that month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

from cpm.models import Order
from cpm.services import bulk
from cpm.services.clv_models import Array, BgNbd, GammaGamma, fit_bgnbd, fit_gamma_gamma
from cpm.services.customers import CustomerInfo, all_customers
from cpm.services.kpis import COUNTED

MONTH_DAYS = 365.25 / 12
UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": MONTH_DAYS}
DEFAULT_HORIZON = {"day": 365, "week": 52, "month": 12}  # about a year
MONEY_UNIT = 100.0  # the spend model is fitted in currency units, so gamma reads like the paper's


@dataclass(frozen=True)
class PurchaseHistory:
    """Every customer with a counted purchase through `until`, by customer id."""

    until: date
    customer_ids: list[int]
    first: list[date]
    last: list[date]
    x: Array  # repeat purchase days
    t_x_days: Array
    T_days: Array
    repeat_spend: Array  # cents: the sum of the repeat purchase days (the first day excluded)

    def __len__(self) -> int:
        return len(self.customer_ids)

    def in_unit(self, unit: str) -> tuple[Array, Array, Array]:
        """x, t_x and T with times in `unit`."""
        days = UNIT_DAYS[unit]
        return self.x, self.t_x_days / days, self.T_days / days

    @property
    def mean_repeat_spend(self) -> Array:
        """Cents per repeat purchase; 0 for customers without one."""
        return np.divide(self.repeat_spend, self.x, out=np.zeros_like(self.repeat_spend), where=self.x > 0)


def purchase_history(session: Session, *, until: date) -> PurchaseHistory:
    """One streamed pass over each customer's purchase days (orders of a day summed) up to `until`."""
    query = (
        select(col(Order.customer_id), col(Order.order_date), func.sum(Order.net_amount))
        .where(COUNTED, col(Order.order_date) <= until)
        .group_by(col(Order.customer_id), col(Order.order_date))
        .order_by(col(Order.customer_id), col(Order.order_date))
    )
    ids: list[int] = []
    firsts: list[date] = []
    lasts: list[date] = []
    days: list[int] = []
    repeat: list[int] = []
    current: int | None = None
    parsed = bulk.Days()
    for customer_id, raw_day, spend in bulk.driver_rows(session, query):
        day = parsed[raw_day]
        if customer_id != current:
            current = int(customer_id)
            ids.append(current)
            firsts.append(day)
            lasts.append(day)
            days.append(0)
            repeat.append(0)
        else:
            lasts[-1] = day
            days[-1] += 1
            repeat[-1] += int(spend)
    return PurchaseHistory(
        until=until,
        customer_ids=ids,
        first=firsts,
        last=lasts,
        x=np.asarray(days, dtype=np.float64),
        t_x_days=np.asarray([(b - a).days for a, b in zip(firsts, lasts, strict=True)], dtype=np.float64),
        T_days=np.asarray([(until - a).days for a in firsts], dtype=np.float64),
        repeat_spend=np.asarray(repeat, dtype=np.float64),
    )


def alive_probabilities(session: Session, *, until: date) -> dict[int, float]:
    """P(alive) of every customer with a purchase through `until`, by customer id.

    Raises clv_models.CannotFit when the history cannot support the purchase model."""
    history = purchase_history(session, until=until)
    x, t_x, T = history.in_unit("week")
    alive = fit_bgnbd(x, t_x, T).p_alive(x, t_x, T)
    return {cid: float(p) for cid, p in zip(history.customer_ids, alive, strict=True)}


def discounted_clv(
    purchases: BgNbd,
    spend_per_purchase: Array,
    x: Array,
    t_x: Array,
    T: Array,
    *,
    horizon: float,
    unit_days: float,
    monthly_discount: float,
) -> Array:
    """CLV over `horizon` units with monthly discounting (the formula in the module docstring)."""
    months_per_unit = unit_days / MONTH_DAYS
    months = max(1, math.ceil(horizon * months_per_unit - 1e-9))
    value = np.zeros_like(x)
    before = np.zeros_like(x)
    for m in range(1, months + 1):
        t = min(m / months_per_unit, horizon)
        expected = purchases.expected_purchases(t, x, t_x, T)
        # exp(-months × log(1 + d)) is (1 + d)^-months, and tends to 0 instead of overflowing.
        value += (expected - before) * math.exp(-t * months_per_unit * math.log1p(monthly_discount))
        before = expected
    return np.asarray(value * spend_per_purchase, dtype=np.float64)


@dataclass(frozen=True)
class ClvOptions:
    until: date  # the last day of the calibration period (inclusive)
    unit: str = "week"
    horizon: int | None = None  # in units; None = about a year
    monthly_discount: float = 0.01

    @property
    def horizon_units(self) -> int:
        return self.horizon if self.horizon is not None else DEFAULT_HORIZON[self.unit]


@dataclass(frozen=True)
class CustomerClv:
    info: CustomerInfo
    first_purchase: date
    last_purchase: date
    x: int
    t_x: float  # in the report's unit
    T: float
    mean_repeat_spend: float | None  # cents; None without a repeat purchase
    p_alive: float
    expected_purchases: float  # over the horizon
    expected_spend: float  # cents per purchase
    clv: float  # cents, discounted


@dataclass(frozen=True)
class ClvReport:
    options: ClvOptions
    purchases: BgNbd
    spend: GammaGamma  # gamma in currency units (cents / 100)
    customers_fitted: int
    spend_fitted: int  # repeat customers in the spend fit
    spend_left_out: int  # repeat customers with zero or negative repeat spend
    customers: list[CustomerClv]  # highest CLV first, ties by code


def clv_report(session: Session, options: ClvOptions) -> ClvReport:
    """Fit both models to the purchases through `options.until` and value every customer."""
    if options.unit not in UNIT_DAYS:
        raise ValueError(f"unknown unit {options.unit!r}")
    history = purchase_history(session, until=options.until)
    x, t_x, T = history.in_unit(options.unit)
    purchases = fit_bgnbd(x, t_x, T)
    mean_cents = history.mean_repeat_spend
    mean_spend = mean_cents / MONEY_UNIT
    repeaters = x > 0
    in_spend_fit = repeaters & (mean_spend > 0)
    spend = fit_gamma_gamma(x[in_spend_fit], mean_spend[in_spend_fit])
    # Customers left out of the spend fit are valued at the population's mean spend, like x = 0.
    per_purchase = spend.expected_spend(
        np.where(in_spend_fit, x, 0.0), np.where(in_spend_fit, mean_spend, 0.0)
    )
    horizon = options.horizon_units
    alive = purchases.p_alive(x, t_x, T)
    expected = purchases.expected_purchases(float(horizon), x, t_x, T)
    value = discounted_clv(
        purchases,
        per_purchase,
        x,
        t_x,
        T,
        horizon=horizon,
        unit_days=UNIT_DAYS[options.unit],
        monthly_discount=options.monthly_discount,
    )
    infos = all_customers(session)
    rows = [
        CustomerClv(
            info=infos[cid],
            first_purchase=first,
            last_purchase=last,
            x=int(repeat),
            t_x=recency,
            T=age,
            mean_repeat_spend=mean if repeat else None,
            p_alive=p,
            expected_purchases=purchases_ahead,
            expected_spend=spend_ahead,
            clv=worth,
        )
        for cid, first, last, repeat, recency, age, mean, p, purchases_ahead, spend_ahead, worth in zip(
            history.customer_ids,
            history.first,
            history.last,
            x.tolist(),
            t_x.tolist(),
            T.tolist(),
            mean_cents.tolist(),
            alive.tolist(),
            expected.tolist(),
            (per_purchase * MONEY_UNIT).tolist(),
            (value * MONEY_UNIT).tolist(),
            strict=True,
        )
    ]
    rows.sort(key=lambda row: (-row.clv, row.info.code))
    return ClvReport(
        options=options,
        purchases=purchases,
        spend=spend,
        customers_fitted=len(history),
        spend_fitted=int(np.count_nonzero(in_spend_fit)),
        spend_left_out=int(np.count_nonzero(repeaters & ~in_spend_fit)),
        customers=rows,
    )
