"""Platform status words, pending orders, and the owner's own words (--status-map, cpm.toml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpm.db import Database
from cpm.io.values import BadValue, parse_status
from tests.conftest import Cli, table_rows, write_csv, write_xlsx

HEADER = ["订单编号", "会员编号", "下单时间", "实付金额", "订单状态"]


@pytest.mark.parametrize(
    ("word", "status"),
    [
        # Taobao / Tmall
        ("等待买家付款", "pending"),
        ("买家已付款", "completed"),
        ("等待卖家发货", "completed"),
        ("卖家已发货", "completed"),
        ("等待买家确认收货", "completed"),
        ("交易成功", "completed"),
        ("交易关闭", "cancelled"),
        ("退款中", "completed"),
        # JD
        ("等待付款", "pending"),
        ("等待出库", "completed"),
        ("完成", "completed"),
        ("已取消", "cancelled"),
        # Pinduoduo
        ("待支付", "pending"),
        ("已发货待签收", "completed"),
        ("已签收", "completed"),
        ("未发货退款成功", "refunded"),
        # Youzan / WeChat mini-shop
        ("待付款", "pending"),
        ("待发货", "completed"),
        ("待收货", "completed"),
        ("待成团", "pending"),
        ("售后中", "completed"),
        # Shopify / WooCommerce
        ("Pending", "pending"),
        ("pending-payment", "pending"),
        ("on-hold", "pending"),
        ("ON_HOLD", "pending"),
        ("failed", "pending"),
        ("Processing", "completed"),
        ("partially_refunded", "completed"),
        ("Fulfilled", "completed"),
        ("voided", "cancelled"),
        ("ｓｈｉｐｐｅｄ", "completed"),
    ],
)
def test_platform_words_mean_what_the_platform_means(word: str, status: str) -> None:
    assert parse_status(word) == status


def test_the_owners_words_come_first_and_unknown_words_say_how_to_map_them() -> None:
    assert parse_status("已发货", {"已发货": "pending"}) == "pending"
    assert parse_status("待审核", {"待审核": "pending"}) == "pending"
    with pytest.raises(BadValue, match='--status-map "待审核=completed"'):
        parse_status("待审核")


def _kpis(cli: Cli, as_of: str) -> dict[str, object]:
    result = cli("report", "kpis", "--as-of", as_of, "--format", "json")
    assert result.exit_code == 0, result.output
    current = json.loads(result.stdout)["current"]
    assert isinstance(current, dict)
    return current


def _balance(db: Database, code: str) -> int:
    [(points,)] = table_rows(
        db,
        "SELECT COALESCE(SUM(l.points), 0) FROM customers c "
        f"LEFT JOIN points_ledger l ON l.customer_id = c.id WHERE c.customer_code = '{code}'",
    )
    return int(points)


def test_a_pending_order_is_stored_counted_nowhere_and_counts_once_it_is_paid(cli: Cli, db: Database) -> None:
    first = write_xlsx(
        cli.cwd / "订单.xlsx",
        [
            HEADER,
            ["T1", "M1", "2026-10-05", "100.00", "等待买家付款"],
            ["T2", "M1", "2026-10-06", "50.00", "卖家已发货"],
            ["T3", "M2", "2026-10-07", "80.00", "on-hold"],
            ["T4", "M2", "2026-10-08", "20.00", "退款中"],
        ],
    )
    assert cli("import", "orders", str(first)).exit_code == 0
    assert table_rows(db, "SELECT order_no, status, net_amount FROM orders ORDER BY order_no") == [
        ("T1", "pending", 0),
        ("T2", "completed", 5000),
        ("T3", "pending", 0),
        ("T4", "completed", 2000),
    ]
    current = _kpis(cli, "2026-11-01")
    assert (current["revenue"], current["orders"], current["active_customers"]) == ("70.00", 2, 2)
    assert cli("award", "--as-of", "2026-11-01").exit_code == 0
    assert (_balance(db, "M1"), _balance(db, "M2")) == (50, 20)  # 1 point per yuan, pending earn none

    # The next export: T1 paid and on its way, T3 still on hold, T4's refund arrived.
    second = write_xlsx(
        cli.cwd / "订单2.xlsx",
        [
            HEADER,
            ["T1", "M1", "2026-10-05", "100.00", "待发货"],
            ["T2", "M1", "2026-10-06", "50.00", "交易成功"],
            ["T3", "M2", "2026-10-07", "80.00", "on-hold"],
            ["T4", "M2", "2026-10-08", "20.00", "退款成功"],
        ],
    )
    assert cli("import", "orders", str(second)).exit_code == 0
    current = _kpis(cli, "2026-11-01")
    assert (current["revenue"], current["orders"], current["active_customers"]) == ("150.00", 2, 1)
    assert cli("award", "--as-of", "2026-11-01").exit_code == 0
    assert (_balance(db, "M1"), _balance(db, "M2")) == (150, 0)


def test_a_pending_line_inside_a_paid_order_is_not_counted(cli: Cli, db: Database) -> None:
    path = write_csv(
        cli.cwd / "lines.csv",
        [
            HEADER,
            ["T9", "M1", "2026-10-05", "60.00", "已付款"],
            ["T9", "M1", "2026-10-05", "40.00", "待付款"],
        ],
    )
    assert cli("import", "orders", str(path)).exit_code == 0
    assert table_rows(db, "SELECT status, amount, refunded_amount, net_amount FROM orders") == [
        ("completed", 10000, 4000, 6000)
    ]


def test_status_map_adds_and_overrides_words_for_one_import(cli: Cli, db: Database) -> None:
    path = write_csv(
        cli.cwd / "orders.csv",
        [
            HEADER,
            ["T1", "M1", "2026-10-05", "10.00", "待审核"],
            ["T2", "M1", "2026-10-06", "20.00", "已发货"],
        ],
    )
    refused = cli("import", "orders", str(path))
    assert refused.exit_code == 1
    assert "row 2" in refused.output and "'待审核'" in refused.output
    assert '--status-map "待审核=completed"' in refused.output
    assert table_rows(db, "SELECT COUNT(*) FROM orders") == [(0,)]

    done = cli(
        "import", "orders", str(path), "--status-map", "待审核=pending", "--status-map", " 已发货 = Cancelled"
    )
    assert done.exit_code == 0, done.output
    assert table_rows(db, "SELECT order_no, status FROM orders ORDER BY order_no") == [
        ("T1", "pending"),
        ("T2", "cancelled"),
    ]


def test_cpm_toml_status_words_apply_and_status_map_wins(cli: Cli, db: Database) -> None:
    (cli.cwd / "cpm.toml").write_text(
        '[import.status_words]\n"待审核" = "pending"\n"Shipped" = "cancelled"\n'
    )
    config = str(cli.cwd / "cpm.toml")
    path = write_csv(
        cli.cwd / "orders.csv",
        [
            HEADER,
            ["T1", "M1", "2026-10-05", "10.00", "待审核"],
            ["T2", "M1", "2026-10-06", "20.00", "SHIPPED"],
        ],
    )
    assert cli("--config", config, "import", "orders", str(path)).exit_code == 0
    assert table_rows(db, "SELECT order_no, status FROM orders ORDER BY order_no") == [
        ("T1", "pending"),
        ("T2", "cancelled"),
    ]
    # The same file under another status map is read again, not taken as "nothing to read".
    again = cli("--config", config, "import", "orders", str(path), "--status-map", "待审核=completed")
    assert again.exit_code == 0
    assert "Nothing to read" not in again.output
    assert table_rows(db, "SELECT order_no, status, net_amount FROM orders ORDER BY order_no") == [
        ("T1", "completed", 1000),
        ("T2", "cancelled", 0),
    ]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("已发货", 'should look like "status word=completed"'),
        ("=completed", 'should look like "status word=completed"'),
        ("已发货=shipped", "'shipped' is not a status"),
        ("已发货=", "'' is not a status"),
        ("a\u202eb=completed", 'should look like "status word=completed"'),
    ],
)
def test_a_bad_status_map_is_a_usage_error_naming_the_option(
    cli: Cli, db: Database, value: str, said: str
) -> None:
    path = write_csv(cli.cwd / "orders.csv", [HEADER, ["T1", "M1", "2026-10-05", "10.00", "已发货"]])
    result = cli("import", "orders", str(path), "--status-map", value)
    assert result.exit_code == 2
    assert "--status-map" in result.output and said in result.output
    assert "Traceback" not in result.output
    assert table_rows(db, "SELECT COUNT(*) FROM orders") == [(0,)]


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        (
            '[import.status_words]\n"已发货" = "shipped"\n',
            "must be one of completed, refunded, cancelled, pending",
        ),
        ('[import.status_words]\n"已发货" = 1\n', "must be one of"),
        (
            '[import.status_words]\n"On-Hold" = "pending"\n"on hold" = "completed"\n',
            "is the same word as 'On-Hold'",
        ),
        ('[import.status_words]\n" " = "pending"\n', "must be a status word"),
        ('[import]\nstatus_words = "x"\n', "must be a table"),
        ("[import]\nwords = {}\n", "is not a cpm setting"),
    ],
)
def test_bad_status_words_in_cpm_toml_are_refused(cli: Cli, tmp_path: Path, toml: str, said: str) -> None:
    config = tmp_path / "cpm.toml"
    config.write_text(toml)
    path = write_csv(cli.cwd / "orders.csv", [HEADER, ["T1", "M1", "2026-10-05", "10.00", "已发货"]])
    result = cli("--config", str(config), "import", "orders", str(path))
    assert result.exit_code == 1
    assert said in result.output and "import." in result.output
    assert "Traceback" not in result.output
