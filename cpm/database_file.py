"""What a SQLite file holds, found out without changing it.

Opening a SQLite file the usual way can write to it before a single query runs: SQLite sets the
journal mode, creates -wal and -shm files next to it, rolls back a left-over journal. cpm does
that only to its own databases. Every other file is first looked at read-only — its header
bytes, then its schema through a read-only connection that creates nothing — and left
byte-for-byte as it was when cpm refuses it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from cpm.errors import CpmError, DatabaseUnavailable, SchemaOutdated

SQLITE_HEADER = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm", "-journal")

MISSING, EMPTY, NOT_SQLITE, BLANK, FOREIGN, CPM = "missing", "empty", "not-sqlite", "blank", "foreign", "cpm"


@dataclass(frozen=True)
class Look:
    """What a database holds.

    kind: MISSING (no file), EMPTY (a file of zero bytes), NOT_SQLITE (some other kind of file),
    BLANK (a SQLite database without tables or settings), FOREIGN (another program's database),
    or CPM (a cpm database, at `revision`).
    """

    kind: str
    revision: str | None = None
    tables: tuple[str, ...] = ()


def _side_files(path: Path) -> set[str]:
    return {suffix for suffix in SIDE_FILES if Path(f"{path}{suffix}").exists()}


def look_at_file(path: Path, *, label: str, timeout: float) -> Look:
    """Classify the file at `path` without writing to it or beside it. `timeout`: how long to
    wait (seconds) for a program that holds the file locked."""
    try:
        with path.open("rb") as handle:  # a plain read: the file and its times stay as they are
            header = handle.read(100)
    except FileNotFoundError:
        return Look(MISSING)
    except IsADirectoryError as exc:
        raise CpmError(
            f"{label} is a folder, not a database file",
            hint="Point --db at a database file inside it, e.g. shop.db.",
        ) from exc
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot read {label}: {exc.strerror}",
            hint="Check the file's permissions, or point --db at another file.",
        ) from exc
    if not header:
        return Look(EMPTY)
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        return Look(NOT_SQLITE)
    settings = header[60:64] != b"\0" * 4 or header[68:72] != b"\0" * 4  # user_version, application_id
    before = _side_files(path)
    try:
        tables, revision = _schema(path, label=label, wal=2 in (header[18], header[19]), timeout=timeout)
    finally:
        created = _side_files(path) - before
    if "alembic_version" in tables and "import_batches" in tables:
        return Look(CPM, revision=revision, tables=tables)
    for suffix in created:  # reading another program's database left them: take them away again
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if tables or settings:
        return Look(FOREIGN, tables=tables)
    return Look(BLANK)


def _schema(path: Path, *, label: str, wal: bool, timeout: float) -> tuple[tuple[str, ...], str | None]:
    """Table names and the Alembic revision, read through a read-only connection.

    A database in WAL mode whose log is absent is read as immutable: everything is in the file,
    and SQLite then creates neither a -wal nor a -shm file. With a log present (the database is
    in use, or a program stopped while using it) it is read with its log.
    """
    immutable = wal and not Path(f"{path}-wal").exists()
    try:
        return _read_schema(path, immutable=immutable, timeout=timeout)
    except sqlite3.DatabaseError as exc:
        if immutable:  # a writer began and checkpointed while the file was read: read it with its log
            with suppress(sqlite3.DatabaseError):
                return _read_schema(path, immutable=False, timeout=timeout)
        raise DatabaseUnavailable(
            f"cannot read {label}: {exc}",
            hint="If another program is using the file, wait for it; else point --db at another file.",
        ) from exc


def _read_schema(path: Path, *, immutable: bool, timeout: float) -> tuple[tuple[str, ...], str | None]:
    uri = f"file:{quote(str(path.resolve()))}?mode=ro" + ("&immutable=1" if immutable else "")
    with closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as conn:
        names = tuple(
            sorted(
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            )
        )
        revision = None
        if "alembic_version" in names:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = None if row is None else str(row[0])
    return names, revision


def refusal(found: Look, *, label: str, known: frozenset[str], head: str) -> SchemaOutdated | None:
    """Why a command cannot open the database `found` describes, or None if it is cpm's own,
    at a schema this cpm knows."""
    untouched = "cpm has left the file as it was."
    if found.kind == MISSING:
        return SchemaOutdated(
            f"no database at {label}",
            hint="Create it with `cpm init` (or point --db / CPM_DB at an existing one).",
        )
    if found.kind in (EMPTY, BLANK):
        empty = " (the file is empty)" if found.kind == EMPTY else ""
        return SchemaOutdated(
            f"{label} is not a cpm database yet{empty}", hint="Run `cpm init` to set it up."
        )
    if found.kind == NOT_SQLITE:
        return SchemaOutdated(
            f"{label} is not a cpm database: it is not a SQLite database file",
            hint=f"Point --db at your cpm database. {untouched}",
        )
    if found.kind == FOREIGN:
        return SchemaOutdated(
            f"{label} is not a cpm database: it holds {what_it_holds(found)}",
            hint=f"Point --db at your cpm database, or give a new file to `cpm init`. {untouched}",
        )
    if found.revision not in known:
        return SchemaOutdated(
            f"the database {label} is at schema {found.revision}, which this cpm does not know "
            f"(it needs {head})",
            hint="A newer cpm made it: use that cpm. `cpm db upgrade` cannot move a schema back "
            "or from one it does not know.",
        )
    return None


def what_it_holds(look: Look) -> str:
    """A few of a foreign database's tables, for a message."""
    if not look.tables:
        return "the settings of another program"
    shown = ", ".join(look.tables[:4]) + (", …" if len(look.tables) > 4 else "")
    return f"another program's tables ({shown})"
