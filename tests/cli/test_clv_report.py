"""`cpm report clv` end to end, and P(alive) in `report at-risk` and `customer show`."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import Cli, write_csv

HEADER = ["order_no", "customer_code", "order_date", "amount"]
AS_OF = "2025-01-01"


def shop_orders(customers: int, *, seed: int = 3) -> list[list[str]]:
    """Customers who first buy in 2024's first half and come back at their own pace, or stop."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(customers):
        day = date(2024, 1, 1) + timedelta(days=int(rng.integers(0, 180)))
        rate, stays, level = rng.gamma(2.0, 1 / 60), rng.random() < 0.7, rng.gamma(4.0, 5.0)
        number = 0
        while day < date(2025, 1, 1):
            rows.append([f"S{i}-{number}", f"C{i:03d}", day.isoformat(), f"{rng.gamma(4, level):.2f}"])
            number += 1
            if not stays and rng.random() < 0.3:
                break
            day += timedelta(days=1 + int(rng.exponential(1 / rate)))
    return rows


@pytest.fixture
def shop(cli: Cli, tmp_path: Path) -> Cli:
    path = write_csv(tmp_path / "orders.csv", [HEADER, *shop_orders(120)])
    assert cli("import", "orders", str(path)).exit_code == 0
    return cli


def test_clv_json_has_the_model_then_every_customer_by_clv(shop: Cli) -> None:
    result = shop("report", "clv", "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["model", "customers"]
    model = data["model"]
    assert list(model) == ["bgnbd", "gamma_gamma", "customers_fitted", "unit", "until"]
    assert list(model["bgnbd"]) == ["r", "alpha", "a", "b", "log_likelihood"]
    assert list(model["gamma_gamma"]) == ["p", "q", "gamma", "log_likelihood"]
    assert (model["customers_fitted"], model["unit"], model["until"]) == (120, "week", "2024-12-31")
    rows = data["customers"]
    assert len(rows) == 120
    clvs = [float(row["clv"]) for row in rows]
    assert clvs == sorted(clvs, reverse=True)
    for row in rows:
        assert 0 <= row["p_alive"] <= 1 and round(row["p_alive"], 4) == row["p_alive"]
        assert row["expected_purchases"] >= 0
        assert row["T"] >= row["t_x"] >= 0
        assert row["expected_spend"].count(".") == 1 and len(row["expected_spend"].split(".")[1]) == 2
        assert (row["average_repeat_spend"] is None) == (row["x"] == 0)


def test_clv_options_change_the_unit_the_horizon_and_the_rows(shop: Cli) -> None:
    weeks = json.loads(shop("report", "clv", "--as-of", AS_OF, "--format", "json").stdout)
    days = json.loads(
        shop(
            "report", "clv", "--as-of", AS_OF, "--unit", "day", "--horizon", "364", "--format", "json"
        ).stdout
    )
    # The models do not depend on the unit: alpha scales with it, the predictions stay the same.
    assert days["model"]["bgnbd"]["alpha"] == pytest.approx(7 * weeks["model"]["bgnbd"]["alpha"], rel=1e-3)
    by_code = {row["code"]: row for row in weeks["customers"]}
    for row in days["customers"]:
        assert row["p_alive"] == pytest.approx(by_code[row["code"]]["p_alive"], abs=2e-4)
        assert row["expected_purchases"] == pytest.approx(
            by_code[row["code"]]["expected_purchases"], abs=2e-3
        )
    top = shop("report", "clv", "--as-of", AS_OF, "--top", "3", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(top.stdout)))
    assert [row["code"] for row in table] == [row["code"] for row in weeks["customers"][:3]]
    earlier = json.loads(shop("report", "clv", "--until", "2024-03-31", "--format", "json").stdout)
    assert earlier["model"]["until"] == "2024-03-31"
    assert earlier["model"]["customers_fitted"] < 120


def test_clv_table_lists_the_top_customers(shop: Cli) -> None:
    result = shop("report", "clv", "--as-of", AS_OF, "--top", "5")
    assert result.exit_code == 0, result.output
    assert "Predictive CLV from purchases through 2024-12-31" in result.stdout
    assert "Top 5 of 120 customers by CLV" in result.stdout
    assert "P(alive)" in result.stdout


def test_clv_refuses_a_history_without_enough_repeat_customers(cli: Cli, tmp_path: Path) -> None:
    rows = [[f"S{i}", f"C{i}", "2024-03-01", "10"] for i in range(30)]
    rows += [[f"R{i}", f"C{i}", "2024-04-01", "10"] for i in range(5)]
    cli("import", "orders", str(write_csv(tmp_path / "o.csv", [HEADER, *rows])))
    result = cli("report", "clv", "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "at least 10 customers who came back" in result.stderr and "found 5" in result.stderr
    assert "Hint:" in result.stderr
    # The at-risk report and the card still work, without P(alive).
    at_risk = cli("report", "at-risk", "--as-of", AS_OF, "--format", "json")
    assert at_risk.exit_code == 0
    customers = json.loads(at_risk.stdout)["customers"]
    assert customers and all(c["p_alive"] is None for c in customers)
    card = cli("customer", "show", "C1", "--as-of", AS_OF, "--format", "json")
    assert card.exit_code == 0 and json.loads(card.stdout)["customer"]["p_alive"] is None
    assert "P(alive)          —" in cli("customer", "show", "C1", "--as-of", AS_OF).stdout


def test_until_must_be_before_as_of(shop: Cli) -> None:
    result = shop("report", "clv", "--as-of", AS_OF, "--until", AS_OF)
    assert result.exit_code == 2
    assert "--until must be before --as-of" in result.output


def _clv_by_code(cli: Cli) -> dict[str, Any]:
    data = json.loads(cli("report", "clv", "--as-of", AS_OF, "--format", "json").stdout)
    return {row["code"]: row for row in data["customers"]}


def test_at_risk_and_the_card_show_p_alive_from_the_same_model(shop: Cli) -> None:
    clv = _clv_by_code(shop)
    at_risk = json.loads(shop("report", "at-risk", "--as-of", AS_OF, "--format", "json").stdout)["customers"]
    assert at_risk
    for customer in at_risk:
        assert customer["p_alive"] == pytest.approx(clv[customer["code"]]["p_alive"], abs=1e-4)
    table = shop("report", "at-risk", "--as-of", AS_OF)
    assert "P(alive)" in table.stdout
    code = at_risk[0]["code"]
    card = json.loads(shop("customer", "show", code, "--as-of", AS_OF, "--format", "json").stdout)
    assert card["customer"]["p_alive"] == pytest.approx(clv[code]["p_alive"], abs=1e-4)
    assert "P(alive)" in shop("customer", "show", code, "--as-of", AS_OF).stdout
    # The customers report is unchanged.
    customers = json.loads(shop("report", "customers", "--as-of", AS_OF, "--format", "json").stdout)
    assert "p_alive" not in customers["customers"][0]
