"""Engine, connection pragmas, the unit of work, and schema migrations."""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlmodel import Session

from cpm.database_file import (
    BLANK,
    CPM,
    EMPTY,
    FOREIGN,
    NOT_SQLITE,
    SIDE_FILES,
    Look,
    look_at_file,
    refusal,
    what_it_holds,
)
from cpm.errors import Conflict, CpmError, DatabaseUnavailable, SchemaOutdated

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

DEFAULT_BUSY_TIMEOUT_S = 30.0
MAX_BUSY_TIMEOUT_S = 86_400  # a day: SQLite counts the wait in milliseconds in a C int


_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")  # user:password@ in a URL SQLAlchemy cannot parse


@dataclass(frozen=True)
class Database:
    """Where the data lives: a SQLite file path, or any SQLAlchemy URL."""

    url: str
    path: Path | None  # the SQLite file, when it is one

    @classmethod
    def from_option(cls, value: str) -> Database:
        if "://" in value:
            path = None
            if value.startswith("sqlite:///") and "?" not in value and value != "sqlite:///":
                path = Path(value.removeprefix("sqlite:///"))
            return cls(url=value, path=path)
        path = Path(value).expanduser()
        return cls(url=f"sqlite:///{path.resolve()}", path=path)

    @property
    def label(self) -> str:
        """How messages name the database: its path, or its URL without the password."""
        if self.path is not None:
            return str(self.path)
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except (ArgumentError, ValueError):
            return _PASSWORD.sub(r"\1***@", self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def file(self) -> Path | None:
        """The SQLite file the database is, also when given as a URL (`sqlite:///x.db?…`,
        `sqlite:///file:x.db?mode=ro&uri=true`); None for a server or an in-memory database."""
        if self.path is not None:
            return self.path
        if not self.is_sqlite:
            return None
        try:
            url = make_url(self.url)
        except (ArgumentError, ValueError):
            return None
        name = url.database or ""
        if url.query.get("uri") == "true" and name.startswith("file:"):
            name = name.removeprefix("file:").partition("?")[0]
        return Path(name) if name and name != ":memory:" else None


def busy_timeout_seconds() -> float:
    """How long a command waits for another one holding the database (CPM_BUSY_TIMEOUT, seconds)."""
    raw = os.environ.get("CPM_BUSY_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_BUSY_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_BUSY_TIMEOUT_S:  # also NaN, infinity and 1e400
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise CpmError(
            f"CPM_BUSY_TIMEOUT must be a number of seconds from 0 to {MAX_BUSY_TIMEOUT_S:,}, got {shown!r}",
            hint="Set it to e.g. 60, or unset it to wait 30 seconds for another cpm to finish.",
        )
    return seconds


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
    timeout = busy_timeout_seconds()
    try:
        if not db.is_sqlite:
            return create_engine(db.url)
        engine = create_engine(db.url, connect_args={"timeout": timeout})
    except NoSuchModuleError as exc:
        raise CpmError(
            f"--db {db.label}: cpm does not know this kind of database ({exc})",
            hint="Give a file path such as shop.db, or a URL such as postgresql+psycopg://user@host/name.",
        ) from exc
    except (ArgumentError, ValueError, TypeError) as exc:
        raise CpmError(
            f"--db {db.label} is not a database URL cpm can read ({exc})",
            hint="Give a file path such as shop.db, or a URL such as postgresql+psycopg://user@host/name.",
        ) from exc
    except ImportError as exc:
        raise CpmError(
            f"--db {db.label} needs the database driver {exc.name or 'named in the URL'}, "
            "which is not installed",
            hint="For PostgreSQL install psycopg into cpm's environment (pip install 'psycopg[binary]'), "
            "or use a SQLite file path.",
        ) from exc

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
    if "connection refused" in text or "could not connect" in text or "connection failed" in text:
        return DatabaseUnavailable(
            f"cannot connect to the database server of {db.label}",
            hint="Check that the server is running and the host, port, user and database in --db.",
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


_REVISION = re.compile(r"""^(down_revision|revision)\b[^=]*=\s*(?:['"]([^'"]*)['"]|None)""", re.MULTILINE)


@functools.cache
def _revisions() -> tuple[frozenset[str], str]:
    """Every migration shipped, and the newest: the revision no other one revises (read from the
    files, without importing Alembic; a test checks it against Alembic's own answer)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (migrations_dir() / "versions").glob("*.py"):
        for name, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if name == "revision" else revised).add(value)
    heads = revisions - revised
    assert len(heads) == 1, f"the package ships {len(heads)} migration heads"
    return frozenset(revisions), heads.pop()


def head_revision() -> str:
    return _revisions()[1]


def look(db: Database) -> Look:
    """What the database holds, found without writing to it (see cpm.database_file)."""
    if db.path is None:
        get_engine(db)  # a URL: its kind and driver are checked first (making an engine connects to nothing)
    file = db.file
    if file is not None:
        return look_at_file(file, label=db.label, timeout=busy_timeout_seconds())
    # A server (or SQLite in memory): reading its catalogue writes nothing.
    try:
        with get_engine(db).connect() as conn:
            tables = tuple(sorted(inspect(conn).get_table_names()))
            revision = None
            if "alembic_version" in tables:
                revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except DBAPIError as exc:
        raise translate_db_error(exc, db) from exc
    if "alembic_version" in tables and "import_batches" in tables:
        return Look(CPM, revision=revision, tables=tables)
    return Look(FOREIGN, tables=tables) if tables else Look(BLANK)


def current_revision(db: Database) -> str | None:
    found = look(db)
    return found.revision if found.kind == CPM else None


def ensure_cpm(db: Database) -> Look:
    """Stop, without writing anything, unless the database is a cpm database of a known schema."""
    found = look(db)
    problem = refusal(found, label=db.label, known=_revisions()[0], head=head_revision())
    if problem is not None:
        raise problem
    return found


def ensure_current(db: Database) -> None:
    """Stop with a clear message (and without writing) when the database is missing, not cpm's,
    or out of date."""
    found = ensure_cpm(db)
    head = head_revision()
    if found.revision != head:
        raise SchemaOutdated(
            f"the database {db.label} is at schema {found.revision}, this cpm needs {head}",
            hint="Back up the file, then run `cpm db upgrade`.",
        )


def create_database_file(db: Database) -> bool:
    """Create the SQLite file readable by its owner only. Returns False if it already existed."""
    if db.path is None:
        return False
    if db.path.is_dir():
        raise CpmError(f"{db.label} is a folder, not a database file")
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


def initialise(db: Database) -> tuple[bool, str | None, str]:
    """`cpm init`: a new database, or an existing one brought up to date.

    Returns (created, revision before, revision after). A missing file is created readable by
    its owner only; so is an empty one (zero bytes, or SQLite without tables: it holds nothing)
    taken over. Another program's file is refused, untouched.
    """
    created = create_database_file(db)
    found = look(db)
    if found.kind in (NOT_SQLITE, FOREIGN):
        what = "is not a SQLite database" if found.kind == NOT_SQLITE else f"holds {what_it_holds(found)}"
        raise Conflict(
            f"{db.label} already exists and is not a cpm database: it {what}",
            hint="Choose another file with --db; cpm has left this one as it was.",
        )
    problem = refusal(found, label=db.label, known=_revisions()[0], head=head_revision())
    if found.kind == CPM and problem is not None:
        raise problem
    if found.kind == EMPTY and not created and db.path is not None:
        with suppress(OSError):  # someone else's empty file: it keeps the modes they gave it
            os.chmod(db.path, 0o600)
    try:
        before, after = upgrade(db)
    except BaseException:
        if created and db.path is not None:  # leave no empty file behind
            dispose_engines()
            for name in (str(db.path), *(f"{db.path}{suffix}" for suffix in SIDE_FILES)):
                Path(name).unlink(missing_ok=True)
        raise
    return created or found.kind != CPM, before, after


def upgrade(db: Database) -> tuple[str | None, str]:
    """Apply every pending migration; returns (revision before, revision after).

    Only to a cpm database or an empty one: another program's file is refused before anything
    is written to it.
    """
    found = look(db)
    if found.kind not in (EMPTY, BLANK):
        problem = refusal(found, label=db.label, known=_revisions()[0], head=head_revision())
        if problem is not None:
            raise problem
    before = found.revision if found.kind == CPM else None
    engine = get_engine(db)
    cfg = alembic_config(db)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            if sqlite:
                # A migration that copies a table others refer to (SQLite's way to alter one)
                # drops the old copy: foreign keys are checked once, after, instead of on the drop.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
            try:
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    from alembic import command

                    command.upgrade(cfg, "head")
                    if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                        raise CpmError(
                            f"upgrading {db.label} would leave rows that refer to missing rows; "
                            "nothing was changed",
                            hint="Run `cpm db check` and restore the file from a backup.",
                        )
            finally:
                if sqlite:
                    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = ON")  # type: ignore[union-attr]
    except DBAPIError as exc:
        raise translate_db_error(exc, db) from exc
    return before, head_revision()


@dataclass
class CheckReport:
    """What `cpm db check` found."""

    label: str
    current: str | None
    head: str
    integrity: list[str]
    foreign_key_problems: int
    counts: dict[str, int]
    # Customer codes / order numbers stored in a form imports no longer produce: (table, stored
    # code, its normal form or why it has none, whether another row holds that form).
    odd_codes: list[tuple[str, str, str, bool]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.current == self.head
            and self.integrity == ["ok"]
            and self.foreign_key_problems == 0
            and not self.odd_codes
        )

    @property
    def hint(self) -> str | None:
        if self.current != self.head:
            return "Back up the file, then run `cpm db upgrade`."
        if self.integrity == ["ok"] and self.foreign_key_problems == 0:
            return (
                "Join a customer stored twice with `cpm customer merge OLD NEW`; correct a code "
                "imports cannot read in the source file, then import it again."
            )
        return "Restore the file from a backup; then re-import the files listed by `cpm imports`."

    def lines(self) -> list[str]:
        lines = [
            f"database: {self.label}",
            f"schema: {self.current or 'none'} (this cpm needs {self.head})",
            f"integrity: {'; '.join(self.integrity)}",
            f"foreign key problems: {self.foreign_key_problems}",
        ]
        lines += [f"{table}: {count:,}" for table, count in self.counts.items()]
        if self.odd_codes:
            lines.append(f"codes stored in a form imports no longer read: {len(self.odd_codes)}")
        for table, code, normal, taken in self.odd_codes[:20]:
            what = "customer" if table == "customers" else "order"
            if taken:
                lines.append(f"  {what} {code!r} reads as {normal!r}, which is another {what}")
            else:
                lines.append(f"  {what} {code!r}: {normal}")
        if len(self.odd_codes) > 20:
            lines.append(f"  … and {len(self.odd_codes) - 20:,} more")
        return lines


def check(db: Database) -> CheckReport:
    found = ensure_cpm(db)
    current = found.revision
    integrity: list[str] = ["ok"]
    fk_problems = 0
    counts: dict[str, int] = {}
    try:
        with get_engine(db).connect() as conn:
            if db.is_sqlite:
                integrity = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
                fk_problems = len(conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall())
            tables = inspect(conn).get_table_names()
            for table in ("customers", "orders", "import_batches"):
                if table in tables:
                    counts[table] = int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())
            odd = [
                *(_odd_codes(conn, "customers", "customer_code") if "customers" in tables else []),
                *(_odd_codes(conn, "orders", "order_no") if "orders" in tables else []),
            ]
    except DBAPIError as exc:
        raise translate_db_error(exc, db) from exc
    return CheckReport(db.label, current, head_revision(), integrity, fk_problems, counts, odd)


def _odd_codes(conn: Any, table: str, column: str) -> list[tuple[str, str, str, bool]]:
    """Stored codes that are not in the form an import reads them in (see cpm.io.text)."""
    from cpm.io.text import CodeError, normalise_code

    stored = [str(code) for (code,) in conn.exec_driver_sql(f"SELECT {column} FROM {table}")]  # noqa: S608
    taken = set(stored)
    odd: list[tuple[str, str, str, bool]] = []
    for code in stored:
        if code.isascii() and code.isprintable() and code == code.strip():
            continue  # the normal form of nearly every code: nothing to work out
        try:
            normal = normalise_code(code)
        except CodeError as exc:
            odd.append((table, code, str(exc), False))
            continue
        if normal != code:
            odd.append((table, code, normal, normal in taken))
    return odd
