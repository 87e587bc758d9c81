"""Hostile arguments, settings and files: every one is a one-line `Error:` with a hint (exit 1) or
a usage error (exit 2), never a traceback — and a file cpm refuses is left exactly as it was."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cpm import db as database
from cpm.cli.main import app
from cpm.db import Database
from tests.conftest import Cli, write_csv

runner = CliRunner()


# --- another program's file is refused untouched -------------------------------------------------


def _fingerprint(path: Path) -> tuple[str, int, int, list[str]]:
    """The file's bytes, modification time and mode, and every file beside it (-wal, -shm, -journal)."""
    info = path.stat()
    return (
        hashlib.sha256(path.read_bytes()).hexdigest(),
        info.st_mtime_ns,
        stat.S_IMODE(info.st_mode),
        sorted(p.name for p in path.parent.iterdir()),
    )


def _sqlite_of_another_app(path: Path, *, wal: bool) -> None:
    conn = sqlite3.connect(path)
    if wal:
        assert conn.execute("PRAGMA journal_mode = WAL").fetchone() == ("wal",)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)")
    conn.execute("INSERT INTO invoices VALUES (1, 100)")
    conn.commit()
    conn.close()


def _zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def _text(path: Path) -> None:
    path.write_text("name,phone\nAnna,123\n" * 20, encoding="utf-8")


def _rollback_journal_app(path: Path) -> None:
    _sqlite_of_another_app(path, wal=False)


def _wal_app(path: Path) -> None:
    _sqlite_of_another_app(path, wal=True)


def _app_with_its_own_alembic(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    conn.execute("INSERT INTO alembic_version VALUES ('ae1027a6acf')")
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()


FOREIGN_FILES: dict[str, Callable[[Path], None]] = {
    "zero bytes": _zero_bytes,
    "a text file": _text,
    "SQLite, rollback journal": _rollback_journal_app,
    "SQLite, WAL": _wal_app,
    "SQLite with its own alembic_version": _app_with_its_own_alembic,
}

COMMANDS_THAT_OPEN = [
    ["report"],
    ["report", "kpis", "--format", "json"],
    ["customer", "show", "C1"],
    ["imports"],
    ["award"],
    ["points", "balance"],
    ["points", "expiring"],
    ["points", "adjust", "C1", "5", "--reason", "gift"],
    ["db", "check"],
    ["db", "upgrade"],
]


@pytest.mark.parametrize("kind", FOREIGN_FILES)
@pytest.mark.parametrize("command", COMMANDS_THAT_OPEN, ids=" ".join)
def test_a_file_that_is_not_a_cpm_database_is_refused_and_left_as_it_was(
    tmp_path: Path, kind: str, command: list[str]
) -> None:
    path = tmp_path / "other.db"
    FOREIGN_FILES[kind](path)
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = _fingerprint(path)
    result = runner.invoke(app, ["--db", str(path), *command])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"Error: {path} is not a cpm database")
    assert "Hint:" in result.stderr
    assert _fingerprint(path) == before


def test_the_refusal_says_what_the_file_is(tmp_path: Path) -> None:
    empty, text, other = tmp_path / "empty.db", tmp_path / "notes.db", tmp_path / "other.db"
    _zero_bytes(empty)
    _text(text)
    _wal_app(other)
    said = {p: runner.invoke(app, ["--db", str(p), "report"]).stderr for p in (empty, text, other)}
    assert f"{empty} is not a cpm database yet (the file is empty)" in said[empty]
    assert "Run `cpm init`" in said[empty]
    assert f"{text} is not a cpm database: it is not a SQLite database file" in said[text]
    assert f"{other} is not a cpm database: it holds another program's tables (invoices)" in said[other]
    assert "left the file as it was" in said[other]


@pytest.mark.parametrize("kind", [k for k in FOREIGN_FILES if k != "zero bytes"])
def test_init_refuses_another_programs_file_before_writing_to_it(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "other.db"
    FOREIGN_FILES[kind](path)
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = _fingerprint(path)
    result = runner.invoke(app, ["--db", str(path), "init"])
    assert result.exit_code == 1, result.output
    assert f"Error: {path} already exists and is not a cpm database" in result.stderr
    assert "Choose another file with --db" in result.stderr
    assert _fingerprint(path) == before


def test_a_foreign_database_in_use_keeps_its_log_files_and_its_rows(tmp_path: Path) -> None:
    # Another program has the database open in WAL mode: its -wal and -shm exist, and its last
    # row is still only in the log.
    path = tmp_path / "other.db"
    owner = sqlite3.connect(path)
    owner.execute("PRAGMA journal_mode = WAL")
    owner.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    owner.execute("INSERT INTO invoices VALUES (1)")
    owner.commit()
    try:
        before = _fingerprint(path)
        assert {"other.db-wal", "other.db-shm"} <= set(before[3])
        for command in (["report"], ["init"], ["db", "upgrade"]):
            result = runner.invoke(app, ["--db", str(path), *command])
            assert result.exit_code == 1 and "not a cpm database" in result.stderr
            assert _fingerprint(path) == before
        assert owner.execute("SELECT id FROM invoices").fetchall() == [(1,)]
    finally:
        owner.close()


def test_init_sets_up_a_zero_byte_file_as_a_new_private_database(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    path.write_bytes(b"")
    os.chmod(path, 0o644)
    result = runner.invoke(app, ["--db", str(path), "init"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"Created {path} (schema {database.head_revision()})")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    orders = write_csv(
        tmp_path / "o.csv",
        [["order_no", "customer_code", "order_date", "amount"], ["S1", "C1", "2025-01-05", "9"]],
    )
    assert runner.invoke(app, ["--db", str(path), "import", "orders", str(orders)]).exit_code == 0
    check = runner.invoke(app, ["--db", str(path), "db", "check"])
    assert check.exit_code == 0 and "orders: 1" in check.stdout


def _old_cpm_database(path: Path) -> None:
    """A cpm database made by the first release (schema 0001), holding one order."""
    from alembic import command

    target = Database.from_option(str(path))
    database.create_database_file(target)
    config = database.alembic_config(target)
    with database.get_engine(target).begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.exec_driver_sql("INSERT INTO customers (id, customer_code) VALUES (1, 'C1')")
        conn.exec_driver_sql(
            "INSERT INTO orders (order_no, customer_id, order_date, amount, refunded_amount,"
            " net_amount, status) VALUES ('S1', 1, '2025-01-02', 1000, 0, 1000, 'completed')"
        )
    database.dispose_engines()


def test_an_old_cpm_database_is_refused_untouched_and_then_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_cpm_database(path)
    before = _fingerprint(path)
    refused = runner.invoke(app, ["--db", str(path), "report"])
    assert refused.exit_code == 1
    assert f"is at schema 0001, this cpm needs {database.head_revision()}" in refused.stderr
    assert "cpm db upgrade" in refused.stderr
    assert _fingerprint(path) == before
    upgraded = runner.invoke(app, ["--db", str(path), "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"Upgraded {path} from schema 0001 to {database.head_revision()}" in upgraded.stderr
    report = runner.invoke(app, ["--db", str(path), "report", "--as-of", "2025-02-01", "--format", "json"])
    assert report.exit_code == 0, report.output
    assert '"revenue": "10.00"' in report.stdout


def test_a_database_from_a_newer_cpm_is_refused_by_every_command(db: Database, tmp_path: Path) -> None:
    assert db.path is not None
    conn = sqlite3.connect(db.path)
    conn.execute("UPDATE alembic_version SET version_num = '0099'")
    conn.commit()
    conn.close()
    database.dispose_engines()
    for command in (["report"], ["init"], ["db", "upgrade"], ["db", "check"]):
        result = runner.invoke(app, ["--db", str(db.path), *command])
        assert result.exit_code == 1, (command, result.output)
        assert "at schema 0099, which this cpm does not know" in result.stderr
        assert "Traceback" not in result.output


# --- the database named by --db and the environment ----------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "-1", "abc", "86401", "99999999999"])
def test_a_busy_timeout_out_of_range_is_refused(
    cli: Cli, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database.dispose_engines()
    monkeypatch.setenv("CPM_BUSY_TIMEOUT", value)
    result = cli("imports")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(
        f"Error: CPM_BUSY_TIMEOUT must be a number of seconds from 0 to 86,400, got {value!r}"
    )
    assert "Hint: Set it to e.g. 60" in result.stderr


@pytest.mark.parametrize("value", ["0", "86400", " 2.5 "])
def test_a_busy_timeout_in_range_is_taken(cli: Cli, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    database.dispose_engines()
    monkeypatch.setenv("CPM_BUSY_TIMEOUT", value)
    assert cli("imports").exit_code == 0


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("bogus://x", "cpm does not know this kind of database"),
        ("sqlite+bogus:///x.db", "cpm does not know this kind of database"),
        ("://x", "is not a database URL cpm can read"),
        ("postgresql+psycopg://u:secret@[::1/x", "is not a database URL cpm can read"),
        ("postgresql+psycopg://u@127.0.0.1/x", "needs the database driver psycopg, which is not installed"),
        ("mysql://u@localhost/x", "needs the database driver MySQLdb, which is not installed"),
    ],
)
@pytest.mark.parametrize("command", [["report"], ["init"], ["db", "check"], ["db", "upgrade"]], ids=" ".join)
def test_a_database_url_cpm_cannot_use_is_one_error(url: str, said: str, command: list[str]) -> None:
    if "psycopg" in said and importlib.util.find_spec("psycopg") is not None:
        pytest.skip("psycopg is installed here")
    result = runner.invoke(app, ["--db", url, *command])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (first, hint) = result.stderr.splitlines()[:2]
    assert first.startswith("Error: --db ") and said in first
    assert hint.startswith("Hint: ")
    assert "secret" not in result.stderr


def test_a_folder_given_as_the_database_is_one_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(tmp_path), "report"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {tmp_path} is a folder, not a database file")


# --- cpm.toml that cannot be settings ------------------------------------------------------------


DEEP = "is not a cpm settings file: it holds values nested too deep or numbers too long to read"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"x = " + b"[" * 5000 + b"]" * 5000, DEEP),
        (b"x = " + b"{a = " * 3000 + b"1" + b"}" * 3000, DEEP),
        (b"rfm_segments = " + b"[" * 3000 + b"]" * 3000, DEEP),
        (b"window_days = " + b"9" * 5000 + b"\n", DEEP),
        (b'currency = "M\xfcller"\n', "is not UTF-8 text (byte 0xfc on line 1)"),
        (b"# settings\n\n[tiers]\nvip = \xff\n", "is not UTF-8 text (byte 0xff on line 4)"),
        (b"# " + b"x" * 1_000_001 + b"\n", "is larger than 1,000,000 bytes"),
    ],
    ids=["deep arrays", "deep tables", "deep segments", "5000 digits", "latin-1", "binary", "huge"],
)
@pytest.mark.parametrize("command", [["config", "show"], ["report", "kpis"]], ids=" ".join)
def test_a_settings_file_that_cannot_be_read_is_one_error(
    cli: Cli, tmp_path: Path, content: bytes, said: str, command: list[str]
) -> None:
    path = tmp_path / "cpm.toml"
    path.write_bytes(content)
    result = cli("--config", str(path), *command)
    assert result.exit_code == 1, result.output
    first, hint = result.stderr.splitlines()[:2]
    assert first.startswith(f"Error: config file {path} {said}")
    assert hint.startswith("Hint: ")


def test_values_quoted_from_a_settings_file_are_cut_short(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "cpm.toml"
    path.write_text(
        f'currency = "{"A" * 500_000}"\nwindow_days = {"9" * 4000}\n"{"k" * 50_000}" = 1\n', encoding="utf-8"
    )
    result = cli("--config", str(path), "config", "show")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: key 'currency' must be a short currency code")
    assert len(result.stderr) < 600
    path.write_text(f"window_days = {'9' * 4000}\n", encoding="utf-8")
    result = cli("--config", str(path), "config", "show")
    assert "key 'window_days' must be a whole number from 1 to 36600, got 9999" in result.stderr
    assert len(result.stderr) < 600
    path.write_text(f'"{"k" * 50_000}" = 1\n', encoding="utf-8")
    result = cli("--config", str(path), "config", "show")
    assert f"key '{'k' * 59}…' is not a cpm setting" in result.stderr
    assert len(result.stderr) < 600


def test_a_folder_or_a_device_as_the_settings_file_is_one_error(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "settings"
    folder.mkdir()
    result = cli("--config", str(folder), "config", "show")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: config file {folder} is a folder, not a file")
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # reading it would wait for a writer for ever
    result = cli("--config", str(fifo), "config", "show")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: config file {fifo} is not a regular file")


def test_an_unreadable_settings_file_is_one_error(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cpm.toml"
    path.write_text('currency = "CNY"\n', encoding="utf-8")
    path.chmod(0)
    # Root (as CI runs) reads a file whatever its mode: the refusal the system gives anyone else
    # is made here for this one file.
    real_open = Path.open

    def refusing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)
    result = cli("--config", str(path), "config", "show")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot read config file {path}: Permission denied")


def test_a_settings_file_saved_with_a_byte_order_mark_is_read(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "cpm.toml"
    path.write_bytes('\ufeffcurrency = "USD"\n'.encode())
    result = cli("--config", str(path), "config", "show", "--json")
    assert result.exit_code == 0, result.output
    assert '"currency": "USD"' in result.stdout
