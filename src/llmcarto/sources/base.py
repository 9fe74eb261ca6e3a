"""The uniform envelope every source yields, and the contract a reader fulfils.

Like perceval's backends: one module per source, each a `Reader` that says which files
it understands (`detect`) and turns one file into `Record`s (a row for a table, with
its provenance) and `Skip`s (a bad record: where it was and why). A reader never
raises on a bad record and never drops one silently; it raises `InputError` only when
the file as a whole cannot be read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llmcarto.errors import InputError


@dataclass(frozen=True)
class Record:
    """One row for `table`. `source_url` is where a person can check it; `loc` is where
    in the file it came from (``line 12``, ``commit 5 (line 340)``, ``row 7``)."""

    table: str
    row: Mapping[str, Any]
    source_url: str | None
    loc: str
    snapshot_date: str | None = None  # YYYY-MM-DD the data describes; None → the file's


@dataclass(frozen=True)
class Skip:
    """A record that could not be read whole: the file, where in it, and why.

    `kept=True` marks a problem reported on a record that was still kept in a degraded
    form (e.g. a card whose front matter only parses raw): reported, not lost."""

    file: str
    loc: str
    reason: str
    kept: bool = False


@dataclass(frozen=True)
class ReadContext:
    """What a reader knows about the file beyond its bytes."""

    path: Path
    name: str  # path relative to the import root, with '/' (e.g. git/allenai__OLMo/commits.log)
    snapshot_date: str | None = None  # when the bundle was taken, if known
    extras: Mapping[str, Any] = field(default_factory=dict)


class Reader(Protocol):
    """One source kind (`kind`), its tables and how to read its files."""

    kind: str
    description: str
    #: table name -> column definitions (DuckDB SQL, without provenance columns)
    tables: Mapping[str, str]

    def detect(self, name: str, head: bytes) -> bool:
        """True when a file named `name` (relative path) whose first bytes are `head` is ours."""
        ...

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        ...


def read_text(ctx: ReadContext) -> str:
    """The file as text; a file that is not UTF-8 is unreadable as a whole."""
    try:
        return ctx.path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{ctx.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from exc
    except OSError as exc:
        raise InputError(f"{ctx.name}: cannot read ({exc})") from exc
