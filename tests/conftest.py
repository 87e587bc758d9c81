"""Shared fixtures: a migrated temporary database, a CLI runner, and spreadsheet writers."""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from cpm import db as database
from cpm import i18n
from cpm.cli.main import app
from cpm.db import Database

os.environ["COLUMNS"] = "200"
os.environ["NO_COLOR"] = "1"
os.environ.pop("CPM_DB", None)
os.environ.pop("CPM_CONFIG", None)
# Tests read cpm in English unless they ask for another language.
for _name in ("CPM_LANG", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_name, None)
os.environ["LANG"] = "C.UTF-8"


@pytest.fixture(autouse=True)
def _fresh_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CPM_DB", raising=False)
    monkeypatch.delenv("CPM_CONFIG", raising=False)
    yield
    database.dispose_engines()
    i18n.use(i18n.ENGLISH)


def fresh_database(folder: Path, name: str = "shop.db") -> Database:
    """A new database file in `folder`, migrated to the newest schema."""
    target = Database.from_option(str(folder / name))
    database.create_database_file(target)
    database.upgrade(target)
    return target


@pytest.fixture
def db(tmp_path: Path) -> Database:
    """A new, migrated database file."""
    return fresh_database(tmp_path)


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with database.session_scope(db, write=True) as s:
        yield s


class Cli:
    """Runs `cpm --db <db> …` in-process, as a user would from the shell."""

    def __init__(self, db_path: Path, cwd: Path) -> None:
        self.db_path = db_path
        self.cwd = cwd
        self.runner = CliRunner()

    def __call__(self, *args: str, db: bool = True) -> Any:
        argv = (["--db", str(self.db_path)] if db else []) + list(args)
        return self.runner.invoke(app, argv, catch_exceptions=False)


@pytest.fixture
def cli(tmp_path: Path, db: Database) -> Cli:
    assert db.path is not None
    return Cli(db.path, tmp_path)


def write_xlsx(
    path: Path, rows: Sequence[Sequence[Any]], *, sheet: str = "Sheet1", **more: Sequence[Sequence[Any]]
) -> Path:
    """An .xlsx with one sheet of `rows` (and any further sheets passed by name)."""
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = sheet
    for row in rows:
        first.append(list(row))
    for name, extra in more.items():
        worksheet = workbook.create_sheet(name)
        for row in extra:
            worksheet.append(list(row))
    workbook.save(path)
    return path


def write_csv(
    path: Path, rows: Sequence[Sequence[Any]], *, encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def snapshot(db: Database) -> list[str]:
    """Every row of every table, to prove a failed command changed nothing."""
    assert db.path is not None
    conn = sqlite3.connect(db.path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def table_rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    assert db.path is not None
    conn = sqlite3.connect(db.path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
