"""Engine, connection pragmas, the unit of work, and schema migrations."""

from __future__ import annotations

import importlib.util
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from cpm.errors import CpmError, DatabaseUnavailable, SchemaOutdated

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

DEFAULT_BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Database:
    """Where the data lives: a SQLite file path, or any SQLAlchemy URL."""

    url: str
    path: Path | None  # the SQLite file, when it is one

    @classmethod
    def from_option(cls, value: str) -> Database:
        if "://" in value:
            path = None
            if value.startswith("sqlite:///") and "?" not in value:
                path = Path(value.removeprefix("sqlite:///"))
            return cls(url=value, path=path)
        path = Path(value).expanduser()
        return cls(url=f"sqlite:///{path.resolve()}", path=path)

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else self.url

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


def busy_timeout_seconds() -> float:
    raw = os.environ.get("CPM_BUSY_TIMEOUT", "")
    try:
        return float(raw) if raw else DEFAULT_BUSY_TIMEOUT_S
    except ValueError as exc:
        raise CpmError(
            f"CPM_BUSY_TIMEOUT must be a number of seconds, got {raw!r}",
            hint="Unset it to wait 30 seconds for another cpm to finish.",
        ) from exc


_engines: dict[str, Engine] = {}


def get_engine(db: Database) -> Engine:
    """One engine per URL for the life of the process."""
    engine = _engines.get(db.url)
    if engine is None:
        engine = _make_engine(db)
        _engines[db.url] = engine
    return engine


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def _make_engine(db: Database) -> Engine:
    if not db.is_sqlite:
        return create_engine(db.url)
    timeout = busy_timeout_seconds()
    engine = create_engine(db.url, connect_args={"timeout": timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how a transaction starts (see below).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front, so an overlapping run waits for the busy
        # timeout instead of failing half-way when it tries to upgrade a read lock.
        if conn.get_execution_options().get("cpm_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def translate_db_error(exc: DBAPIError, db: Database) -> CpmError:
    """Turn the driver's words into a message a shop owner can act on."""
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    if "locked" in text or "busy" in text:
        return DatabaseUnavailable(
            f"the database {db.label} is locked by another cpm command",
            hint="Wait for it to finish (or raise CPM_BUSY_TIMEOUT, in seconds) and run this again.",
        )
    if "readonly" in text or "read-only" in text:
        return DatabaseUnavailable(
            f"the database {db.label} is read-only",
            hint="Check the file's permissions (and its folder's), or use a copy you can write.",
        )
    if "not a database" in text or "malformed" in text:
        return DatabaseUnavailable(
            f"{db.label} is not a cpm database or is damaged",
            hint="Point --db at the right file, or create a new one with `cpm init`.",
        )
    if "unable to open" in text:
        return DatabaseUnavailable(
            f"cannot open the database {db.label}",
            hint="Check that its folder exists and that you may write to it.",
        )
    return DatabaseUnavailable(f"database error on {db.label}: {exc.orig}")


@contextmanager
def session_scope(db: Database, *, write: bool = False, dry_run: bool = False) -> Iterator[Session]:
    """One unit of work: commits when the block succeeds, rolls back on any error.

    With dry_run the work is done and then rolled back, so counts are exact and nothing stays.
    Refuses a database that is missing or not at the schema this cpm expects.
    """
    ensure_current(db)
    engine = get_engine(db)
    try:
        # Results are rendered after the commit; keep their loaded values instead of expiring them.
        with Session(engine, expire_on_commit=False) as session:
            session.connection(execution_options={"cpm_write": write})
            try:
                yield session
                if dry_run:
                    session.rollback()
                else:
                    session.commit()
            except BaseException:
                session.rollback()
                raise
    except OperationalError as exc:
        raise translate_db_error(exc, db) from exc
    except DBAPIError as exc:
        raise translate_db_error(exc, db) from exc


def raw_connection(session: Session) -> Any:
    """The driver's own connection inside the session's transaction, for bulk statements."""
    return session.connection().connection.driver_connection


# --- migrations -----------------------------------------------------------------------------


def migrations_dir() -> Path:
    """The Alembic scripts: `migrations/` in the source tree, shipped as cpm.migrations."""
    spec = importlib.util.find_spec("cpm.migrations")
    if spec is None or not spec.submodule_search_locations:
        raise CpmError("this installation of cpm is missing its migrations", hint="Reinstall cpm.")
    return Path(next(iter(spec.submodule_search_locations)))


# Alembic is imported only where it is used: most commands just compare two revision names, and
# importing it costs a large part of a short command's time.


def alembic_config(db: Database) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*(?:'([^']*)'|None)", re.MULTILINE)


def head_revision() -> str:
    """The newest migration shipped: the revision no other one revises (read from the files,
    without importing Alembic; a test checks it against Alembic's own answer)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (migrations_dir() / "versions").glob("*.py"):
        for name, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if name == "revision" else revised).add(value)
    heads = revisions - revised
    assert len(heads) == 1, f"the package ships {len(heads)} migration heads"
    return heads.pop()


def current_revision(db: Database) -> str | None:
    engine = get_engine(db)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except DBAPIError as exc:
        raise translate_db_error(exc, db) from exc


def ensure_current(db: Database) -> None:
    """Stop with a clear message when the database is missing or out of date."""
    if db.path is not None and not db.path.exists():
        raise SchemaOutdated(
            f"no database at {db.label}",
            hint="Create it with `cpm init` (or point --db / CPM_DB at an existing one).",
        )
    current = current_revision(db)
    head = head_revision()
    if current is None:
        raise SchemaOutdated(
            f"{db.label} is not a cpm database yet",
            hint="Run `cpm init` to set it up.",
        )
    if current != head:
        raise SchemaOutdated(
            f"the database {db.label} is at schema {current}, this cpm needs {head}",
            hint="Back up the file, then run `cpm db upgrade`.",
        )


def create_database_file(db: Database) -> bool:
    """Create the SQLite file readable by its owner only. Returns False if it already existed."""
    if db.path is None:
        return False
    if db.path.is_dir():
        raise CpmError(f"{db.label} is a directory, not a database file")
    if not db.path.parent.exists():
        raise CpmError(
            f"the folder {db.path.parent} does not exist",
            hint="Create the folder first, or choose another --db path.",
        )
    try:
        fd = os.open(db.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise CpmError(f"cannot create {db.label}: {exc.strerror}") from exc
    os.close(fd)
    return True


def upgrade(db: Database) -> tuple[str | None, str]:
    """Apply every pending migration; returns (revision before, revision after)."""
    before = current_revision(db)
    engine = get_engine(db)
    cfg = alembic_config(db)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            from alembic import command

            command.upgrade(cfg, "head")
    except DBAPIError as exc:
        raise translate_db_error(exc, db) from exc
    return before, head_revision()


def has_tables(db: Database) -> bool:
    try:
        with get_engine(db).connect() as conn:
            return bool(inspect(conn).get_table_names())
    except DBAPIError as exc:
        raise translate_db_error(exc, db) from exc


@dataclass
class CheckReport:
    """What `cpm db check` found."""

    label: str
    current: str | None
    head: str
    integrity: list[str]
    foreign_key_problems: int
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return self.current == self.head and self.integrity == ["ok"] and self.foreign_key_problems == 0

    @property
    def hint(self) -> str | None:
        if self.current is None:
            return "Run `cpm init`."
        if self.current != self.head:
            return "Back up the file, then run `cpm db upgrade`."
        return "Restore the file from a backup; then re-import the files listed by `cpm imports`."

    def lines(self) -> list[str]:
        lines = [
            f"database: {self.label}",
            f"schema: {self.current or 'none'} (this cpm needs {self.head})",
            f"integrity: {'; '.join(self.integrity)}",
            f"foreign key problems: {self.foreign_key_problems}",
        ]
        lines += [f"{table}: {count:,}" for table, count in self.counts.items()]
        return lines


def check(db: Database) -> CheckReport:
    if db.path is not None and not db.path.exists():
        raise SchemaOutdated(f"no database at {db.label}", hint="Create it with `cpm init`.")
    current = current_revision(db)
    integrity: list[str] = ["ok"]
    fk_problems = 0
    counts: dict[str, int] = {}
    try:
        with get_engine(db).connect() as conn:
            if db.is_sqlite:
                integrity = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
                fk_problems = len(conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall())
            if current is not None:
                for table in ("customers", "orders", "import_batches"):
                    if table in inspect(conn).get_table_names():
                        counts[table] = int(
                            conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()
                        )
    except DBAPIError as exc:
        raise translate_db_error(exc, db) from exc
    return CheckReport(db.label, current, head_revision(), integrity, fk_problems, counts)
