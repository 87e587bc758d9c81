"""`cpm init` and `cpm db upgrade|check`: creating and migrating the database file."""

from __future__ import annotations

import typer

from cpm import db as database
from cpm.cli import render
from cpm.cli.state import State
from cpm.errors import CpmError, SchemaOutdated

app = typer.Typer(help="Create, upgrade and check the database file.", no_args_is_help=True)


def init(ctx: typer.Context) -> None:
    """Create a new cpm database (or bring an existing one up to date)."""
    state: State = ctx.obj
    created = database.create_database_file(state.db)
    if not created and database.current_revision(state.db) is None and database.has_tables(state.db):
        raise CpmError(
            f"{state.db.label} already holds data that is not a cpm database",
            hint="Choose another file with --db.",
        )
    before, after = database.upgrade(state.db)
    if state.quiet:
        return
    if created or before is None:
        render.message(f"Created {state.db.label} (schema {after}).")
    elif before == after:
        render.message(f"{state.db.label} is already set up (schema {after}).")
    else:
        render.message(f"Upgraded {state.db.label} from schema {before} to {after}.")


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations to an existing database (back it up first)."""
    state: State = ctx.obj
    if state.db.path is not None and not state.db.path.exists():
        raise SchemaOutdated(f"no database at {state.db.label}", hint="Create it with `cpm init`.")
    before, after = database.upgrade(state.db)
    if not state.quiet:
        if before == after:
            render.message(f"{state.db.label} is up to date (schema {after}).")
        else:
            render.message(f"Upgraded {state.db.label} from schema {before or 'empty'} to {after}.")


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Check the schema version and the file's integrity; exit 1 if anything is wrong."""
    state: State = ctx.obj
    report = database.check(state.db)
    for line in report.lines():
        render.out.print(line, markup=False)
    if not report.ok:
        raise CpmError("the database needs attention (see above)", hint=report.hint)
