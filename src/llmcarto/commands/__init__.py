"""Command groups beyond the core verbs, one module per concern.

Each module defines `register(app, export_app)` adding its commands to the main app and
to the `llmcarto export …` group; `cli.py` calls them in `COMMAND_MODULES` order. Commands
stay thin: they parse flags and call analysis or store functions.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from llmcarto.errors import InputError

COMMAND_MODULES: tuple[str, ...] = ("lineage", "hub", "licences", "git", "measures", "bench")
GROUPS = {"collect": "Collect live data into the store.",
          "bench": "Benchmarks: print numbers, end with one JSON line."}


def command_group(app: typer.Typer, name: str) -> typer.Typer:
    """A group several modules add commands to (`collect`, `bench`): created by whichever
    module registers first, found by the others."""
    for group in app.registered_groups:
        if group.name == name and group.typer_instance is not None:
            return group.typer_instance
    sub = typer.Typer(help=GROUPS[name], no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def write_output(text: str, out: Path | None, summary: str | None = None) -> None:
    """Text to stdout, or to `out` with a one-line summary on stderr; a file that cannot be
    written is one clear error, never a traceback."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{out}: cannot write ({exc.strerror or exc})") from exc
    if summary:
        Console(stderr=True).print(f"{summary} written to {out}", highlight=False)
