"""`cpm customer edit|merge|remove|forget|list|find` end to end (README, Correcting customers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from cpm.db import Database
from tests.conftest import Cli, snapshot, table_rows, write_csv

ROOT = Path(__file__).resolve().parent.parent.parent
CUSTOMERS = [
    ["customer_code", "name", "phone", "email", "city", "sales_rep"],
    ["C1", "王芳", "+86 138-0013-8000", "wf@example.com", "上海", "Li"],
    ["C2", "Wang Fang", "13800138001", "", "Beijing", "Li"],
    ["C3", "Bob", "021 6234 5678", "", "上海", "Zhao"],
    ["C4", "Nobody", "", "", "", ""],
]
ORDERS = [
    ["order_no", "customer_code", "order_date", "amount"],
    ["O1", "C1", "2026-01-05", "100.00"],
    ["O2", "C2", "2026-02-05", "250.00"],
    ["O3", "C2", "2026-03-05", "80.00"],
    ["O4", "C3", "2026-03-06", "10.00"],
]


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def shop(cli: Cli, tmp_path: Path) -> Cli:
    ok(cli("import", "customers", str(write_csv(tmp_path / "customers.csv", CUSTOMERS))))
    ok(cli("import", "orders", str(write_csv(tmp_path / "orders.csv", ORDERS))))
    ok(cli("award", "--as-of", "2026-04-01"))
    return cli


def corrections(db: Database) -> list[tuple[Any, ...]]:
    return table_rows(
        db,
        "SELECT action, c.customer_code, field, old_value, new_value, reason FROM corrections k"
        " LEFT JOIN customers c ON c.id = k.customer_id ORDER BY k.id",
    )


def customer(db: Database, code: str) -> tuple[Any, ...]:
    return table_rows(
        db,
        "SELECT name, phone, email, city, birthday, sales_rep, tags, forgotten_at IS NOT NULL"
        f" FROM customers WHERE customer_code = '{code}'",
    )[0]


# --- edit ---------------------------------------------------------------------------------------


def test_edit_records_each_changed_field_with_its_old_value_and_reason(shop: Cli, db: Database) -> None:
    result = ok(
        shop(
            "customer",
            "edit",
            "C1",
            "--name",
            "王芳芳",
            "--city",
            "上海",
            "--birthday",
            "1990-05-17",
            "--phone",
            "",
            "--reason",
            "called in",
        )
    )
    assert "C1: name '王芳' → '王芳芳'" in result.stdout
    assert "C1: birthday (empty) → '1990-05-17'" in result.stdout
    assert "C1: phone '+86 138-0013-8000' → (empty)" in result.stdout
    assert "city already had that value; unchanged" in result.stderr
    assert customer(db, "C1")[:5] == ("王芳芳", None, "wf@example.com", "上海", "1990-05-17")
    assert [row for row in corrections(db) if row[0] == "edit"] == [
        ("edit", "C1", "name", "王芳", "王芳芳", "called in"),
        ("edit", "C1", "phone", "+86 138-0013-8000", None, "called in"),
        ("edit", "C1", "birthday", None, "1990-05-17", "called in"),
    ]
    made_at = table_rows(db, "SELECT made_at FROM corrections")
    assert all(value is not None for (value,) in made_at)


def test_edit_to_the_current_value_changes_nothing_and_says_so(shop: Cli, db: Database) -> None:
    before = snapshot(db)
    result = ok(shop("customer", "edit", "C2", "--city", "Beijing", "--rep", "Li"))
    assert "city, sales_rep already had that value" in result.stderr
    assert "Nothing changed." in result.stderr
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--phone", "call me", "expected a phone number"),
        ("--birthday", "1990-13-45", "expected a date"),
        ("--joined-on", "yesterday", "expected a date"),
        ("--email", "not an address", "expected an e-mail address"),
        ("--name", "x" * 201, "at most 200"),
        ("--city", "Shang\u202ehai", "invisible character U+202E"),
    ],
)
def test_edit_refuses_a_bad_value_naming_the_option(
    shop: Cli, db: Database, option: str, value: str, said: str
) -> None:
    before = snapshot(db)
    result = shop("customer", "edit", "C1", option, value)
    assert result.exit_code == 2
    assert option in result.stderr and said in result.stderr
    assert "Traceback" not in result.output
    assert snapshot(db) == before


def test_edit_without_a_change_or_of_an_unknown_code_is_refused(shop: Cli, db: Database) -> None:
    before = snapshot(db)
    assert shop("customer", "edit", "C1").exit_code == 2
    result = shop("customer", "edit", "C9", "--name", "x")
    assert result.exit_code == 1
    assert "no customer with code 'C9'" in result.stderr
    assert snapshot(db) == before


# --- merge --------------------------------------------------------------------------------------


def test_merge_moves_orders_and_points_and_the_old_code_names_the_new_customer(
    shop: Cli, db: Database, tmp_path: Path
) -> None:
    before = json.loads(ok(shop("points", "balance", "--format", "json")).stdout)["customers"]
    assert {c["code"]: c["balance"] for c in before} == {"C1": 100, "C2": 330, "C3": 10}
    result = ok(shop("customer", "merge", "C2", "C1", "--reason", "same person"))
    assert "Merged C2 into C1: 2 orders, 330 points in 2 lots and 0 tier changes moved." in result.stdout
    assert table_rows(
        db,
        "SELECT order_no, c.customer_code FROM orders o JOIN customers c ON c.id = "
        "o.customer_id ORDER BY order_no",
    ) == [("O1", "C1"), ("O2", "C1"), ("O3", "C1"), ("O4", "C3")]
    after = json.loads(ok(shop("points", "balance", "--format", "json")).stdout)["customers"]
    assert {c["code"]: c["balance"] for c in after} == {"C1": 430, "C3": 10}
    assert ("merge", "C2", "merged_into", "C2", "C1", "same person") in corrections(db)
    # The next award finds nothing to do.
    award = json.loads(ok(shop("award", "--as-of", "2026-04-02", "--format", "json")).stdout)
    assert award["orders_earned"] == award["orders_corrected"] == award["points_reversed"] == 0
    # Commands and imports under C2 reach C1.
    ok(shop("points", "adjust", "C2", "5", "--reason", "old card"))
    assert table_rows(
        db,
        "SELECT c.customer_code, l.points FROM points_ledger l JOIN customers c"
        " ON c.id = l.customer_id WHERE l.kind = 'adjust'",
    ) == [("C1", 5)]
    card = json.loads(ok(shop("customer", "show", "C2", "--as-of", "2026-04-01", "--format", "json")).stdout)
    assert card["customer"]["code"] == "C1" and card["customer"]["lifetime_orders"] == 3
    ok(
        shop(
            "import",
            "orders",
            str(write_csv(tmp_path / "more.csv", [ORDERS[0], ["O5", "C2", "2026-03-20", "5.00"]])),
        )
    )
    assert table_rows(
        db,
        "SELECT c.customer_code FROM orders o JOIN customers c ON c.id = o.customer_id WHERE order_no = 'O5'",
    ) == [("C1",)]
    changed = [CUSTOMERS[0], ["C2", "Wang Fang", "13800138001", "", "Shenzhen", "Li"]]
    ok(shop("import", "customers", str(write_csv(tmp_path / "again.csv", changed))))
    assert customer(db, "C1")[3] == "Shenzhen"  # the row under C2 updated C1 …
    assert table_rows(
        db, "SELECT city, removed_at IS NOT NULL FROM customers WHERE customer_code = 'C2'"
    ) == [
        ("Beijing", 1)  # … and left C2 removed as it was
    ]


def test_a_row_under_the_customers_own_code_wins_over_one_under_a_merged_code(
    shop: Cli, db: Database, tmp_path: Path
) -> None:
    ok(shop("customer", "merge", "C2", "C1"))
    rows = [CUSTOMERS[0], ["C2", "Old", "", "", "Beijing", "Li"], ["C1", "王芳", "", "", "Hangzhou", "Li"]]
    ok(shop("import", "customers", str(write_csv(tmp_path / "both.csv", rows))))
    assert customer(db, "C1")[0::3][:2] == ("王芳", "Hangzhou")


def test_merge_is_refused_into_itself_or_from_or_into_a_merged_customer(shop: Cli, db: Database) -> None:
    before = snapshot(db)
    result = shop("customer", "merge", "C1", "ｃ1".upper())
    assert result.exit_code == 1 and "same customer" in result.stderr
    assert snapshot(db) == before
    ok(shop("customer", "merge", "C2", "C1"))
    before = snapshot(db)
    for old, new in (("C2", "C3"), ("C3", "C2")):
        result = shop("customer", "merge", old, new)
        assert result.exit_code == 1
        assert "no customer with code 'C2': it was merged into C1" in result.stderr
        assert "Use C1." in result.stderr
    assert shop("customer", "merge", "C9", "C1").exit_code == 1
    assert snapshot(db) == before


def test_a_merged_away_customer_is_counted_by_no_report_list_or_workbook(
    shop: Cli, db: Database, tmp_path: Path
) -> None:
    def report() -> dict[str, Any]:
        return json.loads(ok(shop("report", "--as-of", "2026-04-01", "--format", "json")).stdout)

    before = report()
    assert before["customers"] == 4
    ok(shop("customer", "merge", "C2", "C1"))
    after = report()
    assert after["customers"] == 3
    assert sum(g["customers"] for g in after["abc"]) == 3
    assert after["kpis"]["current"]["revenue"] == before["kpis"]["current"]["revenue"]
    top = {c["code"]: c for c in after["top_customers"]}
    assert top["C1"]["window_revenue"] == "430.00" and "C2" not in top
    listed = json.loads(ok(shop("customer", "list", "--as-of", "2026-04-01", "--format", "json")).stdout)
    assert [c["code"] for c in listed["customers"]] == ["C1", "C3", "C4"]
    book = tmp_path / "meeting.xlsx"
    ok(shop("report", "--as-of", "2026-04-01", "--xlsx", str(book)))
    codes = [
        row[0] for row in openpyxl.load_workbook(book)["Customers"].iter_rows(min_row=2, values_only=True)
    ]
    assert sorted(codes) == ["C1", "C3", "C4"]


def test_merging_the_sample_shops_customers_keeps_the_totals_and_adds_their_numbers(cli: Cli) -> None:
    data = ROOT / "sample_data"
    ok(cli("import", "customers", str(data / "customers.xlsx")))
    ok(cli("import", "orders", str(data / "orders.xlsx")))
    ok(cli("award", "--as-of", "2026-11-01", "--quiet"))

    def numbers() -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
        report = json.loads(ok(cli("report", "--as-of", "2026-11-01", "--format", "json")).stdout)
        rows = json.loads(ok(cli("report", "customers", "--as-of", "2026-11-01", "--format", "json")).stdout)
        points = json.loads(ok(cli("points", "balance", "--format", "json")).stdout)["customers"]
        return report, {c["code"]: c for c in rows["customers"]}, {p["code"]: p["balance"] for p in points}

    report, rows, points = numbers()
    old, new = rows["C0007"], rows["C0012"]
    ok(cli("customer", "merge", "C0007", "C0012", "--reason", "one person, two cards"))
    ok(cli("award", "--as-of", "2026-11-01", "--quiet"))
    report_after, rows_after, points_after = numbers()
    assert report_after["customers"] == report["customers"] - 1
    for period in ("current", "previous"):  # the money and the orders are the same; one buyer fewer
        for key in ("revenue", "orders", "aov"):
            assert report_after["kpis"][period][key] == report["kpis"][period][key]
    assert "C0007" not in rows_after
    merged = rows_after["C0012"]
    for key in ("lifetime_revenue", "window_revenue"):
        assert float(merged[key]) == pytest.approx(float(old[key]) + float(new[key]), abs=0.001)
    assert merged["lifetime_orders"] == old["lifetime_orders"] + new["lifetime_orders"]
    assert points_after["C0012"] == points.get("C0007", 0) + points.get("C0012", 0)
    assert sum(points_after.values()) == sum(points.values())


# --- remove -------------------------------------------------------------------------------------


def test_remove_deletes_a_customer_nothing_refers_to(shop: Cli, db: Database) -> None:
    result = ok(shop("customer", "remove", "C4", "--reason", "test row"))
    assert "Removed customer C4." in result.stdout
    assert table_rows(db, "SELECT COUNT(*) FROM customers WHERE customer_code = 'C4'") == [(0,)]
    assert corrections(db)[-1] == ("remove", None, "customer_code", "C4", None, "test row")


def test_remove_refuses_a_customer_with_orders_saying_what_refers_to_it(shop: Cli, db: Database) -> None:
    before = snapshot(db)
    result = shop("customer", "remove", "C2")
    assert result.exit_code == 1
    assert "customer C2 cannot be removed: 2 orders, 2 ledger rows refer to it" in result.stderr
    assert "cpm customer merge C2 CODE" in result.stderr and "cpm customer forget C2" in result.stderr
    assert snapshot(db) == before


# --- forget -------------------------------------------------------------------------------------


def test_forget_erases_the_personal_data_and_keeps_code_orders_and_points(
    shop: Cli, db: Database, tmp_path: Path
) -> None:
    ok(shop("customer", "edit", "C1", "--tags", "vip;老客户", "--phone", "139 0000 0000"))
    result = ok(shop("customer", "forget", "C1", "--reason", "asked by phone"))
    assert "Forgot C1: erased name, phone, email, city, tags." in result.stdout
    assert customer(db, "C1") == (None, None, None, None, None, "Li", None, 1)
    assert table_rows(
        db,
        "SELECT COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.customer_code = 'C1'",
    ) == [(1,)]
    balances = json.loads(ok(shop("points", "balance", "C1", "--format", "json")).stdout)["customers"]
    assert balances[0]["balance"] == 100
    # Nothing that was erased is still on record: not the edits' old and new values either.
    recorded = [
        value for row in table_rows(db, "SELECT old_value, new_value FROM corrections") for value in row
    ]
    assert not {"王芳", "+86 138-0013-8000", "139 0000 0000", "vip;老客户", "上海"} & set(recorded)
    assert corrections(db)[-1] == ("forget", "C1", None, None, None, "asked by phone")
    assert "already forgotten" in ok(shop("customer", "forget", "C1")).stderr


def test_imports_leave_a_forgotten_customer_erased_unless_told_to_restore(
    shop: Cli, db: Database, tmp_path: Path
) -> None:
    ok(shop("customer", "forget", "C1"))
    again = write_csv(tmp_path / "customers.csv", CUSTOMERS)  # the same export, read again
    ok(shop("import", "customers", str(again)))
    other = write_csv(tmp_path / "export2.csv", [*CUSTOMERS, ["C5", "New", "", "", "", "Li"]])
    ok(shop("import", "customers", str(other)))
    assert customer(db, "C1") == (None, None, None, None, None, "Li", None, 1)
    named = [
        ["order_no", "customer_code", "order_date", "amount", "customer_name"],
        ["O9", "C1", "2026-03-30", "1.00", "王芳"],
    ]
    ok(shop("import", "orders", str(write_csv(tmp_path / "named.csv", named))))
    assert customer(db, "C1")[0] is None
    ok(shop("import", "customers", str(other), "--restore-forgotten"))
    assert customer(db, "C1") == ("王芳", "+86 138-0013-8000", "wf@example.com", "上海", None, "Li", None, 0)


# --- list and find ------------------------------------------------------------------------------


def codes(result: Any) -> list[str]:
    return [c["code"] for c in json.loads(ok(result).stdout)["customers"]]


def test_list_filters_by_the_reports_tier_abc_status_rep_city_and_text(shop: Cli) -> None:
    def listed(*args: str) -> list[str]:
        return codes(shop("customer", "list", "--as-of", "2026-04-01", "--format", "json", *args))

    assert listed() == ["C1", "C2", "C3", "C4"]
    # ABC over the window (A while the share before the customer is under 80%, B under 95%):
    # C2 330 of 440 (0% before it), C1 100 (75% before), C3 10 (97.7%), C4 nothing.
    assert listed("--abc", "A") == ["C1", "C2"]
    assert listed("--abc", "b") == []
    assert listed("--abc", "C") == ["C3", "C4"]
    assert listed("--tier", "regular") == ["C1", "C2", "C3", "C4"]
    assert listed("--tier", "vip") == []
    assert listed("--city", "上海") == ["C1", "C3"]
    assert listed("--rep", "li") == ["C1", "C2"]
    assert listed("--city", "上海", "--rep", "Li") == ["C1"]
    assert listed("--search", "wang") == ["C2"]
    assert listed("--search", "8000") == ["C1"]
    assert listed("--limit", "2") == ["C1", "C2"]
    # On 2026-04-01 C1's one purchase is 86 days old (a single purchase may be silent 90 days),
    # C2's last is 27 days old (usual gap 28), C3's one is 26: all active; C4 never bought.
    assert listed("--status", "active") == ["C1", "C2", "C3"]
    assert listed("--status", "at-risk") == listed("--status", "lapsed") == []
    at_risk = codes(
        shop("customer", "list", "--as-of", "2026-04-10", "--status", "at-risk", "--format", "json")
    )
    assert at_risk == ["C1"]  # 95 days
    bad = shop("customer", "list", "--status", "sleeping")
    assert bad.exit_code == 2 and "--status" in bad.stderr


def test_list_as_csv_and_table(shop: Cli) -> None:
    csv_text = ok(
        shop("customer", "list", "--as-of", "2026-04-01", "--city", "Beijing", "--format", "csv")
    ).stdout
    header, row = csv_text.splitlines()[:2]
    assert header.startswith("code,name,city,sales_rep,tier,abc,") and header.endswith(",phone")
    assert row.startswith("C2,Wang Fang,Beijing,Li,regular,A,")
    table = ok(shop("customer", "list", "--as-of", "2026-04-01", "--rep", "Zhao")).stdout
    assert "1 of 4 customers as of 2026-04-01" in table and "021 6234 5678" in table


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("13800138000", ["C1"]),
        ("+86 138 0013 8000", ["C1"]),
        ("138-0013-8000", ["C1"]),
        ("0013 800", ["C1", "C2"]),
        ("62345678", ["C3"]),
        ("王", ["C1"]),
        ("fang", ["C2"]),
        ("c3", ["C3"]),
        ("C", ["C1", "C2", "C3", "C4"]),
    ],
)
def test_find_by_phone_digits_name_or_code(shop: Cli, text: str, found: list[str]) -> None:
    assert codes(shop("customer", "find", text, "--format", "json")) == found


def test_find_puts_an_exact_code_first_and_says_when_nothing_matches(shop: Cli, tmp_path: Path) -> None:
    rows = [CUSTOMERS[0], ["AC1", "Ann", "", "", "", ""]]
    ok(shop("import", "customers", str(write_csv(tmp_path / "more.csv", rows))))
    assert codes(shop("customer", "find", "C1", "--format", "json")) == ["C1", "AC1"]
    nothing = ok(shop("customer", "find", "nobody-here"))
    assert "none" in nothing.stderr
    assert shop("customer", "find", "  ").exit_code == 2
