"""`cpm report` and `cpm customer show` end to end: the JSON and CSV shapes the README documents,
money as two-decimal strings, ratios as numbers, an empty database, the settings file, and a
property: ABC classes and RFM scores do not depend on the order rows were imported in.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cpm import db as database
from cpm.cli.main import app
from cpm.db import Database
from tests.conftest import Cli, write_csv

AS_OF = "2025-04-01"
HEADER = ["order_no", "customer_code", "order_date", "amount", "status", "refunded_amount"]
MONEY = re.compile(r"^-?\d+\.\d{2}$")

# README "JSON and CSV (for scripts)"
SUMMARY_KEYS = {
    "as_of",
    "currency",
    "settings_version",
    "period",
    "previous_period",
    "window",
    "kpis",
    "abc",
    "tiers",
    "top_customers",
    "customers",
    "at_risk_customers",
    "lapsed_customers",
}
PERIOD_KEYS = ["kind", "label", "start", "end"]
WINDOW_KEYS = ["start", "end", "all_time"]
KPI_KEYS = [
    "revenue",
    "orders",
    "aov",
    "active_customers",
    "new_customers",
    "purchase_frequency",
    "repeat_purchase_rate",
    "retention_rate",
    "churn_rate",
    "average_clv",
]
CUSTOMER_KEYS = [
    "code",
    "name",
    "city",
    "sales_rep",
    "tier",
    "abc",
    "recency_days",
    "r",
    "f",
    "m",
    "segment",
    "window_revenue",
    "window_orders",
    "lifetime_revenue",
    "lifetime_orders",
    "first_order",
    "last_order",
    "days_since_last_order",
    "median_gap_days",
    "status",
]
MONEY_KEYS = {
    "revenue",
    "aov",
    "average_clv",
    "window_revenue",
    "lifetime_revenue",
    "spend",
    "amount",
    "net_amount",
}
RATIO_KEYS = {
    "purchase_frequency",
    "repeat_purchase_rate",
    "retention_rate",
    "churn_rate",
    "revenue_share",
    "median_gap_days",
    "share",
}
INT_KEYS = {
    "orders",
    "active_customers",
    "new_customers",
    "customers",
    "window_orders",
    "lifetime_orders",
    "recency_days",
    "r",
    "f",
    "m",
    "days_since_last_order",
    "size",
    "at_risk_customers",
    "lapsed_customers",
}

SHOP = [
    ["S1", "C1", "2025-02-10", "100.00", "completed", ""],
    ["S2", "C1", "2025-03-05", "250.00", "completed", ""],
    ["S3", "C2", "2025-03-07", "80.00", "refunded", ""],
    ["S4", "C3", "2025-03-09", "0.10", "completed", ""],
    ["S5", "C3", "2025-03-10", "0.20", "completed", ""],
    ["S6", "C4", "2025-01-15", "33.33", "completed", ""],
    ["S7", "C4", "2025-03-20", "66.67", "refunded", "0.01"],
]


def load(cli: Cli, path: Path, rows: list[list[str]]) -> None:
    result = cli("import", "orders", str(write_csv(path, [HEADER, *rows])))
    assert result.exit_code == 0, result.stdout + result.stderr


@pytest.fixture
def shop(cli: Cli, tmp_path: Path) -> Cli:
    load(cli, tmp_path / "orders.csv", SHOP)
    return cli


def run(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return str(result.stdout)


def as_json(cli: Cli, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run(cli, *args, "--format", "json"))
    return data


def as_csv(cli: Cli, *args: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(run(cli, *args, "--format", "csv")))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON document; list items carry their list's key."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key)
    else:
        yield key, value


def assert_typed(document: dict[str, Any]) -> None:
    """Money is a two-decimal string, ratios are numbers with at most four decimals, counts are ints."""
    for key, value in walk(document):
        if value is None:
            continue
        if key in MONEY_KEYS:
            assert isinstance(value, str) and MONEY.match(value), (key, value)
        elif key in RATIO_KEYS or key == "shares":
            assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
            assert round(value, 4) == value, (key, value)
        elif key in INT_KEYS:
            assert isinstance(value, int) and not isinstance(value, bool), (key, value)


# --- JSON shapes ----------------------------------------------------------------------------------


def test_summary_json_shape(shop: Cli) -> None:
    data = as_json(shop, "report", "--as-of", AS_OF)
    assert set(data) >= SUMMARY_KEYS
    # The only key beyond the README's list: SPEC's summary also shows expiring points.
    assert set(data) - SUMMARY_KEYS <= {"points_expiring_30_days"}
    assert list(data["period"]) == PERIOD_KEYS and list(data["previous_period"]) == PERIOD_KEYS
    assert list(data["window"]) == WINDOW_KEYS
    assert list(data["kpis"]) == ["current", "previous", "change"]
    for part in data["kpis"].values():
        assert list(part) == KPI_KEYS
    assert [g["class"] for g in data["abc"]] == ["A", "B", "C"]
    assert all(list(g) == ["class", "customers", "revenue", "revenue_share"] for g in data["abc"])
    assert sorted(g["tier"] for g in data["tiers"]) == ["diamond", "regular", "vip"]
    assert all(list(g) == ["tier", "customers", "revenue", "revenue_share"] for g in data["tiers"])
    assert all(list(c) == CUSTOMER_KEYS for c in data["top_customers"])
    assert data["currency"] == "CNY" and data["as_of"] == AS_OF
    assert isinstance(data["settings_version"], str) and data["settings_version"]
    assert_typed(data)


def test_money_has_no_float_noise(shop: Cli) -> None:
    data = as_json(shop, "report", "kpis", "--as-of", AS_OF)
    # March: 250.00 + 0.10 + 0.20 + 66.66 (66.67 less a 0.01 refund); the refunded 80 excluded
    assert data["current"]["revenue"] == "316.96"
    assert data["current"]["aov"] == "79.24"  # 316.96 / 4
    assert data["previous"]["revenue"] == "100.00"
    customers = {c["code"]: c for c in as_json(shop, "report", "customers", "--as-of", AS_OF)["customers"]}
    assert customers["C3"]["window_revenue"] == "0.30"  # 0.10 + 0.20, not 0.30000000000000004
    assert customers["C4"]["window_revenue"] == "99.99"  # 33.33 + 66.66
    assert customers["C2"]["window_revenue"] == "0.00"
    text = run(shop, "report", "customers", "--as-of", AS_OF, "--format", "csv")
    assert "0.30," in text and "0000000" not in text and "9999999" not in text


def test_kpis_json_and_csv(shop: Cli) -> None:
    data = as_json(shop, "report", "kpis", "--as-of", AS_OF)
    assert list(data) == ["as_of", "period", "previous_period", "current", "previous", "change"]
    assert all(list(data[k]) == KPI_KEYS for k in ("current", "previous", "change"))
    assert_typed(data)
    header, rows = as_csv(shop, "report", "kpis", "--as-of", AS_OF)
    assert header == ["metric", "current", "previous", "change"]
    assert [r["metric"] for r in rows] == KPI_KEYS
    by_metric = {r["metric"]: r for r in rows}
    assert by_metric["revenue"] == {
        "metric": "revenue",
        "current": "316.96",
        "previous": "100.00",
        "change": "216.96",
    }
    assert by_metric["orders"]["current"] == "4"
    # the summary's CSV is the same KPI table
    assert as_csv(shop, "report", "--as-of", AS_OF) == (header, rows)


def test_customers_json_and_csv_list_every_customer_by_code(shop: Cli) -> None:
    data = as_json(shop, "report", "customers", "--as-of", AS_OF)
    assert list(data) == ["as_of", "window", "customers"]
    assert [c["code"] for c in data["customers"]] == ["C1", "C2", "C3", "C4"]
    assert all(list(c) == CUSTOMER_KEYS for c in data["customers"])
    assert_typed(data)
    c2 = data["customers"][1]  # only a refunded order: no RFM, no status, class C
    assert (c2["r"], c2["segment"], c2["status"], c2["abc"], c2["tier"]) == (None, None, None, "C", "regular")
    header, rows = as_csv(shop, "report", "customers", "--as-of", AS_OF)
    assert header == CUSTOMER_KEYS
    assert [r["code"] for r in rows] == ["C1", "C2", "C3", "C4"]
    assert rows[0]["window_revenue"] == "350.00" and rows[0]["median_gap_days"] == "23.0"
    assert rows[1]["r"] == "" and rows[1]["status"] == ""  # null is an empty cell


def test_at_risk_json_and_csv(shop: Cli) -> None:
    data = as_json(shop, "report", "at-risk", "--as-of", AS_OF)
    assert list(data) == ["as_of", "window", "customers"]
    # C3 bought on 03-09 and 03-10: median gap 1 day, 22 days silent > 2 × 1
    assert [c["code"] for c in data["customers"]] == ["C3"]
    assert set(CUSTOMER_KEYS) <= set(data["customers"][0])
    assert set(data["customers"][0]) - set(CUSTOMER_KEYS) <= {"p_alive"}
    header, rows = as_csv(shop, "report", "at-risk", "--as-of", AS_OF)
    assert header == list(data["customers"][0])
    assert [r["code"] for r in rows] == ["C3"]


def test_segments_json_and_csv(shop: Cli) -> None:
    data = as_json(shop, "report", "segments", "--as-of", AS_OF)
    assert list(data) == ["as_of", "window", "groups"]
    assert {g["kind"] for g in data["groups"]} == {"abc", "tier", "rfm_segment"}
    assert all(list(g) == ["kind", "key", "customers", "revenue", "revenue_share"] for g in data["groups"])
    assert_typed(data)
    abc = {
        g["key"]: (g["customers"], g["revenue"], g["revenue_share"])
        for g in data["groups"]
        if g["kind"] == "abc"
    }
    # window revenue: C1 350.00, C4 99.99, C3 0.30, C2 0 — 450.29 in all.
    # C1 A (before 0); C4 before 350/450.29 = 0.777 → A; C3 before 449.99/450.29 = 0.9993 → C; C2 C
    assert abc == {"A": (2, "449.99", 0.9993), "B": (0, "0.00", 0.0), "C": (2, "0.30", 0.0007)}
    rfm_customers = sum(g["customers"] for g in data["groups"] if g["kind"] == "rfm_segment")
    assert rfm_customers == 3  # C1, C3, C4 bought in the window
    header, rows = as_csv(shop, "report", "segments", "--as-of", AS_OF)
    assert header == ["kind", "key", "customers", "revenue", "revenue_share"]
    assert len(rows) == len(data["groups"])


def test_cohorts_json_and_long_csv(shop: Cli) -> None:
    data = as_json(shop, "report", "cohorts", "--as-of", AS_OF)
    assert list(data) == ["as_of", "cohorts"]
    # January: C4 (active in January and March); February: C1 (February, March); March: C3
    assert data["cohorts"] == [
        {"cohort": "2025-01", "size": 1, "active": [1, 0, 1], "shares": [1.0, 0.0, 1.0]},
        {"cohort": "2025-02", "size": 1, "active": [1, 1], "shares": [1.0, 1.0]},
        {"cohort": "2025-03", "size": 1, "active": [1], "shares": [1.0]},
    ]
    header, rows = as_csv(shop, "report", "cohorts", "--as-of", AS_OF)
    assert header == ["cohort", "size", "month", "active", "share"]
    assert [(r["cohort"], r["month"], r["active"], r["share"]) for r in rows] == [
        ("2025-01", "0", "1", "1.0"),
        ("2025-01", "1", "0", "0.0"),
        ("2025-01", "2", "1", "1.0"),
        ("2025-02", "0", "1", "1.0"),
        ("2025-02", "1", "1", "1.0"),
        ("2025-03", "0", "1", "1.0"),
    ]


def test_trend_json_and_csv(shop: Cli) -> None:
    data = as_json(shop, "report", "trend", "--as-of", AS_OF, "--periods", "3")
    assert list(data) == ["as_of", "periods"]
    assert [p["period"] for p in data["periods"]] == ["2025-01", "2025-02", "2025-03"]
    assert all(list(p) == ["period", "start", "end", *KPI_KEYS] for p in data["periods"])
    assert_typed(data)
    header, rows = as_csv(shop, "report", "trend", "--as-of", AS_OF, "--periods", "3")
    assert header == list(data["periods"][0])
    assert [r["revenue"] for r in rows] == ["33.33", "100.00", "316.96"]


def test_customer_show_json_and_csv(shop: Cli) -> None:
    data = as_json(shop, "customer", "show", "C4", "--as-of", AS_OF)
    assert list(data) == ["as_of", "customer", "tier_history", "last_orders"]
    extra = {"phone", "email", "joined_on", "birthday"}
    assert set(CUSTOMER_KEYS) | extra <= set(data["customer"])
    assert set(data["customer"]) - set(CUSTOMER_KEYS) - extra <= {"p_alive"}
    assert data["last_orders"] == [
        {
            "order_no": "S7",
            "order_date": "2025-03-20",
            "amount": "66.67",
            "net_amount": "66.66",
            "status": "refunded",
        },
        {
            "order_no": "S6",
            "order_date": "2025-01-15",
            "amount": "33.33",
            "net_amount": "33.33",
            "status": "completed",
        },
    ]
    assert data["tier_history"] == []
    header, rows = as_csv(shop, "customer", "show", "C4", "--as-of", AS_OF)
    assert header == list(data["customer"]) and len(rows) == 1
    missing = shop("customer", "show", "NOPE", "--as-of", AS_OF)
    assert missing.exit_code == 1 and "NOPE" in missing.stderr and "Traceback" not in missing.stderr


def test_top_customers_biggest_first_ties_by_code(cli: Cli, tmp_path: Path) -> None:
    load(
        cli,
        tmp_path / "o.csv",
        [
            ["T1", "B", "2025-03-01", "50.00", "", ""],
            ["T2", "A", "2025-03-01", "50.00", "", ""],
            ["T3", "C", "2025-03-01", "70.00", "", ""],
            ["T4", "D", "2025-03-01", "10.00", "", ""],
        ],
    )
    data = as_json(cli, "report", "--as-of", AS_OF, "--top", "3")
    assert [c["code"] for c in data["top_customers"]] == ["C", "A", "B"]


# --- tables ---------------------------------------------------------------------------------------


def test_table_output_is_readable(shop: Cli) -> None:
    text = run(shop, "report", "--as-of", AS_OF)
    assert "2025-03" in text and "2025-02" in text
    assert "¥316.96" in text and "¥100.00" in text
    assert "Retention rate" in text and "Average historical CLV" in text
    kpis = run(shop, "report", "kpis", "--as-of", AS_OF)
    assert "Average order value" in kpis and "¥79.24" in kpis
    customers = run(shop, "report", "customers", "--as-of", AS_OF)
    assert "C1" in customers and "¥350.00" in customers
    card = run(shop, "customer", "show", "C1", "--as-of", AS_OF)
    assert "C1" in card and "¥350.00" in card


# --- an empty database ----------------------------------------------------------------------------

PARTS = [[], ["kpis"], ["segments"], ["customers"], ["at-risk"], ["cohorts"], ["trend"]]


def test_an_empty_database_gives_a_friendly_report(cli: Cli) -> None:
    problems = []
    for part in PARTS:
        for output in ("table", "json", "csv"):
            result = cli("report", *part, "--as-of", AS_OF, "--format", output)
            name = f"report {' '.join(part) or '(summary)'} --format {output}"
            if (
                result.exit_code != 0
                or "Traceback" in result.stdout + result.stderr
                or "Error" in result.stderr
            ):
                problems.append(f"{name}: exit {result.exit_code}: {result.stderr.strip()[:200]}")
            elif output == "json":
                data = json.loads(result.stdout)
                assert data["as_of"] == AS_OF, name
                assert_typed(data)
            elif output == "table" and not result.stdout.strip():
                problems.append(f"{name}: printed nothing")
    assert problems == []


def test_empty_database_summary_says_there_are_no_orders(cli: Cli) -> None:
    result = cli("report", "--as-of", AS_OF)
    assert result.exit_code == 0
    assert "No orders before the as-of date" in result.stdout + result.stderr
    assert "—" in result.stdout  # AOV and the ratios cannot be computed: a dash, not an error
    data = as_json(cli, "report", "--as-of", AS_OF)
    assert data["kpis"]["current"]["aov"] is None and data["kpis"]["current"]["revenue"] == "0.00"
    assert data["customers"] == 0 and data["top_customers"] == []


def test_an_empty_csv_list_still_has_its_header(cli: Cli) -> None:
    # A script reading the CSV needs the field names even when there are no rows (e.g. nobody at risk).
    expected = {
        "customers": CUSTOMER_KEYS,
        "at-risk": [*CUSTOMER_KEYS, "p_alive"],
        "cohorts": ["cohort", "size", "month", "active", "share"],
    }
    got = {part: as_csv(cli, "report", part, "--as-of", AS_OF) for part in expected}
    assert got == {part: (header, []) for part, header in expected.items()}


# --- settings -------------------------------------------------------------------------------------


def test_config_init_writes_the_defaults_config_show_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)  # no ./cpm.toml here
    without = json.loads(runner.invoke(app, ["config", "show", "--json"]).stdout)
    assert without["source"] == "built-in defaults"
    path = tmp_path / "shop.toml"
    written = runner.invoke(app, ["config", "init", str(path)])
    assert written.exit_code == 0, written.stderr
    assert path.read_text(encoding="utf-8").startswith("#")
    shown = runner.invoke(app, ["--config", str(path), "config", "show", "--json"])
    assert shown.exit_code == 0, shown.stderr
    with_file = json.loads(shown.stdout)
    assert with_file["source"] == str(path)
    assert with_file["version"] == without["version"]
    assert with_file["settings"] == without["settings"]
    table = runner.invoke(app, ["--config", str(path), "config", "show"])
    assert f"version: {without['version']}" in table.stdout
    again = runner.invoke(app, ["config", "init", str(path)])
    assert again.exit_code == 1 and "--force" in again.stderr


BAD_SETTINGS = {
    "currency = 'CNY'\n[abc\na = 0.5\n": "not valid TOML",
    "[abc]\na = 1.5\n": "abc.a",
    "[tiers]\nvipp = 1\n": "tiers.vipp",
    "window_days = 0\n": "window_days",
    "[abc]\na = 0.9\nb = 0.85\n": "abc.b",
    # TOML has inf and nan; Decimal reads "Infinity" and "sNaN": none is a number a shop can use.
    "[points]\nrate = inf\n": "points.rate",
    "[points]\nrate = nan\n": "points.rate",
    "[points]\nrate = 'Infinity'\n": "points.rate",
    "[points]\nminimum_order = 'Infinity'\n": "points.minimum_order",
    "[points]\nminimum_order = inf\n": "points.minimum_order",
    "[points]\nminimum_order = 'sNaN'\n": "points.minimum_order",
    "[points]\nminimum_order = '100000000000000000'\n": "points.minimum_order",
    "[tiers]\nvip = inf\n": "tiers.vip",
    "[churn]\nat_risk_factor = inf\n": "churn.at_risk_factor",
    # Exponents far out of range are refused before any arithmetic (no overflow, no long wait),
    # and a tiny amount is not rounded to 0.00 and taken.
    "[tiers]\nvip = '1e999999'\n": "tiers.vip",
    "[points]\nminimum_order = '1e999999'\n": "points.minimum_order",
    "[points]\nminimum_order = '1e-999999999'\n": "points.minimum_order",
    "[points]\nrate = '1e999999999'\n": "points.rate",
    "[abc]\na = '1e-999999999'\n": "abc.a",
}


def test_a_bad_settings_file_stops_every_command_naming_the_key(cli: Cli, tmp_path: Path) -> None:
    for n, (text, named) in enumerate(BAD_SETTINGS.items()):
        path = tmp_path / f"bad{n}.toml"
        path.write_text(text, encoding="utf-8")
        for args in (
            ["report", "--as-of", AS_OF],
            ["report", "customers", "--as-of", AS_OF],
            ["config", "show"],
        ):
            result = cli("--config", str(path), *args)
            assert result.exit_code == 1, (text, args, result.stdout)
            assert result.stderr.startswith("Error: "), result.stderr
            assert named in result.stderr, (text, result.stderr)
            assert "Traceback" not in result.stdout + result.stderr


ABC_SHOP = [
    ["A1", "K1", "2025-03-01", "60.00", "", ""],
    ["A2", "K2", "2025-03-02", "25.00", "", ""],
    ["A3", "K3", "2025-03-03", "15.00", "", ""],
]


def classes(cli: Cli, *args: str) -> dict[str, str]:
    data = as_json(cli, *args, "report", "customers", "--as-of", AS_OF)
    return {c["code"]: c["abc"] for c in data["customers"]}


def test_abc_thresholds_come_from_the_settings_file(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(cli, tmp_path / "o.csv", ABC_SHOP)
    # defaults: K1 before 0 → A; K2 before 0.60 → A; K3 before 0.85 → B
    assert classes(cli) == {"K1": "A", "K2": "A", "K3": "B"}
    path = tmp_path / "half.toml"
    path.write_text("[abc]\na = 0.5\n", encoding="utf-8")
    # a = 0.5: K2 before 0.60 → B; K3 before 0.85 → B
    assert classes(cli, "--config", str(path)) == {"K1": "A", "K2": "B", "K3": "B"}
    default_version = as_json(cli, "report", "--as-of", AS_OF)["settings_version"]
    assert (
        as_json(cli, "--config", str(path), "report", "--as-of", AS_OF)["settings_version"] != default_version
    )
    # ./cpm.toml is read when present
    (tmp_path / "cpm.toml").write_text("[abc]\na = 0.5\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert classes(cli) == {"K1": "A", "K2": "B", "K3": "B"}


# --- property: the import order does not matter ---------------------------------------------------

CODES = ["C1", "C2", "C10", "B7", "a"]
START = date(2024, 3, 25)


@st.composite
def order_sets(draw: st.DrawFn) -> tuple[list[list[str]], list[int]]:
    count = draw(st.integers(min_value=1, max_value=12))
    orders = []
    for n in range(count):
        amount = draw(st.sampled_from([1, 999, 2500, 5000, 12345, 600000]))  # cents; repeats make ties
        status = draw(st.sampled_from(["completed", "completed", "completed", "refunded", "cancelled"]))
        refund = draw(st.sampled_from(["", "", "0.01"])) if status == "refunded" and amount > 1 else ""
        orders.append(
            [
                f"O{n}",
                draw(st.sampled_from(CODES)),
                (START + timedelta(days=draw(st.sampled_from([0, 7, 8, 100, 300, 370])))).isoformat(),
                f"{amount // 100}.{amount % 100:02d}",
                status,
                refund,
            ]
        )
    permutation = draw(st.permutations(range(count)))
    return orders, list(permutation)


def empty_database(folder: Path) -> Path:
    """A new, migrated, empty database file in `folder`."""
    target = Database.from_option(str(folder / "shop.db"))
    database.create_database_file(target)
    database.upgrade(target)
    database.dispose_engines()
    assert target.path is not None and not Path(f"{target.path}-wal").exists()
    return target.path


def customers_report(template: Path, folder: Path, orders: list[list[str]]) -> str:
    """Import `orders` into a fresh copy of the empty `template` and return `report customers` JSON."""
    path = Path(shutil.copy(template, folder / "shop.db"))
    runner = CliRunner()
    source = write_csv(folder / "o.csv", [HEADER, *orders])
    imported = runner.invoke(app, ["--db", str(path), "import", "orders", str(source)])
    assert imported.exit_code == 0, imported.stderr
    result = runner.invoke(
        app, ["--db", str(path), "report", "customers", "--as-of", AS_OF, "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    database.dispose_engines()
    return str(result.stdout)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return empty_database(tmp_path_factory.mktemp("template"))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=order_sets())
def test_abc_and_rfm_do_not_depend_on_import_order(
    template: Path, tmp_path_factory: pytest.TempPathFactory, case: tuple[list[list[str]], list[int]]
) -> None:
    # every example starts from two empty databases (copies of a migrated, empty file)
    orders, permutation = case
    first = customers_report(template, tmp_path_factory.mktemp("in_order"), orders)
    second = customers_report(template, tmp_path_factory.mktemp("shuffled"), [orders[i] for i in permutation])
    assert first == second
    # and the classes are what the definition says: every customer is A, B or C, RFM 1–5 or null
    for customer in json.loads(first)["customers"]:
        assert customer["abc"] in {"A", "B", "C"}
        assert all(customer[k] is None or 1 <= customer[k] <= 5 for k in ("r", "f", "m"))


def test_kpi_changes_show_an_arrow_and_the_amount_not_markup(shop: Cli) -> None:
    out = run(shop, "report", "kpis", "--as-of", AS_OF)
    changes = [line for line in out.splitlines() if "▲" in line or "▼" in line]
    assert changes, out
    assert "[red]" not in out and "[green]" not in out and "[/" not in out
