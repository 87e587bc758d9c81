"""`cpm init`, `cpm db …`, and how every command treats a missing, old, locked or read-only file."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpm import __version__
from cpm import db as database
from cpm.cli.main import app
from cpm.db import Database
from tests.conftest import Cli, snapshot, table_rows, write_xlsx

runner = CliRunner()


def cpm(*args: str) -> object:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_init_creates_a_database_and_a_second_init_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    first = runner.invoke(app, ["--db", str(path), "init"])
    assert first.exit_code == 0 and "Created" in first.stderr
    again = runner.invoke(app, ["--db", str(path), "init"])
    assert again.exit_code == 0 and "already set up" in again.stderr
    check = runner.invoke(app, ["--db", str(path), "db", "check"])
    assert check.exit_code == 0
    assert "integrity: ok" in check.stdout and f"schema: {database.head_revision()}" in check.stdout


def test_init_refuses_a_file_holding_someone_elses_tables(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    result = runner.invoke(app, ["--db", str(path), "init"])
    assert result.exit_code == 1
    assert "not a cpm database" in result.stderr
    assert [r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")] == ["invoices"]


def test_init_into_a_missing_folder_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(tmp_path / "nope" / "shop.db"), "init"])
    assert result.exit_code == 1 and "does not exist" in result.stderr


@pytest.mark.parametrize(
    "command", [["imports"], ["import", "orders", "x.xlsx"], ["db", "upgrade"], ["db", "check"]]
)
def test_commands_on_a_missing_database_say_to_run_init(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "absent.db"
    result = runner.invoke(app, ["--db", str(path), *command])
    assert result.exit_code == 1
    assert "no database at" in result.stderr and "cpm init" in result.stderr
    assert not path.exists()


def test_an_out_of_date_database_is_refused_until_upgraded(db: Database, tmp_path: Path) -> None:
    assert db.path is not None
    conn = sqlite3.connect(db.path)
    conn.execute("UPDATE alembic_version SET version_num = '0000'")
    conn.commit()
    conn.close()
    database.dispose_engines()
    orders = write_xlsx(
        tmp_path / "o.xlsx", [["订单号", "客户编号", "日期", "金额"], ["S1", "C1", "2025-01-01", 1]]
    )
    result = runner.invoke(app, ["--db", str(db.path), "import", "orders", str(orders)])
    assert result.exit_code == 1
    assert "schema 0000" in result.stderr and "cpm db upgrade" in result.stderr
    check = runner.invoke(app, ["--db", str(db.path), "db", "check"])
    assert check.exit_code == 1 and "cpm db upgrade" in check.stderr


def test_a_locked_database_waits_then_fails_cleanly(
    cli: Cli, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPM_BUSY_TIMEOUT", "0.2")
    database.dispose_engines()
    orders = write_xlsx(
        tmp_path / "o.xlsx", [["订单号", "客户编号", "日期", "金额"], ["S1", "C1", "2025-01-01", 1]]
    )
    assert db.path is not None
    holder = sqlite3.connect(db.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another cpm writing
    try:
        result = cli("import", "orders", str(orders))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert "locked by another cpm command" in result.stderr and "Traceback" not in result.output
    assert table_rows(db, "SELECT COUNT(*) FROM orders") == [(0,)]


def test_a_read_only_database_is_an_error_not_a_traceback(db: Database, tmp_path: Path) -> None:
    assert db.path is not None
    before = snapshot(db)
    database.dispose_engines()
    orders = write_xlsx(
        tmp_path / "o.xlsx", [["订单号", "客户编号", "日期", "金额"], ["S1", "C1", "2025-01-01", 1]]
    )
    url = f"sqlite:///file:{db.path}?mode=ro&uri=true"
    result = runner.invoke(app, ["--db", url, "import", "orders", str(orders)])
    assert result.exit_code == 1
    assert "read-only" in result.stderr and "Traceback" not in result.output
    assert snapshot(db) == before


def test_version_and_quiet(cli: Cli, tmp_path: Path) -> None:
    version = cpm("--version")
    assert version.stdout.strip() == f"cpm {__version__}"
    orders = write_xlsx(
        tmp_path / "o.xlsx", [["订单号", "客户编号", "日期", "金额"], ["S1", "C1", "2025-01-01", 1]]
    )
    quiet = cli("--quiet", "import", "orders", str(orders))
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_dry_run_reports_counts_and_writes_nothing(cli: Cli, db: Database, tmp_path: Path) -> None:
    orders = write_xlsx(
        tmp_path / "o.xlsx",
        [
            ["订单号", "客户编号", "日期", "金额"],
            ["S1", "C1", "2025-01-01", 1],
            ["S2", "C2", "2025-01-01", 1],
        ],
    )
    before = snapshot(db)
    result = cli("import", "orders", str(orders), "--dry-run")
    assert result.exit_code == 0
    assert re.search(r"^would insert\s+2$", result.stdout, re.MULTILINE)
    assert "Dry run: nothing was written" in result.stderr
    assert snapshot(db) == before


def test_imports_lists_each_run(cli: Cli, tmp_path: Path) -> None:
    orders = write_xlsx(
        tmp_path / "o.xlsx", [["订单号", "客户编号", "日期", "金额"], ["S1", "C1", "2025-01-01", 1]]
    )
    cli("import", "orders", str(orders))
    cli("import", "orders", str(orders))
    listing = cli("imports")
    assert listing.exit_code == 0
    assert listing.stdout.count("o.xlsx") == 2


def test_unknown_map_field_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    orders = write_xlsx(tmp_path / "o.xlsx", [["a"], [1]])
    result = cli("import", "orders", str(orders), "--map", "a=price")
    assert result.exit_code == 2 and "price" in result.stderr


def test_database_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.db"
    monkeypatch.setenv("CPM_DB", str(path))
    assert cpm("init").exit_code == 0
    assert Database.from_option(str(path)).path == path
    assert path.exists()


def test_global_options_work_after_the_command_too(tmp_path: Path) -> None:
    path = tmp_path / "late.db"
    result = runner.invoke(app, ["init", "--db", str(path), "--quiet"])
    assert result.exit_code == 0 and result.stderr == "" and path.exists()
    listing = runner.invoke(app, ["imports", f"--db={path}"])
    assert listing.exit_code == 0 and "No imports yet" in listing.stderr


def test_a_quiet_failure_is_one_line_on_stderr(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(tmp_path / "absent.db"), "award", "--quiet"])
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no database at") and "cpm init" in lines[0]
