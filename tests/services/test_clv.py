"""Predictive CLV: the BG/NBD and Gamma-Gamma fits recover known parameters from simulated
customers; P(alive), expected purchases and expected spend agree with values worked out
independently (numerical integration over the models' mixing distributions, and the published
worked example); the purchase summary follows the models' conventions; and the fit does not depend
on the order rows were imported in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import integrate
from scipy.special import betaln, gammaln
from sqlmodel import Session

from cpm import db as database
from cpm.db import Database
from cpm.models import Customer, Order
from cpm.services import clv
from cpm.services.clv_models import (
    BgNbd,
    CannotFit,
    GammaGamma,
    bgnbd_log_likelihood,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
)

Array = NDArray[np.float64]

# CDNOW-like truths, times in weeks, money in currency units.
R, ALPHA, A, B = 0.25, 4.0, 0.8, 2.5
P, Q, GAMMA = 6.0, 4.0, 15.0


# --- a simulator of the two models ---------------------------------------------------------------


def simulate_purchases(
    rng: np.random.Generator, T: Array, *, r: float, alpha: float, a: float, b: float
) -> tuple[Array, Array]:
    """(x, t_x) of customers observed for T after their first purchase: while alive a customer buys
    at rate λ ~ Gamma(r, α); after each repeat purchase they drop out with probability p ~ Beta(a, b)."""
    n = len(T)
    rate = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    x, t_x, now = np.zeros(n), np.zeros(n), np.zeros(n)
    buying = np.ones(n, dtype=bool)
    while buying.any():
        who = np.flatnonzero(buying)
        now[who] += rng.exponential(1 / rate[who])
        late = now[who] > T[who]
        buying[who[late]] = False
        bought = who[~late]
        x[bought] += 1
        t_x[bought] = now[bought]
        buying[bought[rng.random(len(bought)) < drop[bought]]] = False
    return x, t_x


def simulate_spends(rng: np.random.Generator, count: int, *, p: float, q: float, gamma: float) -> list[Array]:
    """Each customer's purchase values: Gamma(p, ν) with ν ~ Gamma(q, γ) per customer (rates)."""
    nu = rng.gamma(q, 1 / gamma, count)
    return [rng.gamma(p, 1 / v, size=k) for v, k in zip(nu, rng.integers(1, 8, count), strict=True)]


def standard_errors(log_likelihood: Callable[[Array], float], at: Array, step: float = 1e-3) -> Array:
    """Standard errors of the log-parameters from the observed information (central differences)."""
    k = len(at)
    hessian = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * step, np.eye(k)[j] * step
            hessian[i, j] = (
                log_likelihood(at + ei + ej)
                - log_likelihood(at + ei - ej)
                - log_likelihood(at - ei + ej)
                + log_likelihood(at - ei - ej)
            ) / (4 * step * step)
    return np.sqrt(np.diag(np.linalg.inv(-hessian)))


# --- parameter recovery --------------------------------------------------------------------------


def test_bgnbd_fit_recovers_known_parameters_from_25000_customers_in_seconds() -> None:
    rng = np.random.default_rng(20050301)
    T = 39 - rng.uniform(0, 12, 25_000)  # first purchases spread over 12 weeks, as in CDNOW
    x, t_x = simulate_purchases(rng, T, r=R, alpha=ALPHA, a=A, b=B)
    started = time.perf_counter()
    fitted = fit_bgnbd(x, t_x, T)
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"fitting 25,000 customers took {elapsed:.1f} s"

    def total(log_params: Array) -> float:
        return float(bgnbd_log_likelihood(*np.exp(log_params), x, t_x, T).sum())

    estimate = np.log([fitted.r, fitted.alpha, fitted.a, fitted.b])
    errors = standard_errors(total, estimate)
    truth = np.log([R, ALPHA, A, B])
    assert np.all(errors < 0.15)  # the sample is large enough to say something
    assert np.all(np.abs(estimate - truth) < 4 * errors), (np.exp(estimate), errors)
    assert fitted.log_likelihood == pytest.approx(total(estimate), rel=1e-12)
    assert fitted.log_likelihood >= total(truth)  # the fit is at least as likely as the truth


def test_gamma_gamma_fit_recovers_known_parameters() -> None:
    rng = np.random.default_rng(20050302)
    spends = simulate_spends(rng, 5_000, p=P, q=Q, gamma=GAMMA)
    x = np.array([len(s) for s in spends], dtype=float)
    mean = np.array([s.mean() for s in spends])
    fitted = fit_gamma_gamma(x, mean)

    def total(log_params: Array) -> float:
        return float(gamma_gamma_log_likelihood(*np.exp(log_params), x, mean).sum())

    estimate = np.log([fitted.p, fitted.q, fitted.gamma])
    errors = standard_errors(total, estimate)
    truth = np.log([P, Q, GAMMA])
    assert np.all(errors < 0.15)
    assert np.all(np.abs(estimate - truth) < 4 * errors), (np.exp(estimate), errors)


def test_the_fit_does_not_depend_on_where_the_optimiser_starts() -> None:
    rng = np.random.default_rng(7)
    T = 52 - rng.uniform(0, 26, 3_000)
    x, t_x = simulate_purchases(rng, T, r=2.0, alpha=10.0, a=3.0, b=9.0)
    fitted = fit_bgnbd(x, t_x, T)
    # The same customers in days: r, a, b unchanged, alpha 7 times larger, P(alive) the same.
    in_days = fit_bgnbd(x, t_x * 7, T * 7)
    assert in_days.r == pytest.approx(fitted.r, rel=1e-3)
    assert in_days.alpha == pytest.approx(7 * fitted.alpha, rel=1e-3)
    assert in_days.a == pytest.approx(fitted.a, rel=1e-3)
    assert in_days.b == pytest.approx(fitted.b, rel=1e-3)


def test_spend_that_does_not_vary_between_customers_values_everyone_at_the_average() -> None:
    # Without heterogeneity the likelihood rises forever along q, γ → ∞ with γ/q fixed: the fit
    # must stop there quickly and predict the average spend for every customer.
    rng = np.random.default_rng(11)
    x = rng.integers(1, 6, 400).astype(float)
    mean = np.array([rng.gamma(4.0, 5.0, int(k)).mean() for k in x])
    started = time.perf_counter()
    fitted = fit_gamma_gamma(x, mean)
    assert time.perf_counter() - started < 2
    assert fitted.q > 1_000
    average = float(mean @ x / x.sum())  # the mean spend per purchase
    predicted = fitted.expected_spend(x, mean)
    assert np.allclose(predicted, average, rtol=0.02)


def test_too_few_repeat_customers_cannot_be_fitted() -> None:
    x = np.array([0.0] * 50 + [1.0] * 9)
    with pytest.raises(CannotFit, match="at least 10 customers who came back"):
        fit_bgnbd(x, x * 3, np.full(59, 20.0))
    with pytest.raises(CannotFit, match="at least 10 customers"):
        fit_gamma_gamma(np.ones(9), np.full(9, 12.0))


# --- closed forms against independent values ------------------------------------------------------


def _mixture(r: float, alpha: float, a: float, b: float, h: Callable[[float, float], float]) -> float:
    """E[h(λ, p)] for λ ~ Gamma(r, α), p ~ Beta(a, b), by numerical integration. The substitutions
    λ = s^(1/r)/α and p = v^(1/a) remove the densities' singularities at 0."""

    def integrand(s: float, v: float) -> float:
        lam, p = s ** (1 / r) / alpha, v ** (1 / a)
        return math.exp(-(s ** (1 / r))) * (1 - p) ** (b - 1) * h(lam, p)

    value, _ = integrate.dblquad(integrand, 0, 1, 0, 60**r, epsabs=0, epsrel=1e-11)
    return value / math.exp(gammaln(r + 1) + math.log(a) + betaln(a, b))


CASES = [  # (r, alpha, a, b, x, t_x, T, t)
    (0.243, 4.414, 0.793, 2.426, 0, 0.0, 38.86, 39.0),
    (0.243, 4.414, 0.793, 2.426, 2, 30.43, 38.86, 39.0),
    (0.243, 4.414, 0.793, 2.426, 7, 12.0, 35.0, 52.0),
    (1.5, 12.0, 2.5, 4.0, 4, 33.0, 40.0, 10.0),
    (0.6, 30.0, 1.3, 0.7, 1, 5.0, 200.0, 365.0),
]


@pytest.mark.parametrize(("r", "alpha", "a", "b", "x", "t_x", "T", "t"), CASES)
def test_likelihood_p_alive_and_expected_purchases_match_numerical_integration(
    r: float, alpha: float, a: float, b: float, x: int, t_x: float, T: float, t: float
) -> None:
    def alive_at_T(lam: float, p: float) -> float:
        return (1 - p) ** x * lam**x * math.exp(-lam * T)

    def dropped_after_t_x(lam: float, p: float) -> float:
        return p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * t_x) if x else 0.0

    def purchases_if_alive(lam: float, p: float) -> float:  # E[X(t) | λ, p] = (1 − e^(−λpt)) / p
        return alive_at_T(lam, p) * -math.expm1(-lam * p * t) / p

    likelihood = _mixture(r, alpha, a, b, alive_at_T) + _mixture(r, alpha, a, b, dropped_after_t_x)
    alive = _mixture(r, alpha, a, b, alive_at_T) / likelihood
    expected = _mixture(r, alpha, a, b, purchases_if_alive) / likelihood

    model = BgNbd(r, alpha, a, b, log_likelihood=0.0)
    one = (np.array([float(x)]), np.array([t_x]), np.array([T]))
    assert bgnbd_log_likelihood(r, alpha, a, b, *one)[0] == pytest.approx(math.log(likelihood), abs=1e-7)
    assert model.p_alive(*one)[0] == pytest.approx(alive, rel=1e-7)
    assert model.expected_purchases(t, *one)[0] == pytest.approx(expected, rel=1e-7)


def test_expected_purchases_match_the_published_cdnow_example() -> None:
    # Fader, Hardie & Lee, "Implementing the BG/NBD model in Excel": with the CDNOW parameters a
    # customer with x = 2, t_x = 30.43, T = 38.86 (weeks) is expected to buy 1.226 times in 39 weeks.
    model = BgNbd(0.243, 4.414, 0.793, 2.426, log_likelihood=0.0)
    one = (np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert model.expected_purchases(39.0, *one)[0] == pytest.approx(1.226, abs=5e-4)


def test_a_fit_that_finds_no_heterogeneity_still_predicts_like_the_homogeneous_model() -> None:
    # Parameters in the millions (what a fit returns when every customer buys at the same rate
    # and drops out with the same probability) defeat ₂F₁; the values must be those of a
    # population where λ = r/α and p = a/(a+b) for everyone.
    model = BgNbd(4e6, 2e7, 3e4, 2.6e5, log_likelihood=0.0)
    rate, drop = 4e6 / 2e7, 3e4 / (3e4 + 2.6e5)
    x, t_x, T = np.array([0.0, 3.0, 8.0]), np.array([0.0, 20.0, 44.0]), np.array([30.0, 40.0, 45.0])
    alive = 1 / (1 + (x > 0) * drop / (1 - drop) * np.exp(rate * (T - t_x)))
    expected = alive * -np.expm1(-rate * drop * 52) / drop
    assert model.p_alive(x, t_x, T) == pytest.approx(alive, rel=1e-4)
    assert model.expected_purchases(52.0, x, t_x, T) == pytest.approx(expected, rel=1e-3)


def test_the_quadrature_fallback_agrees_with_the_closed_form() -> None:
    model = BgNbd(0.243, 4.414, 0.793, 2.426, log_likelihood=0.0)
    x, t_x, T = np.array([0.0, 2.0, 7.0, 30.0]), np.array([0.0, 30.43, 12.0, 36.0]), np.full(4, 38.86)
    closed = model.expected_purchases(39.0, x, t_x, T)
    assert model.expected_purchases_by_quadrature(39.0, x, t_x, T) == pytest.approx(closed, rel=1e-4)


def test_expected_purchases_are_continuous_at_a_equal_one() -> None:
    one = (np.array([3.0]), np.array([20.0]), np.array([30.0]))
    at_one = BgNbd(0.5, 5.0, 1.0, 3.0, 0.0).expected_purchases(26.0, *one)[0]
    near = BgNbd(0.5, 5.0, 1.0 + 1e-4, 3.0, 0.0).expected_purchases(26.0, *one)[0]
    assert math.isfinite(at_one) and at_one == pytest.approx(near, rel=1e-4)


def test_expected_spend_matches_numerical_integration_over_the_customer_rate() -> None:
    p, q, gamma, x, mean = 6.25, 3.74, 15.44, 3, 22.35
    # Posterior of ν ∝ ν^(px) e^(−ν x z̄) · ν^(q−1) e^(−γν); the expected spend is E[p/ν].
    shape, rate = p * x + q, gamma + x * mean

    def posterior(v: float) -> float:
        return v ** (shape - 1) * math.exp(-rate * v)

    upper = 40 * shape / rate  # far beyond the posterior's mass
    weight = integrate.quad(posterior, 0, upper, epsabs=0, epsrel=1e-12)[0]
    spend = integrate.quad(lambda v: p / v * posterior(v), 0, upper, epsabs=0, epsrel=1e-12)[0]
    model = GammaGamma(p, q, gamma, 0.0)
    assert model.expected_spend(np.array([3.0]), np.array([mean]))[0] == pytest.approx(
        spend / weight, rel=1e-9
    )
    assert model.expected_spend(np.array([0.0]), np.array([0.0]))[0] == pytest.approx(p * gamma / (q - 1))


def test_clv_without_discount_is_expected_purchases_times_spend_and_discounting_lowers_it() -> None:
    model = BgNbd(0.243, 4.414, 0.793, 2.426, 0.0)
    x, t_x, T = np.array([0.0, 2.0, 9.0]), np.array([0.0, 30.43, 35.0]), np.array([38.86, 38.86, 36.0])
    spend = np.array([30.0, 25.0, 80.0])
    week = 7.0
    flat = clv.discounted_clv(model, spend, x, t_x, T, horizon=52, unit_days=week, monthly_discount=0.0)
    assert flat == pytest.approx(model.expected_purchases(52.0, x, t_x, T) * spend, rel=1e-12)
    discounted = clv.discounted_clv(
        model, spend, x, t_x, T, horizon=52, unit_days=week, monthly_discount=0.01
    )
    # Every month's purchases lose at most 12 months of 1% and at least none.
    assert np.all(discounted < flat) and np.all(discounted > flat / 1.01**12)
    # In months, the months are the steps: the sum written out by hand for a 3-month horizon.
    in_months = BgNbd(0.243, 4.414 * week / clv.MONTH_DAYS, 0.793, 2.426, 0.0)
    scaled = (x, t_x * week / clv.MONTH_DAYS, T * week / clv.MONTH_DAYS)
    e1, e2, e3 = (in_months.expected_purchases(float(m), *scaled) for m in (1, 2, 3))
    by_hand = spend * (e1 / 1.02 + (e2 - e1) / 1.02**2 + (e3 - e2) / 1.02**3)
    value = clv.discounted_clv(
        in_months, spend, *scaled, horizon=3, unit_days=clv.MONTH_DAYS, monthly_discount=0.02
    )
    assert value == pytest.approx(by_hand, rel=1e-12)


# --- the summary, from the database --------------------------------------------------------------


def _order(
    session: Session, customer: Customer, number: str, day: str, cents: int, *, refunded: int = 0
) -> None:
    assert customer.id is not None
    status = "completed" if refunded < cents else "refunded"
    session.add(
        Order(
            order_no=number,
            customer_id=customer.id,
            order_date=date.fromisoformat(day),
            amount=cents,
            refunded_amount=refunded,
            net_amount=cents - refunded,
            status=status,
        )
    )


def test_purchase_summary_merges_same_day_orders_and_leaves_the_first_purchase_out_of_spend(
    session: Session,
) -> None:
    one, two, three = Customer(customer_code="C1"), Customer(customer_code="C2"), Customer(customer_code="C3")
    session.add_all([one, two, three])
    session.flush()
    _order(session, one, "A", "2025-01-01", 10_000)  # the first purchase: not in the spend
    _order(session, one, "B", "2025-01-08", 2_000)
    _order(session, one, "C", "2025-01-08", 1_000)  # same day as B: one purchase of 30.00
    _order(session, one, "D", "2025-01-15", 5_000, refunded=5_000)  # fully refunded: not a purchase
    _order(session, one, "E", "2025-01-29", 5_000, refunded=1_000)  # counts 40.00
    _order(session, one, "F", "2025-02-01", 9_000)  # after until
    _order(session, two, "G", "2025-01-31", 4_000)  # on the last day: seen
    _order(session, three, "H", "2025-02-01", 4_000)  # after until: not a customer yet
    session.flush()

    history = clv.purchase_history(session, until=date(2025, 1, 31))
    assert history.customer_ids == [one.id, two.id]
    assert list(history.x) == [2, 0]
    assert list(history.t_x_days) == [28, 0]
    assert list(history.T_days) == [30, 0]
    assert list(history.mean_repeat_spend) == [3_500, 0]  # (30.00 + 40.00) / 2, in cents
    x, t_x, T = history.in_unit("week")
    assert (t_x[0], T[0]) == (4.0, 30 / 7)


def _import_orders(tmp_path: Path, name: str, rows: list[list[str]]) -> Database:
    from typer.testing import CliRunner

    from cpm.cli.main import app
    from tests.conftest import write_csv

    target = Database.from_option(str(tmp_path / f"{name}.db"))
    database.create_database_file(target)
    database.upgrade(target)
    path = write_csv(tmp_path / f"{name}.csv", [["order_no", "customer_code", "order_date", "amount"], *rows])
    result = CliRunner().invoke(app, ["--db", str(target.path), "import", "orders", str(path)])
    assert result.exit_code == 0, result.output
    return target


def test_the_fit_is_the_same_whatever_order_the_rows_were_imported_in(tmp_path: Path) -> None:
    rng = np.random.default_rng(42)
    start = date(2024, 1, 1)
    T = 365 - rng.integers(0, 120, 300).astype(float)
    x, t_x = simulate_purchases(rng, T / 7, r=1.0, alpha=8.0, a=1.5, b=4.0)
    rows: list[list[str]] = []
    for i, (repeat, last, age) in enumerate(zip(x, t_x * 7, T, strict=True)):
        first = start + timedelta(days=365 - int(age))
        days = [first] + sorted(first + timedelta(days=int(d)) for d in rng.uniform(0, last, int(repeat)))
        days[-1] = first + timedelta(days=int(last)) if repeat else first
        for k, day in enumerate(days):
            for line in range(1 + int(rng.random() < 0.2)):  # some days have two orders
                rows.append([f"O{i}-{k}-{line}", f"C{i:03d}", day.isoformat(), f"{rng.gamma(6, 5):.2f}"])
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    reports = []
    for name, ordered in (("sorted", rows), ("shuffled", shuffled), ("reversed", rows[::-1])):
        target = _import_orders(tmp_path, name, ordered)
        with database.session_scope(target) as session:
            reports.append(clv.clv_report(session, clv.ClvOptions(until=date(2024, 12, 31), unit="week")))
    first_report = reports[0]
    assert first_report.customers_fitted == 300
    for other in reports[1:]:
        assert other.purchases == first_report.purchases
        assert other.spend == first_report.spend
        assert [(c.info.code, c.p_alive, c.clv) for c in other.customers] == [
            (c.info.code, c.p_alive, c.clv) for c in first_report.customers
        ]
