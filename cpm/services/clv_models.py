"""The two lifetime-value models and their maximum-likelihood fits (numpy/scipy, vectorised).

- BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive, a
  customer buys at rate λ ~ Gamma(r, α); after each purchase they drop out with probability
  p ~ Beta(a, b). Fitted to x (repeat purchases), t_x (time of the last purchase after the first)
  and T (time from the first purchase to the end of the calibration period).
- Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves"): the spend of a
  purchase is Gamma(p, ν) with ν ~ Gamma(q, γ) per customer. Fitted to x and the mean spend of
  the repeat purchases, over customers with x ≥ 1 and a positive mean.

Both fits maximise the likelihood over the logarithms of the parameters (so they stay positive)
with L-BFGS-B and analytic gradients from several starting points, falling back to Nelder-Mead
when a run does not converge, and keep the best. Identical customers are fitted once with a
weight, in a canonical order, so the fit does not depend on the order rows were imported in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import betaincinv, betaln, digamma, expit, gammaln, hyp2f1

from cpm.errors import CpmError

Array = NDArray[np.float64]
MIN_REPEAT_CUSTOMERS = 10
LOG_BOUND = 20.0  # parameters stay within e^±20: beyond that the data cannot tell values apart
_A_NEAR_ONE = 1e-6
# Tighter than scipy's defaults, which stop while the flat directions (a, b) can still move ~1%.
LBFGSB_OPTIONS = {"ftol": 1e-14, "gtol": 1e-9, "maxiter": 2_000}
FLAT_GRADIENT = 1e-4  # of the mean log-likelihood per customer, in the log-parameters
_NODES, _NODE_WEIGHTS = np.polynomial.legendre.leggauss(64)
QUANTILES, QUANTILE_WEIGHTS = (_NODES + 1) / 2, _NODE_WEIGHTS / 2  # Gauss-Legendre on (0, 1)


class CannotFit(CpmError):
    """The purchase history cannot support a model fit (too few repeat customers, no optimum)."""


@dataclass(frozen=True)
class BgNbd:
    """A fitted BG/NBD model; times are in the unit the model was fitted in."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    def p_alive(self, x: Array, t_x: Array, T: Array) -> Array:
        """P(alive | x, t_x, T) = 1 / (1 + [x > 0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        repeat = x > 0
        log_odds = np.full(x.shape, -np.inf)
        xr = x[repeat]
        log_odds[repeat] = (
            math.log(a)
            - np.log(b + xr - 1)
            + (r + xr) * np.log1p((T[repeat] - t_x[repeat]) / (alpha + t_x[repeat]))
        )
        return np.asarray(expit(-log_odds), dtype=np.float64)

    def expected_purchases(self, t: float, x: Array, t_x: Array, T: Array) -> Array:
        """E[Y(t) | x, t_x, T]: expected purchases in the next t (FHL 2005, eq. 10), written with
        Euler's transformation so that large x cannot overflow the hypergeometric function:

        P(alive) · (a+b+x−1)/(a−1) · [1 − (1−z)^(a−1) · ₂F₁(a+b−1−r, a−1; a+b+x−1; z)],
        z = t / (α+T+t).
        """
        if abs(self.a - 1) < _A_NEAR_ONE:  # 0/0 at a = 1: the mean of both sides of the limit
            low = self._expected_purchases(1 - _A_NEAR_ONE, t, x, t_x, T)
            high = self._expected_purchases(1 + _A_NEAR_ONE, t, x, t_x, T)
            return (low + high) / 2
        return self._expected_purchases(self.a, t, x, t_x, T)

    def _expected_purchases(self, a: float, t: float, x: Array, t_x: Array, T: Array) -> Array:
        r, alpha, b = self.r, self.alpha, self.b
        z = t / (alpha + T + t)
        with np.errstate(all="ignore"):
            tail = (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
            alive = BgNbd(r, alpha, a, b, self.log_likelihood).p_alive(x, t_x, T)
            expected = np.asarray(alive * (a + b + x - 1) / (a - 1) * (1 - tail), dtype=np.float64)
        lost = ~np.isfinite(expected)  # ₂F₁ fails for parameters in the thousands (a degenerate fit)
        if lost.any():
            expected[lost] = self.expected_purchases_by_quadrature(t, x[lost], t_x[lost], T[lost])
        return expected

    def expected_purchases_by_quadrature(self, t: float, x: Array, t_x: Array, T: Array) -> Array:
        """E[Y(t) | x, t_x, T] without ₂F₁, for any parameters. Given alive at T, λ ~ Gamma(r+x, α+T)
        and p ~ Beta(a, b+x) independently, and a customer alive with (λ, p) makes (1 − e^(−λpt))/p
        purchases in t; the mean over λ is ((α+T)/(α+T+pt))^(r+x) in closed form, the mean over p is
        a Gauss-Legendre sum over p's quantiles (relative error about 1e-5)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        k, n = _counts(x)
        p = betaincinv(a, b + n[:, None], QUANTILES[None, :])[k]
        rx = (r + x)[:, None]
        with np.errstate(all="ignore"):
            per_p = -np.expm1(-rx * np.log1p(p * t / (alpha + T[:, None]))) / p
        per_p = np.where(p > 0, per_p, rx * t / (alpha + T[:, None]))  # the limit as p → 0
        return np.asarray(self.p_alive(x, t_x, T) * (per_p * QUANTILE_WEIGHTS).sum(axis=1), dtype=np.float64)


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma spend model; gamma is in the money unit the spends were given in."""

    p: float
    q: float
    gamma: float
    log_likelihood: float

    @property
    def mean_spend(self) -> float:
        """The population's expected spend per purchase, p·γ/(q−1)."""
        return self.p * self.gamma / (self.q - 1)

    def expected_spend(self, x: Array, mean_spend: Array) -> Array:
        """E[spend | x, z̄] = p(γ + x·z̄)/(p·x + q − 1); p·γ/(q−1) when x = 0."""
        return np.asarray(
            self.p * (self.gamma + x * mean_spend) / (self.p * x + self.q - 1), dtype=np.float64
        )


# --- likelihoods (per distinct customer, with gradients in the log-parameters) -------------------


def bgnbd_log_likelihood(r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, T: Array) -> Array:
    """Each customer's log-likelihood (FHL 2005, eq. 6)."""
    return _bgnbd(np.log([r, alpha, a, b]), x, t_x, T)[0]


def _counts(x: Array) -> tuple[NDArray[np.intp], Array]:
    """Each customer's whole-number x as an index into 0..max(x), and those counts: the terms that
    depend on x alone (gamma functions) are computed once per count, not once per customer."""
    index = x.astype(np.intp)
    return index, np.arange(int(index.max(initial=0)) + 1, dtype=np.float64)


def _bgnbd(log_params: Array, x: Array, t_x: Array, T: Array) -> tuple[Array, Array]:
    r, alpha, a, b = np.exp(log_params)
    k, n = _counts(x)
    b_n1 = np.where(n > 0, b + n - 1, 1.0)
    by_count = gammaln(r + n) - gammaln(r) + betaln(a, b + n) - betaln(a, b)
    log_at_T = np.log(alpha + T)
    log_at_tx = np.log(alpha + t_x)
    rx = r + x
    # Alive at T, or dropped out right after the purchase at t_x (only possible when x > 0).
    alive = -rx * log_at_T
    dropped = np.where(x > 0, (math.log(a) - np.log(b_n1))[k] - rx * log_at_tx, -np.inf)
    ll = by_count[k] + r * math.log(alpha) + alive + np.logaddexp(0.0, dropped - alive)
    w_dropped = expit(dropped - alive)
    w_alive = 1 - w_dropped
    d_ab = (digamma(a + b) - digamma(a + b + n))[k]
    grad = np.stack(
        [
            r
            * (
                (digamma(r + n) - digamma(r))[k]
                + math.log(alpha)
                - w_alive * log_at_T
                - w_dropped * log_at_tx
            ),
            r - alpha * rx * (w_alive / (alpha + T) + w_dropped / (alpha + t_x)),
            a * d_ab + w_dropped,
            b * (d_ab + (digamma(b + n) - digamma(b))[k] - w_dropped / b_n1[k]),
        ]
    )
    return ll, grad


def gamma_gamma_log_likelihood(p: float, q: float, gamma: float, x: Array, mean_spend: Array) -> Array:
    """Each customer's log-density of their mean spend z̄ over x purchases (FHL 2005b, eq. 3)."""
    return _gamma_gamma(np.log([p, q, gamma]), x, mean_spend)[0]


def _gamma_gamma(log_params: Array, x: Array, z: Array) -> tuple[Array, Array]:
    p, q, gamma = np.exp(log_params)
    k, n = _counts(x)
    pn = p * np.maximum(n, 1)  # x ≥ 1 here; the count 0 is never looked up
    px = p * x
    log_z, log_x = np.log(z), np.log(x)
    log_gxz = np.log(gamma + x * z)
    ll = (
        (gammaln(pn + q) - gammaln(pn))[k]
        - gammaln(q)
        + q * math.log(gamma)
        + (px - 1) * log_z
        + px * log_x
        - (px + q) * log_gxz
    )
    psi_all = digamma(pn + q)
    grad = np.stack(
        [
            px * ((psi_all - digamma(pn))[k] + log_z + log_x - log_gxz),
            q * (psi_all[k] - digamma(q) + math.log(gamma) - log_gxz),
            q - gamma * (px + q) / (gamma + x * z),
        ]
    )
    return ll, grad


# --- fitting ---------------------------------------------------------------------------------------


def fit_bgnbd(x: Array, t_x: Array, T: Array) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for customers with x repeat purchases, the last at t_x,
    observed for T since their first. Raises CannotFit with fewer than 10 repeat customers."""
    repeaters = int(np.count_nonzero(x > 0))
    if repeaters < MIN_REPEAT_CUSTOMERS:
        raise CannotFit(
            f"the purchase model needs at least {MIN_REPEAT_CUSTOMERS} customers who came back "
            f"(bought on two or more days); found {repeaters}",
            hint="Import more order history, or use a later --until.",
        )
    columns, weights = _distinct(x, t_x, T)
    ux, utx, uT = columns
    rate_scale = float(np.average(uT, weights=weights)) / max(float(np.average(ux, weights=weights)), 0.1)
    starts = [
        (1.0, rate_scale, 1.0, 1.0),
        (0.3, 0.3 * rate_scale, 0.8, 2.5),
        (3.0, 3.0 * rate_scale, 2.0, 6.0),
    ]
    log_params, ll = _maximise(lambda v: _bgnbd(v, ux, utx, uT), weights, starts, "purchase")
    r, alpha, a, b = (float(v) for v in np.exp(log_params))
    return BgNbd(r, alpha, a, b, ll)


def fit_gamma_gamma(x: Array, mean_spend: Array) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters from customers with x ≥ 1 repeat purchases of
    positive mean spend (the caller leaves the others out). Needs q > 1 for a finite mean."""
    if len(x) < MIN_REPEAT_CUSTOMERS:
        raise CannotFit(
            f"the spend model needs at least {MIN_REPEAT_CUSTOMERS} customers with repeat purchases "
            f"of positive value; found {len(x)}",
            hint="Import more order history, or use a later --until.",
        )
    columns, weights = _distinct(x, mean_spend)
    ux, uz = columns
    mean = float(np.average(uz, weights=weights))
    starts = [(1.0, 2.0, mean), (5.0, 3.0, 2.0 * mean / 5.0), (0.5, 5.0, 8.0 * mean)]
    log_params, ll = _maximise(lambda v: _gamma_gamma(v, ux, uz), weights, starts, "spend")
    p, q, gamma = (float(v) for v in np.exp(log_params))
    if q <= 1:
        raise CannotFit(
            f"the spend model has no finite average spend (q = {q:.3g} ≤ 1): spend per customer "
            "varies too much for the number of repeat customers",
            hint="Use a later --until so more repeat purchases are seen.",
        )
    return GammaGamma(p, q, gamma, ll)


def _distinct(*columns: Array) -> tuple[list[Array], Array]:
    """The distinct rows, sorted, with how many customers each stands for."""
    rows, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return [np.ascontiguousarray(rows[:, i]) for i in range(rows.shape[1])], counts.astype(np.float64)


def _maximise(
    log_likelihood: Callable[[Array], tuple[Array, Array]],
    weights: Array,
    starts: Sequence[tuple[float, ...]],
    what: str,
) -> tuple[Array, float]:
    total = float(weights.sum())
    share = weights / total

    # Weighted sums by multiply-and-add rather than BLAS dot products: on a busy machine BLAS worker
    # threads spin between calls and slow a fit of 25,000 customers down tenfold.
    def objective(log_params: Array) -> tuple[float, Array]:
        ll, grad = log_likelihood(log_params)
        value = -float((share * ll).sum())
        if not math.isfinite(value):
            return math.inf, np.zeros_like(log_params)
        return value, -(grad * share).sum(axis=1)

    def value_only(log_params: Array) -> float:
        return objective(log_params)[0] if np.all(np.abs(log_params) <= LOG_BOUND) else math.inf

    best: tuple[Array, float] | None = None
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(starts[0])
    for start in starts:
        begin = np.log(np.asarray(start, dtype=np.float64))
        result: Any = minimize(
            objective, begin, jac=True, method="L-BFGS-B", bounds=bounds, options=LBFGSB_OPTIONS
        )
        finite = math.isfinite(result.fun)
        # A line search that gives up where the gradient is flat (parameters running off along a
        # ridge, as when spend does not vary between customers) has converged for our purpose.
        if not (finite and (result.success or np.max(np.abs(result.jac)) < FLAT_GRADIENT)):
            result = minimize(
                value_only,
                result.x if finite else begin,
                method="Nelder-Mead",
                options={"xatol": 1e-7, "fatol": 1e-12, "maxfev": 4_000},
            )
        if math.isfinite(result.fun) and (best is None or result.fun < best[1]):
            best = (np.asarray(result.x, dtype=np.float64), float(result.fun))
    if best is None:
        raise CannotFit(
            f"the {what} model could not be fitted: no starting point led to a finite likelihood",
            hint="Check the order history for unusual dates or amounts.",
        )
    return best[0], -best[1] * total
