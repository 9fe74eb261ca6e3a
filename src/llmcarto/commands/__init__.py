"""Command groups beyond the core verbs, one module per concern.

Each module defines `register(app, export_app)` adding its commands to the main app and
to the `llmcarto export …` group; `cli.py` calls them in `COMMAND_MODULES` order. Commands
stay thin: they parse flags and call analysis or store functions.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from llmcarto.errors import InputError

COMMAND_MODULES: tuple[str, ...] = ("lineage", "hub", "licences", "git", "measures", "bench")


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
