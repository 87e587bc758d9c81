"""`cpm report clv` as JSON, CSV rows and a Rich table; P(alive) for the at-risk report and the card."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from rich.table import Table

from cpm.cli import render
from cpm.cli.report_data import money
from cpm.cli.report_render import show_money
from cpm.config import Settings

if TYPE_CHECKING:  # the CLI loads the models (numpy, scipy) only when a command fits them
    from cpm.services.clv import ClvReport, CustomerClv


def number(value: float) -> float:
    """Probabilities, expected counts and times: rounded to four decimals."""
    return round(value, 4)


def parameter(value: float) -> float:
    """Model parameters: six significant digits (alpha scales with the unit, gamma with money)."""
    return float(f"{value:.6g}")


def _cents(value: float | None) -> str | None:
    return None if value is None else money(Fraction(value))


def model_data(report: ClvReport) -> dict[str, Any]:
    purchases, spend = report.purchases, report.spend
    return {
        "bgnbd": {
            "r": parameter(purchases.r),
            "alpha": parameter(purchases.alpha),
            "a": parameter(purchases.a),
            "b": parameter(purchases.b),
            "log_likelihood": number(purchases.log_likelihood),
        },
        "gamma_gamma": {
            "p": parameter(spend.p),
            "q": parameter(spend.q),
            "gamma": parameter(spend.gamma),
            "log_likelihood": number(spend.log_likelihood),
        },
        "customers_fitted": report.customers_fitted,
        "unit": report.options.unit,
        "until": report.options.until.isoformat(),
    }


def customer_clv_data(row: CustomerClv) -> dict[str, Any]:
    return {
        "code": row.info.code,
        "name": row.info.name,
        "first_purchase": row.first_purchase.isoformat(),
        "last_purchase": row.last_purchase.isoformat(),
        "x": row.x,
        "t_x": number(row.t_x),
        "T": number(row.T),
        "average_repeat_spend": _cents(row.mean_repeat_spend),
        "p_alive": number(row.p_alive),
        "expected_purchases": number(row.expected_purchases),
        "expected_spend": _cents(row.expected_spend),
        "clv": _cents(row.clv),
    }


def clv_data(report: ClvReport, *, top: int | None) -> dict[str, Any]:
    """{model: {...}, customers: [...]}, highest CLV first (every customer when top is None)."""
    return {"model": model_data(report), "customers": clv_rows(report, top=top)}


def clv_rows(report: ClvReport, *, top: int | None) -> list[dict[str, Any]]:
    return [customer_clv_data(row) for row in report.customers[:top]]


def notes(report: ClvReport) -> list[str]:
    """What the user should know about the fit, beyond the numbers."""
    if not report.spend_left_out:
        return []
    return [
        f"{report.spend_left_out:,} repeat customers with zero or negative repeat spend were left out of "
        "the spend fit and are valued at the average spend."
    ]


def clv_view(report: ClvReport, settings: Settings, *, top: int) -> None:
    options, purchases, spend = report.options, report.purchases, report.spend
    horizon = options.horizon_units
    out = render.out
    out.print(
        render.styled(
            ("Predictive CLV", "bold"),
            f" from purchases through {options.until} (unit: {options.unit}); "
            f"horizon {horizon} {options.unit}{'s' if horizon != 1 else ''}, "
            f"discount {options.monthly_discount:.2%} a month",
        )
    )
    out.print(
        f"BG/NBD r={purchases.r:.4g} alpha={purchases.alpha:.4g} a={purchases.a:.4g} b={purchases.b:.4g} "
        f"(log-likelihood {purchases.log_likelihood:,.1f}); Gamma-Gamma p={spend.p:.4g} q={spend.q:.4g} "
        f"gamma={spend.gamma:.4g} {settings.currency} (log-likelihood {spend.log_likelihood:,.1f})",
        markup=False,
    )
    shown = report.customers[:top]
    table = Table(
        title=f"Top {len(shown)} of {report.customers_fitted:,} customers by CLV", title_justify="left"
    )
    table.add_column("code", no_wrap=True)
    table.add_column("name", ratio=1)
    for name in ("purchases", "last purchase", "P(alive)", "exp. purchases", "exp. spend", "CLV"):
        table.add_column(name, justify="left" if name == "last purchase" else "right", no_wrap=True)
    for row in shown:
        table.add_row(
            row.info.code,
            row.info.name or "",
            f"{row.x + 1:,}",
            row.last_purchase.isoformat(),
            f"{row.p_alive:.2f}",
            f"{row.expected_purchases:.2f}",
            show_money(Fraction(row.expected_spend), settings),
            show_money(Fraction(row.clv), settings),
        )
    out.print(table)
    total = sum(row.clv for row in report.customers)
    out.print(
        f"{report.customers_fitted:,} customers fitted ({report.spend_fitted:,} repeat customers in the "
        f"spend model); CLV of all of them over the horizon: {show_money(Fraction(total), settings)}",
        markup=False,
    )
    for note in notes(report):
        out.print(note, markup=False)
