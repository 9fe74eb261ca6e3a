"""The uniform envelope every source yields, and the contract a reader fulfils.

Like perceval's backends: one module per source, each a `Reader` that says which files
it understands (`detect`) and turns one file into `Record`s (a row for a table, with
its provenance) and `Skip`s (a bad record: where it was and why). A reader never
raises on a bad record and never drops one silently; it raises `InputError` only when
the file as a whole cannot be read.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


def utc_iso(value: Any) -> str | None:
    """An ISO 8601 time as text with its offset; a time without one is UTC (the Hub's)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


@dataclass(frozen=True)
class CsvRow:
    """One CSV record: its 1-based data row number (0: the header), loc and cells."""

    number: int
    loc: str  # "row 3 (line 5)": the line is the record's first physical line
    cells: list[str]


def csv_rows(ctx: ReadContext, *, spaces_are_blank: bool = False) -> Iterator[CsvRow | Skip]:
    """The header row, then every data row of a CSV file, or a Skip for a row that is bad.

    The first item is the header (or, for an empty file, one Skip); a header that does not
    parse, or a file that is not UTF-8, is unreadable as a whole (InputError). A row the
    csv module rejects, or whose number of fields differs from the header's, is a Skip and
    reading goes on. Blank rows (with `spaces_are_blank`, also rows of nothing but spaces)
    are not rows.
    """
    read_text(ctx)  # not UTF-8 → InputError for the whole file
    with ctx.path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            yield Skip(ctx.name, "line 1", "empty file: no header")
            return
        except csv.Error as exc:
            raise InputError(f"{ctx.name}: header does not parse as CSV ({exc})") from exc
        yield CsvRow(0, "line 1", header)
        number, end = 0, reader.line_num
        while True:
            start = end + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                yield Skip(ctx.name, f"row {number} (line {start})", f"CSV error: {exc}")
                if reader.line_num == end:  # no progress: the csv module cannot go on
                    return
                end = reader.line_num
                continue
            end = reader.line_num
            if not cells or (spaces_are_blank and not any(c.strip() for c in cells)):
                continue
            number += 1
            loc = f"row {number} (line {start})"
            if len(cells) != len(header):
                yield Skip(ctx.name, loc,
                           f"row has {len(cells)} fields, the header has {len(header)}")
                continue
            yield CsvRow(number, loc, cells)
