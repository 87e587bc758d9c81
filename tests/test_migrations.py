"""The schema the migrations build is exactly the schema the models describe."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import cpm.models  # noqa: F401  (registers the tables)
from cpm import db as database
from cpm.db import Database


def test_migrations_at_head_match_the_models(db: Database) -> None:
    engine = database.get_engine(db)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert differences == []


def test_new_database_is_private_to_its_owner_and_uses_wal(tmp_path: Path) -> None:
    target = Database.from_option(str(tmp_path / "new.db"))
    assert database.create_database_file(target)
    database.upgrade(target)
    assert target.path is not None
    mode = stat.S_IMODE(os.stat(target.path).st_mode)
    assert mode == 0o600
    with database.get_engine(target).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30_000
    for suffix in ("-wal", "-shm"):
        side = target.path.with_name(target.path.name + suffix)
        if side.exists():
            assert stat.S_IMODE(os.stat(side).st_mode) & 0o077 == 0


def test_migrations_ship_inside_the_package() -> None:
    location = database.migrations_dir()
    assert (location / "env.py").is_file()
    assert any(p.name.startswith("0001_") for p in (location / "versions").iterdir())


def test_upgrading_an_old_database_keeps_its_rows(tmp_path: Path) -> None:
    from alembic import command

    target = Database.from_option(str(tmp_path / "old.db"))
    database.create_database_file(target)
    config = database.alembic_config(target)
    with database.get_engine(target).begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.exec_driver_sql("INSERT INTO customers (id, customer_code, name) VALUES (1, 'C1', '张三')")
        conn.exec_driver_sql(
            "INSERT INTO orders (order_no, customer_id, order_date, amount, refunded_amount,"
            " net_amount, status) VALUES ('S1', 1, '2025-01-02', 1000, 0, 1000, 'completed')"
        )
    assert database.current_revision(target) == "0001"
    before, after = database.upgrade(target)
    assert (before, after) == ("0001", database.head_revision())
    with database.get_engine(target).connect() as conn:
        assert conn.exec_driver_sql("SELECT order_no, amount FROM orders").fetchall() == [("S1", 1000)]
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []


def test_the_head_revision_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(database.alembic_config(Database("sqlite://", None)))
    assert database.head_revision() == script.get_current_head()


def test_upgrading_gives_stored_codes_their_normal_form_and_check_lists_the_rest(tmp_path: Path) -> None:
    from alembic import command

    target = Database.from_option(str(tmp_path / "old.db"))
    database.create_database_file(target)
    config = database.alembic_config(target)
    with database.get_engine(target).begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
        for number, code in enumerate(["\uff23001", " C002", "C003", "C003\u3000", "C\u200b4", "C005"], 1):
            conn.exec_driver_sql("INSERT INTO customers (id, customer_code) VALUES (?, ?)", (number, code))
        conn.exec_driver_sql(
            "INSERT INTO orders (order_no, customer_id, order_date, amount, refunded_amount,"
            " net_amount, status) VALUES ('\uff33１ ', 1, '2025-01-02', 1000, 0, 1000, 'completed')"
        )
    database.upgrade(target)
    with database.get_engine(target).connect() as conn:
        codes = [r[0] for r in conn.exec_driver_sql("SELECT customer_code FROM customers ORDER BY id")]
        orders = [r[0] for r in conn.exec_driver_sql("SELECT order_no FROM orders")]
    # Ｃ001 and ' C002' take their normal forms; 'C003　' cannot (C003 is another customer);
    # a code with a zero-width space inside has no normal form.
    assert codes == ["C001", "C002", "C003", "C003\u3000", "C\u200b4", "C005"]
    assert orders == ["S1"]

    report = database.check(target)
    assert not report.ok
    assert report.odd_codes == [
        ("customers", "C003\u3000", "C003", True),
        (
            "customers",
            "C\u200b4",
            "holds an invisible character U+200B (ZERO WIDTH SPACE); retype the code without it "
            "(codes are letters, digits and punctuation)",
            False,
        ),
    ]
    lines = report.lines()
    assert "codes stored in a form imports no longer read: 2" in lines
    assert "  customer 'C003\\u3000' reads as 'C003', which is another customer" in lines
    assert report.hint is not None and "cpm customer merge" in report.hint
