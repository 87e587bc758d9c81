"""`cpm init` and `cpm db upgrade|check`: creating and migrating the database file."""

from __future__ import annotations

import typer

from cpm import db as database
from cpm.cli import render
from cpm.cli.state import State
from cpm.errors import CpmError

app = typer.Typer(help="Create, upgrade and check the database file.", no_args_is_help=True)


def init(ctx: typer.Context) -> None:
    """Create a new cpm database (or bring an existing one up to date).

    An empty file (zero bytes) is set up as a new database; another program's file is refused
    and left as it was.
    """
    state: State = ctx.obj
    created, before, after = database.initialise(state.db)
    if state.quiet:
        return
    if created:
        render.message(f"Created {state.db.label} (schema {after}).")
    elif before == after:
        render.message(f"{state.db.label} is already set up (schema {after}).")
    else:
        render.message(f"Upgraded {state.db.label} from schema {before} to {after}.")


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations to an existing database (back it up first)."""
    state: State = ctx.obj
    database.ensure_cpm(state.db)
    before, after = database.upgrade(state.db)
    if not state.quiet:
        if before == after:
            render.message(f"{state.db.label} is up to date (schema {after}).")
        else:
            render.message(f"Upgraded {state.db.label} from schema {before} to {after}.")


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Check the schema version and the file's integrity; exit 1 if anything is wrong."""
    state: State = ctx.obj
    report = database.check(state.db)
    for line in report.lines():
        render.out.print(line, markup=False)
    if not report.ok:
        raise CpmError("the database needs attention (see above)", hint=report.hint)
