"""`cpm config init|show`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from cpm.cli import render
from cpm.cli.state import State
from cpm.config import DEFAULT_CONFIG_NAME, default_file_text
from cpm.errors import Conflict, CpmError

app = typer.Typer(help="Write or show the settings (cpm.toml).", no_args_is_help=True)


@app.command("init")
def init(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path(DEFAULT_CONFIG_NAME),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a commented cpm.toml holding every setting at its default."""
    state: State = ctx.obj
    if path.exists() and not force:
        raise Conflict(
            f"{path} already exists", hint="Edit it, or pass --force to replace it with the defaults."
        )
    try:
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_text(default_file_text(), encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        raise CpmError(f"cannot write {path}: {exc.strerror}") from exc
    if not state.quiet:
        render.message(f"Wrote {path}. Edit it, then check it with `cpm config show`.")


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Print the effective settings, where they came from, and their version hash."""
    settings: State = ctx.obj
    values = settings.settings.as_dict()
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "source": settings.settings.source,
                    "version": settings.settings.version(),
                    "settings": values,
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
        return
    render.out.print(f"# source: {settings.settings.source}", markup=False)
    render.out.print(f"# version: {settings.settings.version()}", markup=False)
    for key, value in values.items():
        if isinstance(value, dict):
            render.out.print(f"[{key}]", markup=False)
            for inner, item in value.items():
                render.out.print(f"  {inner} = {json.dumps(item, ensure_ascii=False)}", markup=False)
        elif isinstance(value, list):
            render.out.print(f"{key} = {json.dumps(value, ensure_ascii=False)}", markup=False)
        else:
            render.out.print(f"{key} = {json.dumps(value, ensure_ascii=False)}", markup=False)
