"""Bulk writes through the driver's connection, inside the session's transaction.

A million rows through the ORM would take minutes; the driver's executemany takes seconds. The
SQL here is portable: SQLite and PostgreSQL both have INSERT … ON CONFLICT … DO UPDATE … WHERE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import compress, repeat
from operator import eq, is_not, itemgetter
from typing import Any

from sqlalchemy import Index
from sqlmodel import Session, SQLModel

from cpm.db import raw_connection


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _placeholder(session: Session) -> str:
    return "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s"


def _distinct(session: Session, left: str, right: str) -> str:
    if session.get_bind().dialect.name == "sqlite":
        return f"{left} IS NOT {right}"
    return f"{left} IS DISTINCT FROM {right}"


def db_value(value: Any, *, sqlite: bool) -> Any:
    """SQLite stores dates and times as ISO text, in the forms SQLAlchemy's types read back."""
    if sqlite and isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if sqlite and isinstance(value, date):
        return value.isoformat()
    return value


BULK_LOAD_ROWS = 20_000


def _secondary_indexes(table: str) -> list[Index]:
    """The plain (non-unique) indexes of one of our tables, as the models declare them."""
    declared = SQLModel.metadata.tables[table]
    return sorted((i for i in declared.indexes if not i.unique), key=lambda i: str(i.name))


def count_rows(session: Session, table: str) -> int:
    cursor = raw_connection(session).cursor()
    cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - table names are ours
    (count,) = cursor.fetchone()
    return int(count)


def upsert(
    session: Session,
    *,
    table: str,
    key: str,
    columns: Sequence[str],
    compared: Sequence[str],
    rows: Iterable[Sequence[Any]],
    total: int,
    set_expressions: dict[str, str] | None = None,
    changed_when: str | None = None,
) -> UpsertCounts:
    """Insert new rows; update existing ones (by `key`) only where a `compared` column differs.

    `columns` are the columns of each row; `set_expressions` overrides how a column is updated
    (e.g. a value derived from stored and incoming columns); `changed_when` is one more SQL
    condition under which a row counts as changed. Returns what happened to the rows.
    """
    mark = _placeholder(session)
    updates = {c: f"excluded.{c}" for c in columns if c != key}
    updates.update(set_expressions or {})
    conditions = [_distinct(session, f"{table}.{c}", f"excluded.{c}") for c in compared]
    conditions += [f"({changed_when})"] if changed_when else []
    guard = " OR ".join(conditions)
    # A file with nothing but the key has nothing to compare, so nothing stored can change.
    on_conflict = (
        f"DO UPDATE SET {', '.join(f'{c} = {e}' for c, e in updates.items())} WHERE {guard}"
        if guard
        else "DO NOTHING"
    )
    conflict = f"ON CONFLICT ({key}) {on_conflict}"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) {conflict}"
    before = count_rows(session, table)
    rebuild = _secondary_indexes(table) if before == 0 and total >= BULK_LOAD_ROWS else []
    connection = session.connection()
    for index in rebuild:  # filling an empty table: build these once at the end, not row by row
        index.drop(connection)
    cursor = raw_connection(session).cursor()
    if total >= BULK_LOAD_ROWS and is_sqlite(session):
        changed = _staged_upsert(cursor, table=table, columns=columns, rows=rows, conflict=conflict)
    else:
        cursor.executemany(sql, rows)
        changed = cursor.rowcount if cursor.rowcount is not None and cursor.rowcount >= 0 else 0
    for index in rebuild:
        index.create(connection)
    inserted = count_rows(session, table) - before
    updated = max(changed - inserted, 0)
    return UpsertCounts(inserted=inserted, updated=updated, unchanged=total - inserted - updated)


def _staged_upsert(
    cursor: Any, *, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], conflict: str
) -> int:
    """Upsert many rows into a SQLite table through a temporary table with no constraints.

    One INSERT … SELECT checks the constraints and indexes of every row in a single statement,
    at a fraction of the cost of a statement per row (1M orders: about a third less time). Rows
    go in the order given. Returns how many rows were inserted or updated.
    """
    names = ", ".join(columns)
    staging = f"cpm_staged_{table}"
    cursor.execute(f"CREATE TEMP TABLE {staging} ({names})")
    cursor.executemany(f"INSERT INTO temp.{staging} VALUES ({', '.join('?' * len(columns))})", rows)
    # WHERE true: without it, SQLite would read ON CONFLICT as a join's ON.
    select = f"SELECT * FROM temp.{staging} WHERE true ORDER BY rowid"
    cursor.execute(f"INSERT INTO {table} ({names}) {select} {conflict}")
    changed = cursor.rowcount if cursor.rowcount is not None and cursor.rowcount >= 0 else 0
    cursor.execute(f"DROP TABLE temp.{staging}")
    return int(changed)


def unchanged_positions(
    session: Session, *, table: str, columns: Sequence[str], values: Sequence[Sequence[Any]]
) -> set[int]:
    """Positions of incoming rows equal to their stored row in every one of `columns`.

    `columns` starts with the table's unique key; `values` holds each column's incoming values.
    The stored rows are streamed and compared with the incoming ones in C, which costs a fraction
    of an upsert asking the database about each row. Only worth it when the file holds a good
    part of the table: for a small file, nothing is read and the set is empty.
    """
    count = len(values[0])
    stored = count_rows(session, table)
    if stored < BULK_LOAD_ROWS or count * 4 < stored:
        return set()
    keys = values[0]
    position: dict[Any, int] | None = None
    lookups: list[Callable[[int], Any]] = [column.__getitem__ for column in values]
    cursor = raw_connection(session).cursor()
    cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")  # noqa: S608 - our names
    same: set[int] = set()
    start = 0
    while batch := cursor.fetchmany(50_000):
        end = start + len(batch)
        if list(map(itemgetter(0), batch)) == keys[start:end]:
            # The table holds these rows in the file's order (the same file again): no lookups.
            aligned = zip(*[column[start:end] for column in values], strict=True)
            same.update(compress(range(start, end), map(eq, batch, aligned)))
            start = end
            continue
        start = end
        if position is None:
            position = dict(zip(keys, range(count), strict=True))
        found: list[Any] = list(map(position.get, map(itemgetter(0), batch)))
        if None in found:  # stored rows the file does not hold
            held = list(map(is_not, found, repeat(None)))
            batch, found = list(compress(batch, held)), list(compress(found, held))
        incoming = zip(*[map(lookup, found) for lookup in lookups], strict=True)
        same.update(compress(found, map(eq, batch, incoming)))
    return same


def insert_missing(
    session: Session, *, table: str, key: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert rows whose key is not stored yet; leave stored ones alone. Returns how many were new."""
    mark = _placeholder(session)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT ({key}) DO NOTHING"
    )
    before = count_rows(session, table)
    raw_connection(session).cursor().executemany(sql, rows)
    return count_rows(session, table) - before


def insert_rows(
    session: Session, *, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Plain inserts: a clash with a stored unique key is an error, never silently skipped.

    Many rows into a table not much larger than them: every index of the table (unique ones too) is
    dropped first and built again after, which is several times faster than keeping them up to
    date row by row; building a unique index again fails if a key came twice, so the guarantee
    is the same.
    """
    mark = _placeholder(session)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    rebuild: list[Index] = []
    if len(rows) >= BULK_LOAD_ROWS and 2 * len(rows) >= count_rows(session, table):
        declared = SQLModel.metadata.tables[table]
        rebuild = sorted(declared.indexes, key=lambda i: str(i.name))
    connection = session.connection()
    for index in rebuild:
        index.drop(connection)
    raw_connection(session).cursor().executemany(sql, rows)
    for index in rebuild:
        index.create(connection)


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def driver_rows(session: Session, query: Any, *, batch: int = 50_000) -> Iterator[Any]:
    """Rows of a Core select straight from the driver's cursor: no result processing, so dates
    arrive as the driver gives them (ISO text on SQLite; see `Days`)."""
    sqlite = is_sqlite(session)
    compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    params: Any
    if compiled.positiontup is not None:  # positional placeholders (SQLite's ?, psycopg's %s)
        params = [db_value(compiled.params[name], sqlite=sqlite) for name in compiled.positiontup]
    else:
        params = {name: db_value(value, sqlite=sqlite) for name, value in compiled.params.items()}
    cursor = raw_connection(session).cursor()
    cursor.execute(str(compiled), params)
    while chunk := cursor.fetchmany(batch):
        yield from chunk


class Days(dict[Any, date]):
    """Dates from the driver (ISO text on SQLite, dates elsewhere), parsed once per distinct value."""

    def __missing__(self, value: Any) -> date:
        parsed = value if isinstance(value, date) else date.fromisoformat(value)
        self[value] = parsed
        return parsed


def stream(session: Session, sql: str, params: Sequence[Any], *, batch: int = 50_000) -> Iterator[Any]:
    """Rows of `sql` (placeholders written `{}`) from the driver's cursor, in batches."""
    cursor = raw_connection(session).cursor()
    cursor.execute(sql.format(*([_placeholder(session)] * len(params))), params)
    while chunk := cursor.fetchmany(batch):
        yield from chunk


def fetch_pairs(session: Session, sql: str) -> dict[Any, Any]:
    cursor = raw_connection(session).cursor()
    cursor.execute(sql)
    return dict(cursor.fetchall())
