"""The report numbers, checked against values worked out by hand from SPEC "Definitions" and README
"Reports": KPIs, ABC, RFM, tiers and their history, at-risk, cohorts and trend.

ABC and RFM are also checked at the service level with hand-built inputs. Everything else builds a
tiny shop by importing an orders CSV and reads `cpm report … --format json`. Expected values are
literals with the arithmetic beside them; nothing here calls cpm to work out an expected value.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from cpm.config import DEFAULT_SEGMENTS
from cpm.db import Database
from cpm.services.customers import WindowSpend, abc_classes, rfm_scores
from tests.conftest import Cli, table_rows, write_csv

HEADER = ["order_no", "customer_code", "order_date", "amount", "status", "refunded_amount"]
A80, B95 = Fraction(80, 100), Fraction(95, 100)

Row = tuple[str, str, str, str] | tuple[str, str, str, str, str] | tuple[str, str, str, str, str, str]


def load(cli: Cli, tmp_path: Path, rows: list[Row], name: str = "orders.csv") -> None:
    """Import `rows` (order_no, customer_code, order_date, amount[, status[, refunded_amount]])."""
    padded = [list(row) + [""] * (len(HEADER) - len(row)) for row in rows]
    for row in padded:
        row[4] = row[4] or "completed"
    result = cli("import", "orders", str(write_csv(tmp_path / name, [HEADER, *padded])))
    assert result.exit_code == 0, result.stdout + result.stderr


def report(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli("report", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def customers_by_code(cli: Cli, *args: str) -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in report(cli, "customers", *args)["customers"]}


def days_before(as_of: date, days: int) -> str:
    return (as_of - timedelta(days=days)).isoformat()


# --- KPIs -----------------------------------------------------------------------------------------

KPI_SHOP: list[Row] = [
    ("J1", "C1", "2025-01-20", "100.00"),
    ("F1", "C1", "2025-02-10", "200.00"),
    ("F2", "C2", "2025-02-14", "150.00"),
    ("F3", "C3", "2025-02-20", "80.00"),
    ("M1", "C1", "2025-03-05", "300.00"),
    ("M2", "C2", "2025-03-20", "100.00", "refunded", "40.00"),  # partial refund: net 60.00
    ("M3", "C4", "2025-03-08", "50.00", "refunded"),  # refunded in full: not an order
    ("M4", "C5", "2025-03-12", "120.00", "cancelled"),  # not an order
    ("M5", "C6", "2025-03-15", "40.00"),
    ("M6", "C6", "2025-03-15", "10.00"),  # a second order the same day is still an order
    ("M7", "C7", "2025-03-31", "25.00"),  # the last day of March
    ("A1", "C8", "2025-04-01", "999.00"),  # ON the as-of date: not seen
]


def test_month_kpis_with_refunds_cancellations_and_the_previous_month(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, KPI_SHOP)
    data = report(cli, "kpis", "--as-of", "2025-04-01")
    assert data["period"] == {"kind": "month", "label": "2025-03", "start": "2025-03-01", "end": "2025-03-31"}
    assert data["previous_period"] == {
        "kind": "month",
        "label": "2025-02",
        "start": "2025-02-01",
        "end": "2025-02-28",
    }
    assert data["current"] == {
        "revenue": "435.00",  # 300 + 60 (100 − 40 refunded) + 40 + 10 + 25; M3, M4 and A1 excluded
        "orders": 5,  # M1, M2, M5, M6, M7
        "aov": "87.00",  # 435 / 5
        "active_customers": 4,  # C1, C2, C6, C7
        "new_customers": 2,  # C6, C7 (C8's order is on the as-of date, C4/C5 never counted)
        "purchase_frequency": 1.25,  # 5 / 4
        "repeat_purchase_rate": 0.6,  # C1, C2, C6 of C1, C2, C3, C6, C7
        "retention_rate": 0.6667,  # C1, C2 of February's C1, C2, C3
        "churn_rate": 0.3333,  # 1 − 2/3
        "average_clv": "193.00",  # (100 + 430 + 435) / 5 customers with an order
    }
    assert data["previous"] == {
        "revenue": "430.00",  # 200 + 150 + 80
        "orders": 3,
        "aov": "143.33",  # 430 / 3 = 143.333…
        "active_customers": 3,
        "new_customers": 2,  # C2, C3 (C1 bought first in January)
        "purchase_frequency": 1.0,
        "repeat_purchase_rate": 0.3333,  # C1 of C1, C2, C3
        "retention_rate": 1.0,  # January's only customer C1 came back
        "churn_rate": 0.0,
        "average_clv": "176.67",  # (100 + 430) / 3 = 176.666…
    }
    assert data["change"] == {
        "revenue": "5.00",
        "orders": 2,
        "aov": "-56.33",  # 87.00 − 143.33
        "active_customers": 1,
        "new_customers": 0,
        "purchase_frequency": 0.25,
        "repeat_purchase_rate": 0.2667,  # 0.6 − 0.3333
        "retention_rate": -0.3333,
        "churn_rate": 0.3333,
        "average_clv": "16.33",  # 193.00 − 176.67
    }


def test_the_summary_report_carries_the_same_kpis(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, KPI_SHOP)
    data = report(cli, "--as-of", "2025-04-01")
    assert data["period"]["label"] == "2025-03"
    assert data["kpis"]["current"]["revenue"] == "435.00"
    assert data["kpis"]["previous"]["revenue"] == "430.00"
    assert data["kpis"]["change"]["orders"] == 2  # 5 − 3
    assert data["customers"] == 8  # C1…C8: a refunded, cancelled or future order still creates the customer


def test_quarter_is_the_last_complete_quarter_before_as_of(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, KPI_SHOP)
    data = report(cli, "kpis", "--as-of", "2025-04-01", "--period", "quarter")
    assert data["period"] == {
        "kind": "quarter",
        "label": "2025-Q1",
        "start": "2025-01-01",
        "end": "2025-03-31",
    }
    assert data["previous_period"] == {
        "kind": "quarter",
        "label": "2024-Q4",
        "start": "2024-10-01",
        "end": "2024-12-31",
    }
    assert data["current"] == {
        "revenue": "965.00",  # 100 + 430 + 435
        "orders": 9,  # 1 + 3 + 5
        "aov": "107.22",  # 965 / 9 = 107.222…
        "active_customers": 5,  # C1, C2, C3, C6, C7
        "new_customers": 5,
        "purchase_frequency": 1.8,  # 9 / 5
        "repeat_purchase_rate": 0.6,  # C1, C2, C6 of 5
        "retention_rate": None,  # nobody bought in 2024-Q4
        "churn_rate": None,
        "average_clv": "193.00",  # 965 / 5
    }
    assert data["previous"]["aov"] is None and data["previous"]["orders"] == 0
    assert data["change"]["revenue"] == "965.00" and data["change"]["aov"] is None


# (as-of, period kind) → (reported period, the one before it)
REPORTED_PERIODS = {
    ("2026-11-01", "month"): ("2026-10", "2026-09"),  # README's examples
    ("2026-10-31", "month"): ("2026-09", "2026-08"),  # October 31 itself is not seen: October is open
    ("2025-03-31", "month"): ("2025-02", "2025-01"),
    ("2024-03-01", "month"): ("2024-02", "2024-01"),
    ("2025-01-01", "month"): ("2024-12", "2024-11"),
    ("2025-04-01", "quarter"): ("2025-Q1", "2024-Q4"),
    ("2025-05-15", "quarter"): ("2025-Q1", "2024-Q4"),
    ("2025-03-31", "quarter"): ("2024-Q4", "2024-Q3"),
    ("2025-01-01", "year"): ("2024", "2023"),
    ("2024-12-31", "year"): ("2023", "2022"),
    ("2025-04-01", "year"): ("2024", "2023"),
}


def test_the_reported_period_is_the_latest_complete_one_before_as_of(cli: Cli) -> None:
    got = {}
    for as_of, kind in REPORTED_PERIODS:
        data = report(cli, "kpis", "--as-of", as_of, "--period", kind)
        got[(as_of, kind)] = (data["period"]["label"], data["previous_period"]["label"])
    assert got == REPORTED_PERIODS


LEAP_SHOP: list[Row] = [
    ("L0", "D3", "2023-12-31", "7.00"),
    ("L1", "D1", "2024-01-31", "10.00"),
    ("L2", "D1", "2024-02-29", "29.00"),
    ("L3", "D2", "2024-02-01", "1.00"),
    ("L4", "D2", "2024-03-01", "5.00"),
]


def test_leap_day_orders_belong_to_february_2024(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, LEAP_SHOP)
    data = report(cli, "kpis", "--as-of", "2024-03-01")
    assert data["period"] == {"kind": "month", "label": "2024-02", "start": "2024-02-01", "end": "2024-02-29"}
    assert data["current"]["revenue"] == "30.00"  # 29 on the 29th + 1; L4 is on the as-of date
    assert data["current"]["orders"] == 2
    assert data["current"]["active_customers"] == 2
    assert data["current"]["new_customers"] == 1  # D2 (D1 first bought in January)
    assert data["current"]["retention_rate"] == 1.0  # January's D1 came back
    assert data["previous"]["revenue"] == "10.00"


def test_year_as_of_new_years_day_is_the_year_before(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, LEAP_SHOP)
    data = report(cli, "kpis", "--as-of", "2025-01-01", "--period", "year")
    assert data["period"] == {"kind": "year", "label": "2024", "start": "2024-01-01", "end": "2024-12-31"}
    assert data["previous_period"]["label"] == "2023"
    assert data["current"]["revenue"] == "45.00"  # 10 + 29 + 1 + 5
    assert data["current"]["orders"] == 4
    assert data["current"]["new_customers"] == 2  # D1, D2 (D3's first order is in 2023)
    assert data["current"]["retention_rate"] == 0.0  # 2023's only customer D3 did not come back
    assert data["current"]["churn_rate"] == 1.0
    assert data["previous"]["revenue"] == "7.00"


def test_an_empty_period_has_null_ratios_and_no_division_by_zero(cli: Cli, tmp_path: Path) -> None:
    load(
        cli,
        tmp_path,
        [
            ("E1", "E1", "2025-02-03", "50.00"),
            ("E2", "E1", "2025-02-04", "30.00"),
            ("E3", "E2", "2025-02-05", "20.00"),
        ],
    )
    data = report(cli, "kpis", "--as-of", "2025-04-01")  # March has no orders
    assert data["current"] == {
        "revenue": "0.00",
        "orders": 0,
        "aov": None,
        "active_customers": 0,
        "new_customers": 0,
        "purchase_frequency": None,
        "repeat_purchase_rate": 0.5,  # E1 (2 orders) of E1, E2
        "retention_rate": 0.0,  # nobody of February's two came back
        "churn_rate": 1.0,
        "average_clv": "50.00",  # (50 + 30 + 20) / 2
    }
    assert data["change"]["revenue"] == "-100.00"
    assert data["change"]["orders"] == -3
    assert data["change"]["aov"] is None  # current is null
    assert data["change"]["retention_rate"] is None  # previous (February after an empty January) is null
    assert data["change"]["average_clv"] == "0.00"


def test_one_customer_with_one_order_in_the_first_month_of_data(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, [("Z1", "Z", "2025-03-10", "19.99")])
    data = report(cli, "kpis", "--as-of", "2025-04-01")
    assert data["current"] == {
        "revenue": "19.99",
        "orders": 1,
        "aov": "19.99",
        "active_customers": 1,
        "new_customers": 1,
        "purchase_frequency": 1.0,
        "repeat_purchase_rate": 0.0,  # one customer, one order
        "retention_rate": None,  # no previous customers: first month of data
        "churn_rate": None,
        "average_clv": "19.99",
    }
    assert data["previous"]["revenue"] == "0.00" and data["previous"]["average_clv"] is None


def test_aov_is_rounded_half_up_to_cents(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, [("H1", "H", "2025-03-01", "0.02"), ("H2", "H", "2025-03-02", "0.03")])
    current = report(cli, "kpis", "--as-of", "2025-04-01")["current"]
    assert current["revenue"] == "0.05"
    assert current["aov"] == "0.03"  # 5 cents / 2 = 2.5 cents → 0.03 half up (half-even would say 0.02)


def test_an_order_on_the_as_of_date_is_not_seen(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, [("X1", "X", "2025-03-31", "10.00"), ("X2", "X", "2025-04-01", "90.00")])
    x = customers_by_code(cli, "--as-of", "2025-04-01")["X"]
    assert (x["lifetime_orders"], x["lifetime_revenue"], x["window_revenue"]) == (1, "10.00", "10.00")
    assert x["last_order"] == "2025-03-31" and x["days_since_last_order"] == 1
    later = customers_by_code(cli, "--as-of", "2025-04-02")["X"]
    assert (later["lifetime_orders"], later["lifetime_revenue"]) == (2, "100.00")


# --- ABC ------------------------------------------------------------------------------------------


def test_abc_the_customer_crossing_80_percent_stays_a() -> None:
    codes = {1: "K1", 2: "K2", 3: "K3"}
    revenue = {1: 7000, 2: 2000, 3: 1000}
    # K1: share before 0 → A; K2: before 0.70 → A (its own 20% crosses 80%); K3: before 0.90 → B
    assert abc_classes(revenue, codes, a=A80, b=B95) == {1: "A", 2: "A", 3: "B"}


def test_abc_share_before_exactly_at_a_threshold_is_the_lower_class() -> None:
    codes = {1: "K1", 2: "K2", 3: "K3"}
    revenue = {1: 8000, 2: 1500, 3: 500}
    # K2: before exactly 0.80 → not below 0.80 → B; K3: before exactly 0.95 → C
    assert abc_classes(revenue, codes, a=A80, b=B95) == {1: "A", 2: "B", 3: "C"}


def test_abc_ties_are_broken_by_customer_code_not_by_id() -> None:
    codes = {1: "T9", 2: "TB", 3: "TA", 4: "T0"}
    revenue = {1: 7500, 2: 1000, 3: 1000, 4: 500}
    # T9 A (before 0); then the tie TA before TB: TA before 0.75 → A, TB before 0.85 → B; T0 before 0.95 → C
    assert abc_classes(revenue, codes, a=A80, b=B95) == {1: "A", 2: "B", 3: "A", 4: "C"}


def test_abc_zero_revenue_is_c_even_when_nobody_has_revenue() -> None:
    codes = {1: "Z1", 2: "Z2", 3: "Z3"}
    assert abc_classes({}, codes, a=A80, b=B95) == {1: "C", 2: "C", 3: "C"}
    assert abc_classes({1: 100, 2: 0}, codes, a=A80, b=B95) == {1: "A", 2: "C", 3: "C"}


def test_abc_a_refund_lowers_revenue_and_the_class(cli: Cli, tmp_path: Path) -> None:
    shop: list[Row] = [
        ("P1", "P", "2025-03-01", "1000.00"),
        ("Q1", "Q", "2025-03-02", "300.00"),
        ("R1", "R", "2025-03-03", "250.00"),
    ]
    load(cli, tmp_path, shop)
    before = customers_by_code(cli, "--as-of", "2025-04-01")
    # 1550 in all: P before 0 → A, Q before 1000/1550 = 0.645 → A, R before 1300/1550 = 0.839 → B
    assert {c: before[c]["abc"] for c in "PQR"} == {"P": "A", "Q": "A", "R": "B"}
    load(cli, tmp_path, [("P1", "P", "2025-03-01", "1000.00", "refunded", "900.00")], name="refund.csv")
    after = customers_by_code(cli, "--as-of", "2025-04-01")
    assert after["P"]["window_revenue"] == "100.00"
    # 650 in all: Q before 0 → A, R before 300/650 = 0.46 → A, P before 550/650 = 0.846 → B
    assert {c: after[c]["abc"] for c in "PQR"} == {"P": "B", "Q": "A", "R": "A"}


WINDOW_SHOP: list[Row] = [
    ("O1", "OLD", "2024-03-31", "1000.00"),  # 366 days before 2025-04-01: outside the default window
    ("E1", "EDGE", "2024-04-01", "100.00"),  # exactly as_of − 365: inside
    ("N1", "NEW", "2025-03-01", "300.00"),
]


def test_abc_default_window_is_the_365_days_before_as_of(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, WINDOW_SHOP)
    data = report(cli, "customers", "--as-of", "2025-04-01")
    assert data["window"] == {"start": "2024-04-01", "end": "2025-03-31", "all_time": False}
    rows = {c["code"]: c for c in data["customers"]}
    assert rows["OLD"]["window_revenue"] == "0.00" and rows["OLD"]["lifetime_revenue"] == "1000.00"
    assert rows["EDGE"]["window_revenue"] == "100.00"
    # NEW 300 A; EDGE before 300/400 = 0.75 → A; OLD no revenue in the window → C
    assert {c: r["abc"] for c, r in rows.items()} == {"NEW": "A", "EDGE": "A", "OLD": "C"}
    assert rows["OLD"]["r"] is None and rows["OLD"]["segment"] is None


def test_abc_all_time_uses_all_history_before_as_of(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, WINDOW_SHOP)
    data = report(cli, "customers", "--as-of", "2025-04-01", "--all-time")
    assert data["window"] == {"start": None, "end": "2025-03-31", "all_time": True}
    rows = {c["code"]: c for c in data["customers"]}
    # 1400 in all: OLD A; NEW before 1000/1400 = 0.714 → A; EDGE before 1300/1400 = 0.929 → B
    assert {c: r["abc"] for c, r in rows.items()} == {"OLD": "A", "NEW": "A", "EDGE": "B"}
    narrow = customers_by_code(cli, "--as-of", "2025-04-01", "--window-days", "31")  # from 2025-03-01
    assert {c: r["window_revenue"] for c, r in narrow.items()} == {
        "EDGE": "0.00",
        "NEW": "300.00",
        "OLD": "0.00",
    }


# --- RFM ------------------------------------------------------------------------------------------

AS_OF = date(2025, 4, 1)


def spend(days_ago: int, orders: int, revenue: int) -> WindowSpend:
    return WindowSpend(revenue=revenue, orders=orders, last_order=AS_OF - timedelta(days=days_ago))


def test_rfm_formula_on_seven_customers_with_ties() -> None:
    # n = 7; score = 1 + floor(5 × strictly worse / 7)
    inputs = {
        1: spend(3, 9, 700),
        2: spend(3, 1, 100),
        3: spend(10, 2, 300),
        4: spend(40, 2, 300),
        5: spend(40, 5, 50),
        6: spend(40, 2, 900),
        7: spend(200, 1, 900),
    }
    scores = rfm_scores(inputs, as_of=AS_OF, segments=DEFAULT_SEGMENTS)
    got = {cid: (s.recency_days, s.r, s.f, s.m) for cid, s in scores.items()}
    # recency days 3,3,10,40,40,40,200 (more days = worse):
    #   3 → 5 worse → 1 + 25//7 = 4;  10 → 4 worse → 1 + 20//7 = 3;  40 → 1 worse → 1;  200 → 0 → 1
    # orders 1,1,2,2,2,5,9 (fewer = worse):
    #   1 → 0 → 1;  2 → 2 worse → 1 + 10//7 = 2;  5 → 5 worse → 1 + 25//7 = 4;  9 → 6 worse → 1 + 30//7 = 5
    # revenue 50,100,300,300,700,900,900:
    #   50 → 1;  100 → 1 worse → 1 + 5//7 = 1;  300 → 2 worse → 2;  700 → 4 worse → 1 + 20//7 = 3;
    #   900 → 5 worse → 1 + 25//7 = 4 (the two best tie, so neither reaches 5)
    assert got == {
        1: (3, 4, 5, 3),
        2: (3, 4, 1, 1),
        3: (10, 3, 2, 2),
        4: (40, 1, 2, 2),
        5: (40, 1, 4, 1),
        6: (40, 1, 2, 4),
        7: (200, 1, 1, 4),
    }
    assert {cid: s.segment for cid, s in scores.items()} == {
        1: "Loyal",  # R4 F5
        2: "Promising",  # R4 F1
        3: "About to sleep",  # R3 F2
        4: "Hibernating",  # R1 F2
        5: "At risk",  # R1 F4
        6: "Hibernating",
        7: "Hibernating",
    }


def test_rfm_equal_values_always_score_equally() -> None:
    everyone_alike = {cid: spend(5, 2, 1000) for cid in range(1, 6)}
    scores = rfm_scores(everyone_alike, as_of=AS_OF, segments=DEFAULT_SEGMENTS)
    # nobody is strictly worse than anybody: every score is 1 + 0 = 1
    assert {(s.r, s.f, s.m) for s in scores.values()} == {(1, 1, 1)}
    assert rfm_scores({}, as_of=AS_OF, segments=DEFAULT_SEGMENTS) == {}
    one = rfm_scores({9: spend(0, 1, 1)}, as_of=AS_OF, segments=DEFAULT_SEGMENTS)
    assert (one[9].recency_days, one[9].r, one[9].f, one[9].m) == (0, 1, 1, 1)


# The README's segment table, cell by cell (first matching rule wins).
SEGMENT_GRID = {
    5: ["New customers", "Potential loyalists", "Potential loyalists", "Champions", "Champions"],
    4: ["Promising", "Potential loyalists", "Potential loyalists", "Loyal", "Loyal"],
    3: ["About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"],
    2: ["Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"],
    1: ["Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"],
}


def test_rfm_segment_names_follow_the_readme_table() -> None:
    # Five customers with distinct values score 1…5 on each axis: recency days 5,4,3,2,1 give R 1…5,
    # and 1…5 orders give F 1…5. Five shifts of F against R cover all 25 cells.
    seen: dict[tuple[int, int], str] = {}
    for shift in range(5):
        inputs = {r: spend(6 - r, (r - 1 + shift) % 5 + 1, 100) for r in range(1, 6)}
        for cid, s in rfm_scores(inputs, as_of=AS_OF, segments=DEFAULT_SEGMENTS).items():
            assert s.r == cid and s.f == (cid - 1 + shift) % 5 + 1
            seen[(s.r, s.f)] = s.segment
    assert seen == {(r, f): SEGMENT_GRID[r][f - 1] for r in range(1, 6) for f in range(1, 6)}


def test_rfm_through_the_report(cli: Cli, tmp_path: Path) -> None:
    load(
        cli,
        tmp_path,
        [
            ("A1", "RA", "2025-03-31", "100.00"),
            ("A2", "RA", "2025-03-01", "100.00"),
            ("A3", "RA", "2025-02-01", "100.00"),
            ("B1", "RB", "2025-03-31", "50.00"),
            ("C1", "RC", "2025-01-01", "250.00"),
            ("C2", "RC", "2024-12-01", "250.00"),
            ("C3", "RC", "2025-03-20", "80.00", "refunded"),  # not an order: recency stays 90 days
            ("D1", "RD", "2024-03-31", "900.00"),  # outside the window: no RFM, not counted in n
        ],
    )
    rows = customers_by_code(cli, "--as-of", "2025-04-01")
    got = {code: (r["recency_days"], r["r"], r["f"], r["m"], r["segment"]) for code, r in rows.items()}
    # n = 3.  recency 1, 1, 90 (2025-01-01 → 2025-04-01 = 31 + 28 + 31): the two 1s have 1 worse →
    # 1 + 5//3 = 2; 90 → 1.  orders 3, 1, 2: 3 → 2 worse → 1 + 10//3 = 4; 2 → 1 + 5//3 = 2; 1 → 1.
    # revenue 300, 50, 500: 500 → 1 + 10//3 = 4; 300 → 2; 50 → 1.
    assert got == {
        "RA": (1, 2, 4, 2, "At risk"),  # R2 F4
        "RB": (1, 2, 1, 1, "Hibernating"),
        "RC": (90, 1, 2, 4, "Hibernating"),
        "RD": (None, None, None, None, None),
    }


# --- tiers ----------------------------------------------------------------------------------------


def test_tiers_by_net_spend_in_the_window_with_default_thresholds(cli: Cli, tmp_path: Path) -> None:
    load(
        cli,
        tmp_path,
        [
            ("T1", "T1", "2025-03-01", "4999.99"),
            ("T2", "T2", "2025-03-01", "5000.00"),
            ("T3", "T3", "2025-03-01", "19999.99"),
            ("T4a", "T4", "2025-01-01", "15000.00"),
            ("T4b", "T4", "2025-02-01", "5000.00"),  # 20,000.00 over two orders
            ("T5", "T5", "2025-03-01", "25000.00", "refunded", "5000.01"),  # net 19,999.99
            ("T6", "T6", "2024-03-31", "30000.00"),  # outside the window
        ],
    )
    data = report(cli, "--as-of", "2025-04-01")
    rows = customers_by_code(cli, "--as-of", "2025-04-01")
    assert {code: r["tier"] for code, r in rows.items()} == {
        "T1": "regular",
        "T2": "vip",
        "T3": "vip",
        "T4": "diamond",
        "T5": "vip",
        "T6": "regular",
    }
    tiers = {t["tier"]: (t["customers"], t["revenue"]) for t in data["tiers"]}
    assert tiers == {
        "diamond": (1, "20000.00"),
        "vip": (3, "44999.98"),  # 5000.00 + 19999.99 + 19999.99
        "regular": (2, "4999.99"),  # T1, and T6 with nothing in the window
    }


def test_tier_history_records_an_upgrade_and_a_downgrade_with_their_dates(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    load(cli, tmp_path, [("V1", "V", "2025-01-15", "6000.00"), ("S1", "S", "2025-01-20", "10.00")])
    report(cli, "--as-of", "2025-02-01")  # V: 6000 in the window → VIP
    report(cli, "customers", "--as-of", "2026-01-15")  # window from 2025-01-15: still VIP, nothing new
    report(cli, "--as-of", "2026-01-16")  # window from 2025-01-16: the order is out → Regular
    report(cli, "--as-of", "2025-06-01")  # earlier than V's latest change: records nothing
    result = cli("customer", "show", "V", "--format", "json", "--as-of", "2026-01-16")
    assert result.exit_code == 0, result.stderr
    card = json.loads(result.stdout)
    assert card["tier_history"] == [
        {"effective_on": "2025-02-01", "tier": "vip", "previous_tier": "regular", "spend": "6000.00"},
        {"effective_on": "2026-01-16", "tier": "regular", "previous_tier": "vip", "spend": "0.00"},
    ]
    assert card["customer"]["tier"] == "regular"
    # S never left Regular, so it has no history; an all-time view is shown but not recorded
    all_time = report(cli, "customers", "--as-of", "2026-06-01", "--all-time")["customers"]
    assert [c["tier"] for c in all_time if c["code"] == "V"] == ["vip"]  # 6000 over all history
    assert table_rows(
        db,
        "SELECT c.customer_code, t.effective_on, t.tier FROM tier_changes t "
        "JOIN customers c ON c.id = t.customer_id ORDER BY t.id",
    ) == [
        ("V", "2025-02-01", "vip"),
        ("V", "2026-01-16", "regular"),
    ]


# --- at risk --------------------------------------------------------------------------------------

RISK_AS_OF = date(2025, 6, 1)


def risk_shop() -> list[Row]:
    def on(days: int) -> str:
        return days_before(RISK_AS_OF, days)

    return [
        # purchase days with gaps 10, 20, 30 (median 20): at risk after 2 × 20 = 40 days
        *[(f"G40-{d}", "G40", on(d), "100.00") for d in (100, 90, 70, 40)],  # exactly 40: active
        *[(f"G41-{d}", "G41", on(d), "200.00") for d in (101, 91, 71, 41)],  # 41: at risk
        ("O90", "ONE90", on(90), "10.00"),  # one purchase day, 90 days: active
        ("O91", "ONE91", on(91), "20.00"),  # 91 days: at risk
        ("O365", "ONE365", on(365), "30.00"),  # 365 days: still at risk, not lapsed
        ("O366", "ONE366", on(366), "40.00"),  # 366 days: lapsed
        ("SA1", "SAME", on(30), "5.00"),  # two orders on one day = one purchase day
        ("SA2", "SAME", on(30), "5.00"),
        ("D1", "DUP", on(25), "7.00"),  # days 25, 15, 15: one gap of 10 → at risk after 20
        ("D2", "DUP", on(15), "7.00"),
        ("D3", "DUP", on(15), "7.00"),
        ("RF1", "REF", on(91), "50.00"),
        ("RF2", "REF", on(5), "50.00", "refunded"),  # not a purchase
        ("CX1", "CXL", on(10), "50.00", "cancelled"),  # no counted order at all
    ]


def test_at_risk_on_purchase_days_and_medians(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, risk_shop())
    rows = customers_by_code(cli, "--as-of", RISK_AS_OF.isoformat())
    got = {code: (r["days_since_last_order"], r["median_gap_days"], r["status"]) for code, r in rows.items()}
    assert got == {
        "G40": (40, 20.0, "active"),  # 40 is not more than 2 × 20
        "G41": (41, 20.0, "at_risk"),
        "ONE90": (90, None, "active"),
        "ONE91": (91, None, "at_risk"),
        "ONE365": (365, None, "at_risk"),
        "ONE366": (366, None, "lapsed"),
        "SAME": (30, None, "active"),  # one purchase day: the 90-day rule, not a 0-day gap
        "DUP": (15, 10.0, "active"),  # gaps [10], not [10, 0]: 15 ≤ 2 × 10
        "REF": (91, None, "at_risk"),  # the refunded order is not a purchase
        "CXL": (None, None, None),
    }
    at_risk = report(cli, "at-risk", "--as-of", RISK_AS_OF.isoformat())["customers"]
    # biggest spenders (window revenue) first: G41 800, REF 50, ONE365 30, ONE91 20
    assert [c["code"] for c in at_risk] == ["G41", "REF", "ONE365", "ONE91"]
    summary = report(cli, "--as-of", RISK_AS_OF.isoformat())
    assert (summary["at_risk_customers"], summary["lapsed_customers"]) == (4, 1)


def test_after_more_than_a_year_of_silence_a_customer_is_lapsed(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, risk_shop())
    later = RISK_AS_OF + timedelta(days=326)  # G40's last purchase day is now 366 days back
    rows = customers_by_code(cli, "--as-of", later.isoformat())
    assert rows["G40"]["status"] == "lapsed" and rows["G40"]["days_since_last_order"] == 366
    assert rows["G41"]["status"] == "lapsed"
    assert rows["SAME"]["status"] == "at_risk"  # 356 days


# --- cohorts --------------------------------------------------------------------------------------

COHORT_SHOP: list[Row] = [
    ("A1", "A", "2025-01-05", "10.00"),
    ("A2", "A", "2025-02-05", "10.00"),
    ("A3", "A", "2025-03-05", "10.00"),
    ("B1", "B", "2025-01-10", "10.00"),
    ("B2", "B", "2025-03-10", "10.00"),
    ("F1", "F", "2025-01-20", "10.00"),
    ("C1", "C", "2025-02-01", "10.00"),
    ("D1", "D", "2025-02-02", "10.00"),
    ("D2", "D", "2025-03-02", "10.00"),
    ("D3", "D", "2025-03-03", "10.00"),  # twice in March is still one active customer
    ("E0", "E", "2025-01-15", "10.00", "refunded"),  # not counted: E's cohort is March
    ("E1", "E", "2025-03-15", "10.00"),
    ("X1", "A", "2025-04-03", "10.00"),  # April: after as-of 2025-04-01, incomplete as of 2025-04-15
    ("X2", "N", "2025-04-04", "10.00"),  # first order in April: no cohort yet
]
COHORTS_BY_HAND = [
    # January: A, B, F. Month 1: A. Month 2: A, B.
    {"cohort": "2025-01", "size": 3, "active": [3, 1, 2], "shares": [1.0, 0.3333, 0.6667]},
    # February: C, D. Month 1: D.
    {"cohort": "2025-02", "size": 2, "active": [2, 1], "shares": [1.0, 0.5]},
    {"cohort": "2025-03", "size": 1, "active": [1], "shares": [1.0]},  # E
]


def test_cohort_shares_by_hand(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, COHORT_SHOP)
    data = report(cli, "cohorts", "--as-of", "2025-04-01")
    assert data["cohorts"] == COHORTS_BY_HAND
    since = report(cli, "cohorts", "--as-of", "2025-04-01", "--since", "2025-02-01")
    assert since["cohorts"] == COHORTS_BY_HAND[1:]


def test_cohorts_stop_at_the_latest_complete_month(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, COHORT_SHOP)
    # as of 2025-04-15 April is not complete: the April orders are seen but April is no cohort month
    data = report(cli, "cohorts", "--as-of", "2025-04-15")
    assert data["cohorts"] == COHORTS_BY_HAND


# --- trend ----------------------------------------------------------------------------------------


def test_trend_returns_the_requested_periods_oldest_first(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, KPI_SHOP)
    periods = report(cli, "trend", "--as-of", "2025-04-01", "--periods", "3")["periods"]
    assert [(p["period"], p["start"], p["end"]) for p in periods] == [
        ("2025-01", "2025-01-01", "2025-01-31"),
        ("2025-02", "2025-02-01", "2025-02-28"),
        ("2025-03", "2025-03-01", "2025-03-31"),
    ]
    assert [p["revenue"] for p in periods] == ["100.00", "430.00", "435.00"]
    assert [p["orders"] for p in periods] == [1, 3, 5]
    assert [p["new_customers"] for p in periods] == [1, 2, 2]
    assert [p["retention_rate"] for p in periods] == [None, 1.0, 0.6667]  # nobody before January
    quarters = report(cli, "trend", "--as-of", "2025-04-01", "--periods", "3", "--period", "quarter")[
        "periods"
    ]
    assert [(p["period"], p["start"], p["end"]) for p in quarters] == [
        ("2024-Q3", "2024-07-01", "2024-09-30"),
        ("2024-Q4", "2024-10-01", "2024-12-31"),
        ("2025-Q1", "2025-01-01", "2025-03-31"),
    ]


def test_year_trend_ends_with_the_last_complete_year(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, KPI_SHOP)
    years = report(cli, "trend", "--as-of", "2025-04-01", "--periods", "2", "--period", "year")["periods"]
    assert [(p["period"], p["start"], p["end"]) for p in years] == [
        ("2023", "2023-01-01", "2023-12-31"),
        ("2024", "2024-01-01", "2024-12-31"),  # 2025 has not ended as of 2025-04-01
    ]
    assert [p["revenue"] for p in years] == ["0.00", "0.00"]  # every order of the shop is in 2025


def test_trend_length(cli: Cli, tmp_path: Path) -> None:
    load(cli, tmp_path, KPI_SHOP)
    one = report(cli, "trend", "--as-of", "2025-04-01", "--periods", "1")["periods"]
    assert [p["period"] for p in one] == ["2025-03"]
    thirteen = report(cli, "trend", "--as-of", "2025-04-01", "--periods", "13")["periods"]
    assert len(thirteen) == 13
    assert (thirteen[0]["period"], thirteen[-1]["period"]) == ("2024-03", "2025-03")
