"""The `cpm` command: global options, sub-commands, and the one place errors are printed."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import DBAPIError
from typer._click.core import Context as ClickContext
from typer._click.exceptions import ClickException
from typer.core import TyperGroup

from cpm import __version__, i18n
from cpm.cli import config_cmd, customer_cmd, db_cmd, import_cmd, order_cmd, points_cmd, render, report_cmd
from cpm.cli.report_cmd import quoted_argument
from cpm.cli.state import State
from cpm.db import Database, dispose_engines, translate_db_error
from cpm.errors import CpmError

GLOBAL_FLAGS = frozenset({"--quiet", "-q"})
GLOBAL_WITH_VALUE = frozenset({"--db", "--config", "--lang"})


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move global options to the front, so `cpm award --quiet` means `cpm --quiet award`."""
    front: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--":
            rest.extend(args[position:])
            break
        if arg in GLOBAL_FLAGS or arg.partition("=")[0] in GLOBAL_WITH_VALUE and "=" in arg:
            front.append(arg)
        elif arg in GLOBAL_WITH_VALUE and position + 1 < len(args):
            front.extend(args[position : position + 2])
            position += 1
        else:
            rest.append(arg)
        position += 1
    return front + rest


def _quiet(ctx: ClickContext) -> bool:
    return isinstance(ctx.obj, State) and ctx.obj.quiet


class CpmGroup(TyperGroup):
    """Global options anywhere on the line; every CpmError becomes `Error: …` and exit code 1."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        given = sys.argv[1:] if args is None else args
        standalone = standalone_mode
        try:
            result = super().main(
                hoist_global_options(list(given)),
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except ClickException as exc:
            # Usage errors quote the arguments as typed: shown through the console that writes
            # control characters out, so an argument cannot drive the terminal.
            if not standalone:
                raise
            shown = io.StringIO()
            exc.show(file=shown)
            render.err.print(shown.getvalue().rstrip("\n"))
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone:
                raise
            render.err.print("Aborted.")
            sys.exit(1)
        if not standalone:
            return result
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except CpmError as exc:
            render.error(exc, one_line=_quiet(ctx))
            raise typer.Exit(1) from exc
        except DBAPIError as exc:
            state = ctx.obj if isinstance(ctx.obj, State) else None
            db = state.db if state else Database.from_option("cpm.db")
            render.error(translate_db_error(exc, db), one_line=_quiet(ctx))
            raise typer.Exit(1) from exc


app = typer.Typer(
    cls=CpmGroup,
    name="cpm",
    help="Customer performance management: import customers and orders, see the numbers that matter.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"cpm {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        str, typer.Option("--db", envvar="CPM_DB", help="Database file (or SQLAlchemy URL).")
    ] = "cpm.db",
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="CPM_CONFIG", help="Settings file [default: ./cpm.toml if present]."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            metavar="zh|en",
            envvar="CPM_LANG",
            help="Language of what cpm prints: zh (中文) or en [default: language in cpm.toml, else the "
            "locale: zh_* is Chinese].",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Customer performance management for small shops."""
    chosen = None
    if lang is not None:
        chosen = i18n.parse_language(lang)
        if chosen is None:
            raise typer.BadParameter(
                f"{quoted_argument(lang)} is not a language cpm speaks; use zh or en", param_hint="--lang"
            )
    state = State(db=Database.from_option(db), config_path=config, quiet=quiet)
    ctx.obj = state
    i18n.use(chosen or state.configured_language() or i18n.language_of_locale(os.environ))


app.command("init")(db_cmd.init)
app.add_typer(db_cmd.app, name="db")
app.add_typer(import_cmd.app, name="import")
app.add_typer(import_cmd.imports_app, name="imports")
app.command("report")(report_cmd.report)
app.add_typer(customer_cmd.app, name="customer")
app.add_typer(config_cmd.app, name="config")
app.command("award")(points_cmd.award)
app.add_typer(points_cmd.app, name="points")
app.add_typer(order_cmd.app, name="order")


def run() -> None:
    """Entry point of the installed `cpm` script."""
    try:
        app()
    finally:
        # Closing the connections lets SQLite fold the write-ahead log back into the database and
        # remove it; left behind after a large write, the next command would first read all of it.
        dispose_engines()
