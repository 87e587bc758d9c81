from pathlib import Path

from tests.conftest import Cli, table_rows, write_xlsx


def test_import_orders_then_reimport_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    orders = write_xlsx(
        tmp_path / "orders.xlsx",
        [
            ["订单号", "客户编号", "下单日期", "实付金额", "状态"],
            ["A1", "C1", "2024-01-05", "¥1,234.50", "已完成"],
            ["A2", "C2", "2024/1/6", 99.9, "已退款"],
            ["A1", "C1", "2024-01-05", "10", "已完成"],
        ],
    )
    first = cli("import", "orders", str(orders))
    assert first.exit_code == 0, first.output
    assert table_rows(
        cli_db(cli), "SELECT order_no, amount, net_amount, status FROM orders ORDER BY order_no"
    ) == [
        ("A1", 124450, 124450, "completed"),
        ("A2", 9990, 0, "refunded"),
    ]
    second = cli("import", "orders", str(orders))
    assert second.exit_code == 0
    assert "unchanged" in second.output


def cli_db(cli: Cli):  # type: ignore[no-untyped-def]
    from cpm.db import Database

    return Database.from_option(str(cli.db_path))
