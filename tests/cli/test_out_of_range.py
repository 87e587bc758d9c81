"""Numbers and dates too large for the calendar or the ledger are refused with a message, exit 1
or 2, and nothing written — never a traceback."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from cpm.db import Database
from tests.conftest import Cli, snapshot, write_csv


@pytest.mark.parametrize(
    "args",
    [
        ("award", "--as-of", "0001-01-01"),
        ("award", "--as-of", "9999-12-31"),
        ("report", "--as-of", "0001-01-01"),
        ("report", "--as-of", "9999-12-31", "--format", "json"),
        ("customer", "show", "C1", "--as-of", "1000-01-01"),
        ("points", "expiring", "--within", "99999999d"),
        ("points", "expiring", "--within", "9999999w"),
    ],
)
def test_dates_beyond_the_calendar_are_a_usage_error(cli: Cli, db: Database, args: tuple[str, ...]) -> None:
    before = snapshot(db)
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "out of range" in result.output or "too far ahead" in result.output
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "args",
    [
        ("points", "adjust", "C1", "99999999999999999999999", "--reason", "typo"),
        ("points", "adjust", "C1", "-99999999999999999999999", "--reason", "typo"),
        ("points", "adjust", "C1", "1000000001", "--reason", "typo"),
        ("points", "redeem", "C1", "99999999999999999999999", "--reason", "typo"),
    ],
)
def test_a_point_amount_beyond_the_limit_is_refused(
    cli: Cli, db: Database, tmp_path: Path, args: tuple[str, ...]
) -> None:
    path = write_csv(
        tmp_path / "o.csv",
        [["order_no", "customer_code", "order_date", "amount"], ["O1", "C1", "2025-01-01", "10"]],
    )
    assert cli("import", "orders", str(path)).exit_code == 0
    before = snapshot(db)
    result = cli(*args)
    assert result.exit_code == 1, result.output
    assert "at most 1,000,000,000" in result.stderr
    assert snapshot(db) == before


def test_the_largest_allowed_adjustment_posts(cli: Cli, db: Database, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "o.csv",
        [["order_no", "customer_code", "order_date", "amount"], ["O1", "C1", "2025-01-01", "10"]],
    )
    assert cli("import", "orders", str(path)).exit_code == 0
    result = cli("points", "adjust", "C1", "1000000000", "--reason", "migration")
    assert result.exit_code == 0, result.output
    assert "balance 1,000,000,000" in result.stdout


def test_an_award_ahead_of_the_calendar_is_refused(cli: Cli, db: Database, tmp_path: Path) -> None:
    # An order dated next year would earn now and a lot valid for months would expire today; the
    # ledger could never take either back.
    next_year = date.today().year + 1
    path = write_csv(
        tmp_path / "o.csv",
        [["order_no", "customer_code", "order_date", "amount"], ["O1", "C1", f"{next_year}-01-15", "100"]],
    )
    assert cli("import", "orders", str(path)).exit_code == 0
    before = snapshot(db)
    tomorrow = date.today() + timedelta(days=1)
    result = cli("award", "--as-of", tomorrow.isoformat())
    assert result.exit_code == 1, result.output
    assert f"--as-of {tomorrow} has not come yet" in result.stderr
    assert snapshot(db) == before
    assert cli("award", "--as-of", date.today().isoformat()).exit_code == 0


def test_an_order_earning_beyond_the_ledger_limit_is_refused(cli: Cli, db: Database, tmp_path: Path) -> None:
    (tmp_path / "cpm.toml").write_text("[points]\nrate = 10000\nmultiplier_regular = 100\n", encoding="utf-8")
    path = write_csv(
        tmp_path / "o.csv",
        [
            ["order_no", "customer_code", "order_date", "amount"],
            ["H1", "C1", "2026-01-10", "9999999999999.99"],
        ],
    )
    assert cli("import", "orders", str(path)).exit_code == 0
    before = snapshot(db)
    result = cli("--config", str(tmp_path / "cpm.toml"), "award", "--as-of", "2026-02-01")
    assert result.exit_code == 1, result.output
    # 9,999,999,999,999.99 × 10,000 × 100 points, floored
    assert "order H1 would earn 9,999,999,999,999,990,000 points" in result.stderr
    assert snapshot(db) == before
